"""Wiring a CLI to the host's MCP tasks server for one run.

When the runtime declares ``Capabilities(mcp=True)``, ``ctx.mcp_url`` is the host's tasks
server (Streamable HTTP) and ``ctx.mcp_token`` this run's bearer token. Most CLIs read their
MCP servers from a JSON file (Claude Code's ``--mcp-config``, Gemini CLI's
``settings.json``): :func:`write_mcp_config` writes that file, ``0600`` (it holds the token),
with the host's server as the **only** entry. For YAML/TOML configs use
:func:`mcp_server_entry` for the values.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from .files import write_private
from .types import RunContext

__all__ = ["MCP_SERVER_NAME", "mcp_server_entry", "write_mcp_config"]

#: The name the tasks server is attached under; tools show up as e.g.
#: ``mcp__clawboo-tasks__add_comment`` (Claude Code) or ``mcp_clawboo-tasks_add_comment``.
MCP_SERVER_NAME = "clawboo-tasks"


def mcp_server_entry(ctx: RunContext, *, url_key: str = "url", **extra: object) -> dict | None:
    """``{url_key: ctx.mcp_url, "headers": {"Authorization": "Bearer <token>"}, **extra}``,
    or ``None`` when the run has no MCP channel."""
    if not ctx.mcp_url:
        return None
    entry: dict = dict(extra)
    entry[url_key] = ctx.mcp_url
    if ctx.mcp_token:
        entry["headers"] = {"Authorization": f"Bearer {ctx.mcp_token}"}
    return entry


def write_mcp_config(
    path: Path,
    ctx: RunContext,
    *,
    base: Mapping | None = None,
    url_key: str = "url",
    key: str = "mcpServers",
    **extra: object,
) -> Path:
    """Write ``{**base, key: {"clawboo-tasks": entry}}`` as JSON to ``path``, mode ``0600``.

    ``base`` is the rest of the file (e.g. the user's own settings); whatever servers it had
    under ``key`` are replaced — a run's tools are the host's. Without MCP the servers are
    ``{}``. The parent directory is created ``0700``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    entry = mcp_server_entry(ctx, url_key=url_key, **extra)
    document = dict(base or {})
    document[key] = {MCP_SERVER_NAME: entry} if entry is not None else {}
    write_private(path, json.dumps(document, indent=2) + "\n")
    return path
