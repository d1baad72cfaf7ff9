"""The run's ``$HERMES_HOME/config.yaml`` and ``.env``, made from the user's own at every run.

People point Hermes at their models in ``~/.hermes/config.yaml`` (``model: provider / base_url
/ default``, custom providers, fallbacks, toolsets) and keep its keys in ``~/.hermes/.env``.
A run uses a private ``HERMES_HOME``, so before every run:

- ``config.yaml`` is the user's (``$HERMES_HOME``, else ``~/.hermes``), parsed and written
  again with ``mcp_servers:`` replaced by the run's one entry, ``clawboo-tasks`` (URL plus
  the run's bearer token). After the run it is written once more without that entry, so
  the token does not outlive the run on disk. The user's comments are not kept in the
  copy; the user's file is only read.
- ``.env`` is a ``0600`` copy of the user's (or absent when they have none).

PyYAML does the parsing: a hand-rolled YAML editor would be more code and less right. It
is imported only when a config is read or written (a run), not when the host loads the
plugin: the import would add ~10 ms to every host start.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from clawboo_host.plugin_api.files import write_private

SERVER_NAME = "clawboo-tasks"
CONFIG_FILE = "config.yaml"
DOTENV_FILE = ".env"
HEADER = "# Written by clawboo before every run from your own config.yaml: edits are overwritten.\n"


class UserConfigError(Exception):
    """The user's own ``config.yaml`` exists but cannot be read or parsed."""


def _same_dir(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def load_user_config(user_home: Path, *, exclude: Path | None = None) -> dict:
    """The user's ``config.yaml`` as a mapping; ``{}`` when there is none (or it is the
    run's own home: the server was started with ``HERMES_HOME`` pointing at it)."""
    if exclude is not None and _same_dir(user_home, exclude):
        return {}
    path = user_home / CONFIG_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise UserConfigError(f"could not read your Hermes config {path}: {exc}") from None
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UserConfigError(f"your Hermes config {path} is not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserConfigError(f"your Hermes config {path} is not a mapping")
    return data


def _filled(value) -> bool:
    return isinstance(value, str) and bool(value.strip()) and value.strip().lower() != "auto"


def names_provider_or_model(config: Mapping) -> bool:
    """Whether the user's config picks the model or provider itself (then we pass no
    ``--provider``/``-m`` over it): ``model: <name>``, or ``model:`` with ``provider``,
    ``default``/``model`` or ``base_url``."""
    model = config.get("model")
    if isinstance(model, str):
        return _filled(model)
    if isinstance(model, Mapping):
        return any(_filled(model.get(k)) for k in ("provider", "default", "model", "base_url"))
    return False


def render(config: Mapping, url: str | None, token: str | None) -> str:
    """The run's ``config.yaml``: the user's settings, the host's MCP server as the only one."""
    data = dict(config)
    data.pop("mcp_servers", None)
    if url and token:
        data["mcp_servers"] = {
            SERVER_NAME: {"url": url, "headers": {"Authorization": f"Bearer {token}"}}
        }
    if not data:
        return HEADER
    import yaml

    return HEADER + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def write_config(home: Path, config: Mapping, url: str | None, token: str | None) -> Path:
    """Write ``<home>/config.yaml`` (``0600``)."""
    path = home / CONFIG_FILE
    write_private(path, render(config, url, token))
    return path


def carry_dotenv(user_home: Path, home: Path) -> list[str]:
    """Copy the user's ``.env`` into ``home`` (``0600``), or remove a stale copy.

    Returns the values it holds, so the run can redact them from what it reports.
    """
    dest = home / DOTENV_FILE
    source = user_home / DOTENV_FILE
    if _same_dir(user_home, home):
        return []
    try:
        data = source.read_bytes()
    except FileNotFoundError:
        dest.unlink(missing_ok=True)
        return []
    write_private(dest, data)
    return _dotenv_values(data.decode("utf-8", "replace"))


def _dotenv_values(text: str) -> list[str]:
    values = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        value = line.split("=", 1)[1].strip().strip("'\"")
        if value:
            values.append(value)
    return values


def user_is_configured(user_home: Path) -> bool:
    """The user set Hermes up themselves: their config picks a provider or model.

    Used for ``connectionState``: such a Hermes is ready without a key in our vault, as it
    is in their terminal. An unreadable config counts as not set up.
    """
    try:
        return names_provider_or_model(load_user_config(user_home))
    except UserConfigError:
        return False


__all__ = [
    "CONFIG_FILE",
    "DOTENV_FILE",
    "SERVER_NAME",
    "UserConfigError",
    "carry_dotenv",
    "load_user_config",
    "names_provider_or_model",
    "render",
    "user_is_configured",
    "write_config",
]
