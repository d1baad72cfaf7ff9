"""Provider-key resolution: which key a runtime sees, and from where (api-contract §5.4).

Unscoped chain, highest priority first: the process environment (trimmed; blank = absent)
→ the vault (not trimmed) → OpenClaw's ``.env``, so an existing shell or OpenClaw setup is
reused without a connect. After an explicit disconnect a runtime resolves **vault only**:
the user said "don't use my ambient keys for this runtime", and we must honour that even
though the shell still exports them.

This is the one module that turns a key *name* into a *value*; callers hand the value
straight to a child process env (``grants_for_runtime``) and never log or return it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from .reference_compat import OPENCLAW_STATE_DIR_NAMES, OPENCLAW_STATE_DIR_OVERRIDES
from .vault import Vault

__all__ = ["KeyResolver", "openclaw_state_dir", "read_dotenv", "read_dotenv_var"]


def _expand_user(raw: str, home: Path) -> Path:
    """``~`` / ``~/x`` against ``home`` (not the process HOME), then made absolute."""
    text = raw.strip()
    if text == "~" or text.startswith(("~/", "~\\")):
        text = str(home) + text[1:]
    return Path(os.path.abspath(text))


def openclaw_state_dir(env: Mapping[str, str], home: Path) -> Path:
    """OpenClaw's state dir: an override env var, else the first existing legacy dir.

    Without an override and with none of ``~/.openclaw``, ``~/.clawdbot``, ``~/.moltbot``
    present, it is ``~/.openclaw`` (which then simply has no ``.env``).
    """
    for name in OPENCLAW_STATE_DIR_OVERRIDES:
        value = (env.get(name) or "").strip()
        if value:
            return _expand_user(value, home)
    for dirname in OPENCLAW_STATE_DIR_NAMES:
        candidate = home / dirname
        try:
            if candidate.exists():
                return candidate
        except OSError:
            continue
    return home / OPENCLAW_STATE_DIR_NAMES[0]


def read_dotenv(path: Path) -> dict[str, str]:
    """Every ``name: value`` of a ``.env`` file, read the way OpenClaw's is: a name's first
    non-empty value counts.

    Lines are trimmed; ``#`` comments and lines without ``=`` are skipped; key and value are
    split on the first ``=`` and trimmed; quotes are kept verbatim (the reference does not
    strip them, and a key must resolve identically on both servers).
    """
    try:
        content = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    values: dict[str, str] = {}
    for line in content.split("\n"):
        text = line.strip()
        if text.startswith("#") or "=" not in text:
            continue
        key, _, value = text.partition("=")
        value = value.strip()
        if value:
            values.setdefault(key.strip(), value)
    return values


def read_dotenv_var(path: Path, name: str) -> str | None:
    """The first non-empty ``name=value`` in a ``.env`` file (:func:`read_dotenv`)."""
    return read_dotenv(path).get(name)


class KeyResolver:
    """Resolve provider keys through env → vault → OpenClaw ``.env``, per runtime.

    ``env`` defaults to ``os.environ`` and ``home`` to ``Path.home()``, both looked up at call
    time so tests (and a changed environment) take effect without rebuilding the resolver.
    """

    def __init__(
        self,
        vault: Vault,
        env: Mapping[str, str] | None = None,
        home: str | os.PathLike[str] | None = None,
    ):
        self.vault = vault
        self._env = env
        self._home = Path(home) if home is not None else None

    def _environ(self) -> Mapping[str, str]:
        return os.environ if self._env is None else self._env

    def home_dir(self) -> Path:
        return self._home if self._home is not None else Path.home()

    # ── sources ──────────────────────────────────────────────────────────────────
    def from_vault(self, name: str) -> str | None:
        # Not trimmed: the vault holds exactly what the user connected.
        return self.vault.get(name) or None

    def openclaw_env_path(self) -> Path:
        return openclaw_state_dir(self._environ(), self.home_dir()) / ".env"

    # ── chains ───────────────────────────────────────────────────────────────────
    def resolve(self, name: str) -> str | None:
        """Unscoped chain: env → vault → OpenClaw ``.env``.

        Used where ambient keys are deliberately allowed even for a disconnected runtime
        (connect's keyless reuse, healthcheck's stored-key fallback).
        """
        return self.resolve_many([name]).get(name)

    def resolve_many(self, names: Iterable[str]) -> dict[str, str]:
        """:meth:`resolve` for several names, each source read once: ``{name: value}`` for
        those that resolve."""
        env = self._environ()
        found: dict[str, str] = {}
        rest = []
        for name in dict.fromkeys(names):
            value = (env.get(name) or "").strip()
            if value:
                found[name] = value
            else:
                rest.append(name)
        in_vault = self.vault.get_many(rest) if rest else {}
        dotenv: dict[str, str] | None = None
        for name in rest:
            value = in_vault.get(name)
            if not value:
                if dotenv is None:
                    dotenv = read_dotenv(self.openclaw_env_path())
                value = dotenv.get(name)
            if value:
                found[name] = value
        return found

    def resolve_for_runtime(self, runtime_id: str, name: str) -> str | None:
        """Runtime-scoped chain: vault only once ``runtime_id`` is disconnected, else unscoped."""
        if self.vault.is_disconnected(runtime_id):
            return self.from_vault(name)
        return self.resolve(name)

    def has_for_runtime(self, runtime_id: str, name: str) -> bool:
        return self.resolve_for_runtime(runtime_id, name) is not None

    def has_in_vault(self, name: str) -> bool:
        """A decryptable value in the vault itself; ambient env and ``.env`` are ignored."""
        return self.from_vault(name) is not None

    def grants_for_runtime(self, runtime_id: str, names: Iterable[str]) -> dict[str, str]:
        """``{name: value}`` for every name that resolves runtime-scoped — a spawn's key grant.

        Names that resolve to nothing are omitted, so the child env simply lacks them.
        """
        if self.vault.is_disconnected(runtime_id):
            return {n: v for n, v in self.vault.get_many(names).items() if v}
        return self.resolve_many(names)
