"""Has anything changed under these paths? One non-blocking ``read`` instead of a ``stat`` each.

Linux inotify through libc (no dependency). The kernel queues an event while the changing
call (a write, a rename, a ``chmod``) is still running, so once that call has returned the
next :meth:`FsChanges.changed` sees it: nothing is missed between two checks. Where inotify
is unavailable (another OS, no watches left) the caller stats every path itself.

A missing path is watched through the nearest existing directory above it (it cannot appear
without an entry being made there). A path that is a symlink, or a file in a symlinked
directory, is not watched (a watch follows the link to its target, so re-pointing it would
go unseen): such paths are handed back for the caller to keep stat'ing. Symlinks higher up
(``/home`` → elsewhere) are taken as fixed while the host runs.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import stat
import sys
from collections.abc import Iterable

log = logging.getLogger(__name__)

_IN_NONBLOCK = os.O_NONBLOCK
_IN_CLOEXEC = os.O_CLOEXEC
_IN_MODIFY = 0x002
_IN_ATTRIB = 0x004
_IN_MOVED_FROM = 0x040
_IN_MOVED_TO = 0x080
_IN_CREATE = 0x100
_IN_DELETE = 0x200
_IN_DELETE_SELF = 0x400
_IN_MOVE_SELF = 0x800
_IN_MASK_ADD = 0x20000000  # a second watch on one inode adds to its mask, never narrows it
#: Everything that changes a path's own stat, or (for a dir) its entries' stats.
_MASK = (
    _IN_MODIFY
    | _IN_ATTRIB
    | _IN_MOVED_FROM
    | _IN_MOVED_TO
    | _IN_CREATE
    | _IN_DELETE
    | _IN_DELETE_SELF
    | _IN_MOVE_SELF
)
#: For the nearest existing dir above a missing path: the path appearing (or that dir going).
_APPEAR_MASK = _IN_CREATE | _IN_MOVED_TO | _IN_DELETE_SELF | _IN_MOVE_SELF

_libc = None


def _inotify():
    global _libc
    if _libc is None and sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.inotify_init1.argtypes = [ctypes.c_int]
            libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
            _libc = libc
        except (OSError, AttributeError):
            _libc = False
    return _libc or None


class FsChanges:
    """An inotify instance watching some paths; :meth:`changed` drains its queue."""

    def __init__(self, libc, fd: int) -> None:
        self._libc = libc
        self._fd = fd

    @classmethod
    def open(cls) -> FsChanges | None:
        """A new watcher, or ``None`` where inotify is unavailable."""
        libc = _inotify()
        fd = libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC) if libc else -1
        return cls(libc, fd) if fd >= 0 else None

    def add(self, paths: Iterable[str]) -> list[str] | None:
        """Watch each path: an existing one itself (a file together with its directory, which
        sees it replaced), a missing one through the nearest existing directory above it
        (which sees it appear). Return the paths left unwatched (symlinks on the way); ``None``
        when the system's watch limit is reached: the watcher is then closed and of no use."""
        unwatched: list[str] = []
        for path in map(os.path.abspath, paths):
            targets = self._targets(path)
            for target, mask in targets or ():
                if self._libc.inotify_add_watch(self._fd, os.fsencode(target), mask) < 0:
                    if ctypes.get_errno() == errno.ENOSPC:
                        log.warning("inotify watch limit reached: status checks stat every path")
                        self.close()
                        return None
                    targets = None
                    break
            if not targets:
                unwatched.append(path)
        return unwatched

    @staticmethod
    def _targets(path: str) -> list[tuple[str, int]] | None:
        """What to watch for ``path``, or ``None`` when a symlink is in the way (a watch
        follows it to its target, so re-pointing the link would go unseen)."""
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            above = os.path.dirname(path)
            while above != path:
                path, above = above, os.path.dirname(above)
                try:
                    mode = os.lstat(path).st_mode
                except FileNotFoundError:
                    continue
                except OSError:
                    return None
                ok = stat.S_ISDIR(mode) and not stat.S_ISLNK(mode)
                return [(path, _APPEAR_MASK | _IN_MASK_ADD)] if ok else None
            return None
        except OSError:
            return None
        if stat.S_ISLNK(mode):
            return None
        if stat.S_ISDIR(mode):
            return [(path, _MASK | _IN_MASK_ADD)]
        parent = os.path.dirname(path)
        if os.path.islink(parent):
            return None
        return [(path, _MASK | _IN_MASK_ADD), (parent, _MASK | _IN_MASK_ADD)]

    def changed(self) -> bool:
        """True when any event arrived since the last call (also an overflow, or a watch
        dropped because its path went); always True once closed."""
        if self._fd < 0:
            return True
        seen = False
        while True:
            try:
                if not os.read(self._fd, 65536):
                    return seen
            except BlockingIOError:
                return seen
            seen = True

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
