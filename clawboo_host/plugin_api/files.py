"""Private files in a runtime's home: written atomically, never readable by others.

Runtimes keep credentials and run-scoped config (an MCP entry with the run's token, a copied
login) in their identity home. These helpers are the one way plugins write such files.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path


def private_dir(path: Path) -> Path:
    """Make ``path`` (and missing parents) a directory only its owner can enter: ``0700``,
    tightened when it already existed more open."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty if missing; either way leave it ``0600`` (owner read/write)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    return path


def write_private(path: Path, data: str | bytes) -> None:
    """Atomically replace ``path`` with ``data``, mode ``0600`` from the first byte."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def seed_credential_file(
    dest: Path, sources: Iterable[Path], usable: Callable[[Path], bool]
) -> bool:
    """Copy the user's login into a runtime home when the home has none usable, or an older one.

    ``sources`` are where the user's own CLI keeps it, in order; the first usable one is
    copied (``0600``); a source is never written. A newer copy in ``dest`` (the runtime
    refreshed its token there) is kept. Returns whether ``dest`` is usable afterwards.
    """
    source = next((p for p in sources if not _same_file(p, dest) and usable(p)), None)
    dest_ok = usable(dest)
    if source is not None:
        try:
            if not dest_ok or dest.stat().st_mtime < source.stat().st_mtime:
                write_private(dest, source.read_bytes())
                dest_ok = usable(dest)
        except OSError:
            pass  # an unreadable source or an unwritable home: judged by what is there
    if dest_ok:
        with contextlib.suppress(OSError):
            if dest.stat().st_mode & 0o077:
                os.chmod(dest, 0o600)
    return dest_ok
