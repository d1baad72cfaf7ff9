"""The ``CODEX_HOME`` a run gets: the user's ChatGPT login seeded in, our ``config.toml`` written.

Codex keeps everything under ``CODEX_HOME``: ``auth.json`` (the ``codex login``
credentials), ``config.toml``, session rollouts (what ``codex exec resume`` reads), logs and
caches. A run never uses the user's own ``~/.codex``: it uses the per-identity home the host
gives it (``ctx.home_dir``), or a throw-away one in the run's scratch dir.

- :func:`seed_auth` copies the user's ``auth.json`` into that home (``0600``) when the home
  has no usable one or an older one. The source is never written. The source is
  ``$CODEX_HOME/auth.json`` of the server environment, else ``~/.codex/auth.json``.
- :func:`write_config` rewrites ``config.toml`` in full before every run: the features that
  make an offline start hang switched off, and the host's MCP tasks server as
  ``[mcp_servers.clawboo-tasks]`` (or no MCP entry at all when the run has none, so a stale
  one never survives). The bearer token is not in the file: codex reads it from the env var
  named by ``bearer_token_env_var``, set only in the child's environment.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from clawboo_host.plugin_api.files import seed_credential_file, write_private

__all__ = [
    "AUTH_FILE",
    "CONFIG_FILE",
    "MCP_SERVER_NAME",
    "MCP_TOKEN_ENV",
    "auth_sources",
    "auth_usable",
    "render_config",
    "seed_auth",
    "write_config",
]

AUTH_FILE = "auth.json"
CONFIG_FILE = "config.toml"
#: The name the MCP tasks server is attached under (tool calls arrive as ``server: ...``).
MCP_SERVER_NAME = "clawboo-tasks"
#: The child env var holding the run's MCP bearer token (``bearer_token_env_var``).
MCP_TOKEN_ENV = "CLAWBOO_MCP_TOKEN"

#: Offline, codex tries to sync plugins/apps at start-up unless these are off.
_DISABLED_FEATURES = ("plugins", "remote_plugin", "apps")


# --------------------------------------------------------------------------- auth


def auth_usable(path: Path) -> bool:
    """A parse-valid ``auth.json`` with a non-empty access or refresh token, or an API key."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(data, dict):
        return False
    tokens = data.get("tokens")
    if isinstance(tokens, dict):
        for name in ("access_token", "refresh_token"):
            value = tokens.get(name)
            if isinstance(value, str) and value.strip():
                return True
    key = data.get("OPENAI_API_KEY")
    return isinstance(key, str) and bool(key.strip())


def auth_sources(env: Mapping[str, str]) -> list[Path]:
    """Where the user's ``codex login`` may live, in order: ``$CODEX_HOME`` of the server
    environment, then ``~/.codex`` (``HOME`` from the same environment)."""
    sources: list[Path] = []
    codex_home = (env.get("CODEX_HOME") or "").strip()
    if codex_home:
        sources.append(Path(codex_home).expanduser() / AUTH_FILE)
    home = (env.get("HOME") or "").strip()
    if home:
        sources.append(Path(home) / ".codex" / AUTH_FILE)
    return sources


def seed_auth(codex_home: Path, env: Mapping[str, str]) -> bool:
    """Copy the user's login into ``codex_home`` when it has none usable, or an older one.

    Returns whether ``codex_home`` holds a usable ``auth.json`` afterwards. A login codex
    refreshed inside ``codex_home`` (newer than the source) is kept.
    """
    return seed_credential_file(codex_home / AUTH_FILE, auth_sources(env), auth_usable)


# --------------------------------------------------------------------------- config


def _toml_string(value: str) -> str:
    """A TOML basic string (escapes quotes, backslashes and every control character)."""
    out = ['"']
    for ch in value:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def render_config(mcp_url: str | None, *, bearer_token: bool) -> str:
    """The whole ``config.toml`` for one run.

    With ``mcp_url``: a ``[mcp_servers.clawboo-tasks]`` Streamable HTTP entry; with
    ``bearer_token`` it names :data:`MCP_TOKEN_ENV` as ``bearer_token_env_var`` (codex sends
    ``Authorization: Bearer <value of that var>``).
    """
    lines = [
        "# Written by clawboo before every run of this identity: edits are overwritten.",
        "",
        "[features]",
        *(f"{name} = false" for name in _DISABLED_FEATURES),
    ]
    if mcp_url:
        lines += ["", f"[mcp_servers.{MCP_SERVER_NAME}]", f"url = {_toml_string(mcp_url)}"]
        if bearer_token:
            lines.append(f"bearer_token_env_var = {_toml_string(MCP_TOKEN_ENV)}")
    return "\n".join(lines) + "\n"


def write_config(codex_home: Path, mcp_url: str | None, *, bearer_token: bool) -> Path:
    """Rewrite ``<codex_home>/config.toml`` (``0600``) and return its path."""
    path = codex_home / CONFIG_FILE
    write_private(path, render_config(mcp_url, bearer_token=bearer_token).encode("utf-8"))
    return path
