"""Keep Hermes from asking PyPI for a newer version on every start.

Hermes (``hermes_cli/banner.py: check_for_updates``, 0.19.0) starts a background update
check on every ``hermes chat``. It skips the network when ``$HERMES_HOME/.update_check``
holds a JSON object ``{"ts": <epoch seconds>, "behind": <int|null>, "rev": <str|null>,
"ver": <str>}`` with ``ts`` less than 6 hours old, ``rev`` equal to ``$HERMES_REVISION``
(null when unset) and ``ver`` equal to the installed Hermes version. We refresh that file
before each run.

The installed version is read from the ``hermes_agent-<ver>.dist-info`` directory of the
environment the resolved ``hermes`` script belongs to (a pipx venv, or the interpreter's
``--user`` site), without starting Python. When it cannot be found we keep the version
Hermes itself last wrote into the cache; with neither, Hermes checks once and writes the
real version, which later runs then reuse.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from pathlib import Path

CACHE_NAME = ".update_check"
_DIST_PREFIX = "hermes_agent-"
_DIST_SUFFIX = ".dist-info"


def _shebang_interpreter(script: Path) -> Path | None:
    try:
        with script.open("rb") as fh:
            first = fh.readline(512)
    except OSError:
        return None
    if not first.startswith(b"#!"):
        return None
    parts = first[2:].decode("utf-8", "replace").strip().split()
    if not parts or os.path.basename(parts[0]) == "env":
        return None
    return Path(parts[0])


def _versions_under(prefix: Path) -> list[str]:
    found = []
    for site in sorted(prefix.glob("lib/python3*/site-packages"), reverse=True):
        for dist in site.glob(f"{_DIST_PREFIX}*{_DIST_SUFFIX}"):
            found.append(dist.name[len(_DIST_PREFIX) : -len(_DIST_SUFFIX)])
    return found


def installed_version(bin_path: str | os.PathLike[str], env: Mapping[str, str]) -> str | None:
    """The Hermes version installed behind ``bin_path``, or ``None`` when unknown."""
    script = Path(bin_path)
    prefixes: list[Path] = [script.parent.parent]
    try:
        real = script.resolve()
    except OSError:
        real = script
    prefixes.append(real.parent.parent)
    interpreter = _shebang_interpreter(real)
    if interpreter is not None:
        prefixes.append(interpreter.parent.parent)
    home = env.get("HOME")
    if home:
        prefixes.append(Path(home) / ".local")  # pip --user
    seen: set[Path] = set()
    for prefix in prefixes:
        if prefix in seen:
            continue
        seen.add(prefix)
        versions = _versions_under(prefix)
        if versions:
            return versions[0]
    return None


def refresh(home: Path, version: str | None, env: Mapping[str, str]) -> None:
    """Write a fresh ``home/.update_check`` so Hermes skips its PyPI check."""
    path = home / CACHE_NAME
    cached: dict = {}
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(loaded, dict):
            cached = loaded
    except (OSError, ValueError):
        pass
    rev = env.get("HERMES_REVISION") or None
    if version is None and isinstance(cached.get("ver"), str):
        version = cached["ver"]
    behind = (
        cached.get("behind") if cached.get("ver") == version and cached.get("rev") == rev else None
    )
    if not isinstance(behind, int) or isinstance(behind, bool):
        behind = None
    payload = {"ts": time.time(), "behind": behind, "rev": rev, "ver": version}
    tmp = path.with_name(f"{CACHE_NAME}.clawboo-tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(payload))
    os.replace(tmp, path)
