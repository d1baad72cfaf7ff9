"""``GET /api/runtimes`` served from memory: a warm snapshot of :class:`StatusService` results.

Computing every runtime's status (binary lookups, vault reads, plugin health and auth hooks)
costs milliseconds and many thread hand-offs; the list is read far more often than what it
depends on changes. The snapshot (the rows and their encoded JSON) is reused while its
*fingerprint* is unchanged and it is younger than the auth-probe TTL:

- what the host changes: install, connect and disconnect call :meth:`StatusSnapshot.invalidate`;
- the vault's files (keys, disconnect flags, master key) and OpenClaw's ``.env``: their stat
  (inode, size, mtime, ctime), so a key written by another process counts too;
- the directories binaries are looked up in (``PATH`` and the user-install dirs): their
  mtime/ctime, so a CLI that appears or goes is seen by the next request;
- OpenClaw's candidate state dirs (``~/.openclaw`` …), which decide where its ``.env`` is.

The paths themselves are worked out once (again only when the environment or one of those
stats changes: npm's bin dir and OpenClaw's ``.env`` are lookups), and are watched through
inotify (:mod:`.fs_changes`): while no event came, the last fingerprint stands and a request
costs one ``read`` plus a ``stat`` of each path that cannot be watched (a symlink). Without
inotify every path is stat'ed on every request.
- the auth-probe TTL (``CLAWBOO_STATUS_TTL_S``, default 5 s, ``0`` = always recompute): what
  plugins probe outside the host (CLI logins, a gateway config) is at most that old. An
  expired snapshot is still served while one refresh runs in the background, so a slow
  plugin probe never sits on a request once the snapshot is warm.

A changed fingerprint recomputes on the request (one computation shared by concurrent
requests), so the host's own changes are never served stale.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass

from .fs_changes import FsChanges
from .keys import KeyResolver
from .plugin_api.binaries import npm_global_bin_dir
from .plugin_api.settings import positive_float
from .reference_compat import OPENCLAW_STATE_DIR_NAMES, OPENCLAW_STATE_DIR_OVERRIDES
from .status import RuntimeStatus, StatusService

log = logging.getLogger(__name__)

DEFAULT_TTL_S = 5.0
#: The environment variables the watched paths are worked out from.
_ENV_INPUTS = (
    "PATH",
    "HOME",
    "NPM_CONFIG_PREFIX",
    "npm_config_prefix",
    *OPENCLAW_STATE_DIR_OVERRIDES,
)


def _stat_key(path: str | os.PathLike[str]) -> tuple | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_mode)


@dataclass(frozen=True)
class Snapshot:
    rows: list[RuntimeStatus]
    body: bytes  # the encoded list response
    fingerprint: tuple
    taken_at: float


class StatusSnapshot:
    """Wraps a :class:`StatusService`; :meth:`list_body` is the encoded list response."""

    def __init__(
        self,
        status: StatusService,
        keys: KeyResolver,
        env: Mapping[str, str],
        encode,
    ) -> None:
        self.status = status
        self.keys = keys
        self.env = env
        self._encode = encode  # rows -> the JSON-able response
        self.ttl_s = self._ttl(env)
        self._generation = 0
        self._snapshot: Snapshot | None = None
        self._computing: asyncio.Task | None = None
        self._refreshing: asyncio.Task | None = None
        self._env_key: tuple | None = None
        self._input_paths: tuple[str, ...] = ()
        self._derived_key: tuple | None = None
        self._derived_paths: tuple[str, ...] = ()
        self._changes: FsChanges | None = None
        self._unwatched: tuple[str, ...] = ()
        self._unwatched_stats: tuple = ()
        self._fingerprint: tuple = ()

    @staticmethod
    def _ttl(env: Mapping[str, str]) -> float:
        try:
            if float((env.get("CLAWBOO_STATUS_TTL_S") or "").strip()) == 0:
                return 0.0
        except ValueError:
            pass
        return positive_float(env, "CLAWBOO_STATUS_TTL_S", DEFAULT_TTL_S)

    def invalidate(self) -> None:
        """Something the status depends on changed (install, connect, disconnect)."""
        self._generation += 1

    def _inputs(self) -> tuple[str, ...]:
        """What is stat'ed on every request, worked out once per environment: the vault's
        files, the ``PATH`` dirs (each once), ``~/.local/bin`` and OpenClaw's state dirs."""
        vault = self.keys.vault
        paths = [vault.dir, vault.keys_path, vault.disconnected_path, vault.master_key_path]
        paths += [d for d in (self.env.get("PATH") or "").split(os.pathsep) if d]
        home = self.env.get("HOME")
        if home:
            paths.append(os.path.join(home, ".local", "bin"))
        paths += [self.keys.home_dir() / name for name in OPENCLAW_STATE_DIR_NAMES]
        return tuple(dict.fromkeys(os.fspath(p) for p in paths))

    def _derived(self) -> tuple[str, ...]:
        """Paths found by a lookup (npm's global bin, OpenClaw's ``.env``): looked up again
        only when the inputs' stats or the environment change, since they decide the result."""
        found = (npm_global_bin_dir(self.env), self.keys.openclaw_env_path())
        return tuple(os.fspath(p) for p in found if p)

    def fingerprint(self) -> tuple:
        """Everything host-side the status reads. The last one is reused while the watched
        paths report no change (see :mod:`.fs_changes`) and the unwatched ones (missing
        paths, symlinks) stat the same: then a request costs one ``read`` and a few stats."""
        env_key = tuple(self.env.get(name) for name in _ENV_INPUTS)
        if (
            self._changes is not None
            and self._fingerprint[0] == self._generation
            and env_key == self._env_key
            and not self._changes.changed()
            and tuple(_stat_key(p) for p in self._unwatched) == self._unwatched_stats
        ):
            return self._fingerprint
        if env_key != self._env_key:
            self._env_key, self._input_paths = env_key, self._inputs()
        self._watch(self._input_paths)  # before the stats: a change after them is an event
        inputs = tuple(_stat_key(p) for p in self._input_paths)
        if (env_key, inputs) != self._derived_key:
            self._derived_key, self._derived_paths = (env_key, inputs), self._derived()
        self._watch(self._derived_paths, more=True)
        derived = tuple(_stat_key(p) for p in self._derived_paths)
        self._fingerprint = (self._generation, inputs, derived)
        self._unwatched_stats = tuple(_stat_key(p) for p in self._unwatched)
        return self._fingerprint

    def _watch(self, paths: tuple[str, ...], more: bool = False) -> None:
        """Watch ``paths`` (``more``: as well as the ones already watched)."""
        if not more:
            self._close_watch()
            self._changes, self._unwatched = FsChanges.open(), ()
        unwatched = self._changes.add(paths) if self._changes is not None else None
        if unwatched is None:  # no inotify: every path is stat'ed on every request
            self._changes = None
        else:
            self._unwatched += tuple(unwatched)

    def _close_watch(self) -> None:
        if self._changes is not None:
            self._changes.close()
            self._changes = None

    async def _compute(self, fingerprint: tuple) -> Snapshot:
        rows = await self.status.all()
        body = json.dumps(self._encode(rows), separators=(",", ":")).encode()
        snapshot = Snapshot(rows, body, fingerprint, time.monotonic())
        current = self._snapshot
        if current is None or current.taken_at <= snapshot.taken_at:
            self._snapshot = snapshot
        return snapshot

    async def _shared_compute(self, fingerprint: tuple) -> Snapshot:
        task = self._computing
        if task is None or task.done() or getattr(task, "fingerprint", None) != fingerprint:
            task = asyncio.ensure_future(self._compute(fingerprint))
            task.fingerprint = fingerprint  # type: ignore[attr-defined]
            self._computing = task
        return await asyncio.shield(task)

    def _refresh_in_background(self, fingerprint: tuple) -> None:
        if self._refreshing is not None and not self._refreshing.done():
            return

        async def refresh() -> None:
            try:
                await self._shared_compute(fingerprint)
            except Exception:
                log.exception("runtime status refresh failed")

        self._refreshing = asyncio.ensure_future(refresh())

    async def get(self) -> Snapshot:
        fingerprint = self.fingerprint()
        snapshot = self._snapshot
        if snapshot is None or snapshot.fingerprint != fingerprint or self.ttl_s == 0:
            return await self._shared_compute(fingerprint)
        if time.monotonic() - snapshot.taken_at >= self.ttl_s:
            self._refresh_in_background(fingerprint)
        return snapshot

    async def list_body(self) -> bytes:
        return (await self.get()).body

    async def aclose(self) -> None:
        for task in (self._refreshing, self._computing):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._close_watch()
