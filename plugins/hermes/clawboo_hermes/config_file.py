"""Attach and detach the host's MCP tasks server in ``$HERMES_HOME/config.yaml``.

Hermes reads MCP servers from the top-level ``mcp_servers:`` mapping of its config file.
We add one entry, ``clawboo-tasks``, for the length of a run and take it out afterwards,
touching nothing else in the file: no YAML library round-trip (which would drop the user's
comments and formatting), only line edits on a block we can recognise.

The entry we write is fenced by two comment lines::

    mcp_servers:
      # >>> clawboo-tasks (managed by clawboo, removed after the run)
      clawboo-tasks:
        url: "http://127.0.0.1:18790/api/mcp/tasks"
        headers:
          Authorization: "Bearer ..."
      # <<< clawboo-tasks

When the file had no ``mcp_servers:`` key the fence also wraps the key itself, so removing
the fenced lines restores the file exactly. An unfenced ``clawboo-tasks`` entry left under
``mcp_servers:`` (a tool that rewrote the file dropped our comments) is recognised by its
name and removed too, so a stale token never lingers and the key is never duplicated.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from clawboo_host.plugin_api.files import write_private

SERVER_NAME = "clawboo-tasks"
BEGIN = f"# >>> {SERVER_NAME} (managed by clawboo, removed after the run)"
END = f"# <<< {SERVER_NAME}"

_TOP_KEY = re.compile(r"^mcp_servers\s*:(?P<rest>.*)$")
_ENTRY_KEY = re.compile(
    r"""^(?P<indent>[ ]+)(?:clawboo-tasks|"clawboo-tasks"|'clawboo-tasks')\s*:"""
)
_MODEL_KEY = re.compile(r"^model\s*:\s*(?:#.*)?$")
_PROVIDER_KEY = re.compile(r"""^[ ]+provider\s*:\s*["']?(?P<value>[^"'#\s]+)""")


class UnsupportedConfig(Exception):
    """The file's ``mcp_servers`` is in a shape we do not edit (a non-empty flow mapping)."""


def _quote(value: str) -> str:
    """A YAML double-quoted scalar (JSON's escapes are a subset of YAML's)."""
    return json.dumps(value, ensure_ascii=True)


def _indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _is_content(line: str) -> bool:
    """A line that carries YAML content (not blank, not a comment)."""
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def _strip_comment(rest: str) -> str:
    return re.sub(r"\s+#.*$", "", rest).strip() if not rest.strip().startswith("#") else ""


def remove_entry(text: str) -> str:
    """``text`` without our fenced block(s) and without any ``clawboo-tasks`` entry
    directly under the top-level ``mcp_servers:`` mapping."""
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    i = 0
    while i < len(lines):
        if lines[i].strip() == BEGIN:
            end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == END), None)
            if end is not None:
                i = end + 1
                continue
            # A begin without its end: drop only the marker; the entry itself is found below.
            i += 1
            continue
        if lines[i].strip() == END:
            i += 1
            continue
        out.append(lines[i])
        i += 1
    return _remove_unfenced(out)


def _remove_unfenced(lines: list[str]) -> str:
    out: list[str] = []
    in_servers = False
    i = 0
    while i < len(lines):
        line = lines[i]
        if _is_content(line) and _indent_of(line) == 0:
            in_servers = bool(_TOP_KEY.match(line)) and not _strip_comment(
                _TOP_KEY.match(line).group("rest")
            )
        match = _ENTRY_KEY.match(line) if in_servers else None
        if match:
            indent = len(match.group("indent"))
            i += 1
            while i < len(lines) and (not _is_content(lines[i]) or _indent_of(lines[i]) > indent):
                if not lines[i].strip():  # keep a blank line that ends the entry
                    nxt = next((k for k in range(i, len(lines)) if _is_content(lines[k])), None)
                    if nxt is None or _indent_of(lines[nxt]) <= indent:
                        break
                i += 1
            continue
        out.append(line)
        i += 1
    return "".join(out)


def _entry_lines(indent: str, url: str, token: str) -> list[str]:
    return [
        f"{indent}{BEGIN}\n",
        f"{indent}{SERVER_NAME}:\n",
        f"{indent}  url: {_quote(url)}\n",
        f"{indent}  headers:\n",
        f"{indent}    Authorization: {_quote('Bearer ' + token)}\n",
        f"{indent}{END}\n",
    ]


def add_entry(text: str, url: str, token: str) -> str:
    """``text`` with our ``clawboo-tasks`` entry (any previous one replaced)."""
    lines = remove_entry(text).splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    for index, line in enumerate(lines):
        match = _TOP_KEY.match(line)
        if not match:
            continue
        rest = _strip_comment(match.group("rest"))
        if rest in ("", "{}", "null", "~"):
            if rest:  # an empty flow mapping / null: make it a block mapping
                lines[index] = "mcp_servers:\n"
            child = next((l for l in lines[index + 1 :] if _is_content(l)), None)
            width = _indent_of(child) if child is not None and _indent_of(child) > 0 else 2
            lines[index + 1 : index + 1] = _entry_lines(" " * width, url, token)
            return "".join(lines)
        raise UnsupportedConfig("mcp_servers in config.yaml is a flow mapping")
    block = [
        f"{BEGIN}\n",
        "mcp_servers:\n",
        *_entry_lines("  ", url, token)[1:-1],
        f"{END}\n",
    ]
    return "".join(lines + block)


def configured_provider(text: str) -> str | None:
    """``model: provider: X`` in a config.yaml text (a block-scoped line scan), else None."""
    in_model = False
    child_indent: int | None = None
    for line in text.splitlines():
        if not _is_content(line):
            continue
        if _indent_of(line) == 0:
            in_model = bool(_MODEL_KEY.match(line))
            child_indent = None
            continue
        if in_model:
            if child_indent is None:
                child_indent = _indent_of(line)
            if _indent_of(line) != child_indent:
                continue
            match = _PROVIDER_KEY.match(line)
            if match and match.group("value").lower() not in ("auto", "null", "~"):
                return match.group("value")
    return None


def attach(home: Path, url: str | None, token: str | None) -> None:
    """Put our entry in ``home/config.yaml`` (or take it out when there is no URL).

    Raises :class:`UnsupportedConfig` when the file's ``mcp_servers`` cannot be edited.
    """
    path = home / "config.yaml"
    try:
        original = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        original = None
    if url and token:
        write_private(path, add_entry(original or "", url, token))
    elif original is not None:
        detach(home)


def detach(home: Path) -> None:
    """Take our entry out of ``home/config.yaml``; delete the file if nothing else is left."""
    path = home / "config.yaml"
    try:
        original = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return
    cleaned = remove_entry(original)
    if cleaned == original:
        return
    if not cleaned.strip():
        path.unlink(missing_ok=True)
    else:
        write_private(path, cleaned)
