"""The ``CODEX_HOME`` a run gets: the user's ChatGPT login seeded in, our ``config.toml`` written.

Codex keeps everything under ``CODEX_HOME``: ``auth.json`` (the ``codex login``
credentials), ``config.toml``, session rollouts (what ``codex exec resume`` reads), logs and
caches. A run never uses the user's own ``~/.codex``: it uses the per-identity home the host
gives it (``ctx.home_dir``), or a throw-away one in the run's scratch dir.

- :func:`seed_auth` copies the user's ``auth.json`` into that home (``0600``) when the home
  has no usable one or an older one. The source is never written. The source is
  ``$CODEX_HOME/auth.json`` of the server environment, else ``~/.codex/auth.json``.
- :func:`write_config` makes ``config.toml`` afresh before every run from the user's own
  (``$CODEX_HOME/config.toml``, else ``~/.codex/config.toml``): their model, model provider,
  ``[model_providers.*]``, ``[profiles.*]`` and every other setting carried over, so a run
  reaches their gateway exactly as ``codex`` in their terminal does. Their
  ``[mcp_servers.*]`` are dropped and the host's MCP tasks server is the only one
  (``[mcp_servers.clawboo-tasks]``; none when the run has no MCP channel): a run's tools are
  the host's. The features that make an offline start hang are switched off unless the user
  set them. The bearer token is not in the file: codex reads it from the env var named by
  ``bearer_token_env_var``, set only in the child's environment.
- :func:`selected_provider` says which model provider that config selects and what
  credential it needs (``auth.json``/``OPENAI_API_KEY``, the provider's ``env_key``, or none
  for a local server).
"""

from __future__ import annotations

import copy
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import tomli_w

from clawboo_host.plugin_api.files import seed_credential_file, write_private

__all__ = [
    "AUTH_FILE",
    "CONFIG_FILE",
    "MCP_SERVER_NAME",
    "MCP_TOKEN_ENV",
    "auth_sources",
    "ProviderChoice",
    "UserConfigError",
    "auth_usable",
    "load_user_config",
    "render_config",
    "selected_provider",
    "user_codex_home",
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


def user_codex_home(env: Mapping[str, str]) -> Path | None:
    """The user's own codex home, as codex itself picks it: ``$CODEX_HOME``, else ``~/.codex``."""
    codex_home = (env.get("CODEX_HOME") or "").strip()
    if codex_home:
        return Path(codex_home).expanduser()
    home = (env.get("HOME") or "").strip()
    return Path(home) / ".codex" if home else None


def seed_auth(codex_home: Path, env: Mapping[str, str]) -> bool:
    """Copy the user's login into ``codex_home`` when it has none usable, or an older one.

    Returns whether ``codex_home`` holds a usable ``auth.json`` afterwards. A login codex
    refreshed inside ``codex_home`` (newer than the source) is kept.
    """
    return seed_credential_file(codex_home / AUTH_FILE, auth_sources(env), auth_usable)




# --------------------------------------------------------------------------- the user's config


class UserConfigError(Exception):
    """The user's own ``config.toml`` exists but cannot be read or parsed."""


def load_user_config(env: Mapping[str, str], *, exclude: Path | None = None) -> dict:
    """The user's ``config.toml`` as a dict; ``{}`` when they have none.

    ``exclude`` is the run's own home: when the server's ``CODEX_HOME`` points at it (the
    host was started from inside a run), there is no separate user config to read.
    """
    user_home = user_codex_home(env)
    if user_home is None:
        return {}
    path = user_home / CONFIG_FILE
    if exclude is not None and _same_dir(user_home, exclude):
        return {}
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise UserConfigError(f"could not read your Codex config {path}: {exc}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserConfigError(f"your Codex config {path} is not valid TOML: {exc}") from None


def _same_dir(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


#: Model providers built into codex that talk to a local server and need no credential.
KEYLESS_BUILTIN_PROVIDERS = frozenset({"oss", "ollama", "lmstudio"})


@dataclass(frozen=True)
class ProviderChoice:
    """The model provider a codex config selects, and the credential it needs.

    ``openai_auth``: the ``codex login`` (``auth.json``) or ``OPENAI_API_KEY``/``CODEX_API_KEY``
    (the built-in ``openai`` provider, or a custom one with ``requires_openai_auth``).
    ``env_key``: the variable holding the provider's key (a custom provider's ``env_key``).
    Neither: a provider that needs no credential (a local model server).
    """

    id: str
    openai_auth: bool
    env_key: str | None = None

    @property
    def keyless(self) -> bool:
        return not self.openai_auth and self.env_key is None


def selected_provider(config: Mapping) -> ProviderChoice:
    """Which provider ``config`` selects: the active profile's ``model_provider``, else the
    top-level one, else ``openai`` (codex's own default)."""
    provider_id = config.get("model_provider")
    profile = config.get("profile")
    profiles = config.get("profiles")
    if isinstance(profile, str) and isinstance(profiles, Mapping):
        chosen = profiles.get(profile)
        if isinstance(chosen, Mapping) and isinstance(chosen.get("model_provider"), str):
            provider_id = chosen["model_provider"]
    if not isinstance(provider_id, str) or not provider_id.strip():
        provider_id = "openai"
    providers = config.get("model_providers")
    table = providers.get(provider_id) if isinstance(providers, Mapping) else None
    if not isinstance(table, Mapping):
        if provider_id in KEYLESS_BUILTIN_PROVIDERS:
            return ProviderChoice(provider_id, openai_auth=False)
        return ProviderChoice(provider_id, openai_auth=True)
    env_key = table.get("env_key")
    if isinstance(env_key, str) and env_key.strip():
        return ProviderChoice(provider_id, openai_auth=False, env_key=env_key.strip())
    return ProviderChoice(provider_id, openai_auth=bool(table.get("requires_openai_auth")))


def render_config(user_config: Mapping, mcp_url: str | None, *, bearer_token: bool) -> str:
    """The whole ``config.toml`` for one run: the user's settings, the host's MCP server.

    With ``mcp_url``: a ``[mcp_servers.clawboo-tasks]`` Streamable HTTP entry; with
    ``bearer_token`` it names :data:`MCP_TOKEN_ENV` as ``bearer_token_env_var`` (codex sends
    ``Authorization: Bearer <value of that var>``).
    """
    config = copy.deepcopy(dict(user_config))
    config.pop("mcp_servers", None)
    features = config.get("features")
    if not isinstance(features, dict):
        features = config["features"] = {}
    for name in _DISABLED_FEATURES:
        features.setdefault(name, False)
    if mcp_url:
        entry = {"url": mcp_url}
        if bearer_token:
            entry["bearer_token_env_var"] = MCP_TOKEN_ENV
        config["mcp_servers"] = {MCP_SERVER_NAME: entry}
    header = (
        "# Written by clawboo before every run from your own config.toml: edits are "
        "overwritten.\n\n"
    )
    return header + tomli_w.dumps(config)


def write_config(
    codex_home: Path, user_config: Mapping, mcp_url: str | None, *, bearer_token: bool
) -> Path:
    """Rewrite ``<codex_home>/config.toml`` (``0600``) and return its path."""
    path = codex_home / CONFIG_FILE
    text = render_config(user_config, mcp_url, bearer_token=bearer_token)
    write_private(path, text.encode("utf-8"))
    return path
