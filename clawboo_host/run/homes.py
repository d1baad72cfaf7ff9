"""Identity homes: a runtime's persistent per-agent state dir, and the turns runs take on it
(a CLI's own state is not safe to share between two live runs)."""

from __future__ import annotations

import re
from contextlib import asynccontextmanager
from pathlib import Path

import anyio

from ..plugin_api.types import AbortSignal
from .model import PreparedRun
from .services import Services

HOME_LOCK_TIMEOUT_S = 600.0
WAIT_TIMED_OUT = (
    "timed out waiting for another run of this agent to finish "
    "(runs sharing a runtime's identity home take turns)"
)


def _segment(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", value) or "_default"


class IdentityHomes:
    def __init__(self, svc: Services) -> None:
        self._svc = svc
        self._locks: dict[str, anyio.Lock] = {}

    def home_dir(self, run: PreparedRun) -> Path | None:
        home = run.descriptor.capabilities.native_home
        if home is None or not home.persist:
            return None
        return (
            self._svc.config.runtimes_dir
            / _segment(run.descriptor.id)
            / _segment(run.request.agent_id)
        )

    @asynccontextmanager
    async def turn(self, run: PreparedRun):
        """Hold the run's identity home (if it has one) for the block.

        Yields ``None`` once it is this run's turn, else why it never got one: the wait timed
        out, or the run was aborted while waiting (``"aborted"``).
        """
        home = self.home_dir(run)
        if home is None:
            yield None
            return
        lock = self._locks.setdefault(str(home), anyio.Lock())
        if not await _acquire(
            lock, run.abort, self._svc.seconds("CLAWBOO_HOME_LOCK_TIMEOUT_S", HOME_LOCK_TIMEOUT_S)
        ):
            yield "aborted" if run.abort.is_set else WAIT_TIMED_OUT
            return
        try:
            yield None
        finally:
            lock.release()


async def _acquire(lock: anyio.Lock, abort: AbortSignal, timeout: float) -> bool:
    """Wait for the lock: False on the timeout or when aborted first."""
    locked = False
    with anyio.move_on_after(timeout):
        async with anyio.create_task_group() as tg:

            async def stop_on_abort() -> None:
                await abort.wait()
                tg.cancel_scope.cancel()

            tg.start_soon(stop_on_abort)
            await lock.acquire()
            locked = True
            tg.cancel_scope.cancel()
    return locked
