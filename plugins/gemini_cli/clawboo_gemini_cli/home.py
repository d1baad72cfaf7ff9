"""The ``GEMINI_CLI_HOME`` a run gets: the user's own settings, the host's MCP server.

Gemini CLI keeps everything under ``$GEMINI_CLI_HOME/.gemini/`` (default: ``~/.gemini``):
``settings.json`` (auth type, model, MCP servers, trust...), ``oauth_creds.json`` (a "Login
with Google"), session chats and caches. A run never uses the user's own one: it gets a
private home in its scratch dir (deleted with the run, so the file holding the run's bearer
token goes too) with:

- ``settings.json`` (``0600``) made from the user's own (``$GEMINI_CLI_HOME/.gemini`` of the
  server environment, else ``~/.gemini``): every setting carried over (model, auth type,
  tools, privacy...), ``mcpServers`` **replaced** by the host's tasks server alone (with the
  ``Authorization: Bearer`` header), the user's ``mcp.allowed``/``mcp.excluded`` lists dropped
  (they would filter it out), ``security.auth.selectedType`` set to ``gemini-api-key`` when
  the user chose none (headless Gemini refuses to start without one; with it, a missing
  ``GEMINI_API_KEY`` gets the CLI's own clear message), and auto-update off unless the user
  set it (a run must not start a background ``npm install``);
- ``oauth_creds.json`` copied from the user's when it is usable and newer (never written
  back).

``settings.json`` may hold comments (Gemini reads it as JSONC); they are not kept in the
run's copy.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from pathlib import Path

from clawboo_host.plugin_api.files import seed_credential_file
from clawboo_host.plugin_api.mcp import write_mcp_config
from clawboo_host.plugin_api.types import RunContext

__all__ = [
    "SETTINGS_FILE",
    "UserSettingsError",
    "has_google_login",
    "load_user_settings",
    "run_settings",
    "user_gemini_dir",
    "write_home",
]

SETTINGS_FILE = "settings.json"
OAUTH_FILE = "oauth_creds.json"
API_KEY_AUTH = "gemini-api-key"
OAUTH_AUTH = "oauth-personal"
_COMMENTS = re.compile(r'("(?:\\.|[^"\\])*")|//[^\n]*|/\*.*?\*/', re.S)


class UserSettingsError(Exception):
    """The user's ``settings.json`` cannot be read as JSON: the run fails with this message."""


def user_gemini_dir(env: Mapping[str, str]) -> Path | None:
    """The user's own ``.gemini`` dir: ``$GEMINI_CLI_HOME/.gemini``, else ``$HOME/.gemini``."""
    base = env.get("GEMINI_CLI_HOME") or env.get("HOME")
    return Path(base) / ".gemini" if base else None


def _parse_jsonc(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        stripped = _COMMENTS.sub(lambda m: m.group(1) or "", text)
        stripped = re.sub(r",(\s*[}\]])", r"\1", stripped)  # trailing commas
        return json.loads(stripped)


def load_user_settings(env: Mapping[str, str], *, exclude: Path | None = None) -> dict:
    """The user's ``settings.json`` as a dict (``{}`` when there is none).

    ``exclude`` is the run's own home: a server whose ``GEMINI_CLI_HOME`` points there is not
    read back as the user's.
    """
    directory = user_gemini_dir(env)
    if directory is None:
        return {}
    path = directory / SETTINGS_FILE
    if exclude is not None and path.parent.parent == exclude:
        return {}
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise UserSettingsError(f"could not read {path}: {exc.strerror or exc}") from exc
    try:
        data = _parse_jsonc(text)
    except ValueError as exc:
        raise UserSettingsError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise UserSettingsError(f"{path} is not a JSON object")
    return data


def _section(settings: dict, name: str) -> dict:
    value = settings.get(name)
    if not isinstance(value, dict):
        value = {}
        settings[name] = value
    return value


def run_settings(user: Mapping) -> dict:
    """The run's settings (without ``mcpServers``, which :func:`write_home` adds)."""
    settings = copy.deepcopy(dict(user))
    settings.pop("mcpServers", None)
    mcp = settings.get("mcp")
    if isinstance(mcp, dict):
        mcp.pop("allowed", None)
        mcp.pop("excluded", None)
    auth = _section(_section(settings, "security"), "auth")
    auth.setdefault("selectedType", API_KEY_AUTH)
    general = _section(settings, "general")
    general.setdefault("enableAutoUpdate", False)
    general.setdefault("enableAutoUpdateNotification", False)
    return settings


def _oauth_usable(path: Path) -> bool:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and bool(data.get("refresh_token") or data.get("access_token"))


def has_google_login(env: Mapping[str, str]) -> bool:
    """The user's own Gemini selects "Login with Google" and holds a usable login."""
    directory = user_gemini_dir(env)
    if directory is None or not _oauth_usable(directory / OAUTH_FILE):
        return False
    try:
        settings = load_user_settings(env)
    except UserSettingsError:
        return False
    auth = (settings.get("security") or {}).get("auth") or {}
    return isinstance(auth, dict) and auth.get("selectedType") == OAUTH_AUTH


def write_home(home: Path, ctx: RunContext, user: Mapping) -> Path:
    """Make ``<home>/.gemini`` for the run; returns the ``settings.json`` written."""
    gemini_dir = home / ".gemini"
    gemini_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    user_dir = user_gemini_dir(ctx.env)
    if user_dir is not None:
        seed_credential_file(gemini_dir / OAUTH_FILE, [user_dir / OAUTH_FILE], _oauth_usable)
    return write_mcp_config(
        gemini_dir / SETTINGS_FILE,
        ctx,
        base=run_settings(user),
        url_key="httpUrl",
        trust=True,
    )
