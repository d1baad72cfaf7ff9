"""The host's long-lived services, built once per app and shared by every router."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from .board.calls import board_call
from .board.deferred import DeferredBoard
from .config import HostConfig
from .credentials import Credentials
from .errors import Unavailable
from .installer import Installer
from .isolation import detect_sandbox
from .keys import KeyResolver
from .lease import HostLease
from .onboarding import Onboarding
from .registry import RuntimeRegistry, build_registry
from .run import Executor
from .run_tokens import RunTokens
from .status import StatusService
from .status_snapshot import StatusSnapshot
from .vault import Vault

if TYPE_CHECKING:
    from .board.store import BoardStore

log = logging.getLogger(__name__)


class Host:
    """Owns the registry, vault, key chain, status probes, board, installs and runs."""

    SHUTDOWN_GRACE_S = 15.0
    #: With no request asking for the board, it starts this long after the server did.
    BOARD_START_DELAY_S = 1.0

    def __init__(self, config: HostConfig, registry: RuntimeRegistry | None = None) -> None:
        self.config = config
        self.registry = registry if registry is not None else build_registry(env=config.env)
        self.vault = Vault(config.secrets_dir, env=config.env)
        self.keys = KeyResolver(self.vault, env=config.env, home=config.home)
        self.status = StatusService(self.registry, self.keys, config.env)
        self.status_snapshot = StatusSnapshot(self.status, self.keys, config.env, self._list_json)
        self.credentials = Credentials(self.registry, self.vault, self.keys, self.status)
        self.board: BoardStore = DeferredBoard(config.database_url)  # type: ignore[assignment]
        self.installer = Installer(self.registry, config.env)
        self.run_tokens = RunTokens()
        self.executor = Executor(config, self.registry, self.board, self.keys, self.run_tokens)
        self.onboarding = Onboarding(self.registry, self.board, self.keys, config.env)
        self.lease = HostLease(config, self.board, self.executor)
        self._board_start: asyncio.Task | None = None
        self._board_wanted: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        #: Called if the board's start fails (``serve`` then exits: a host without its board
        #: must not keep running).
        self.on_start_failure: Callable[[], None] | None = None

    def _list_json(self, rows) -> dict:
        """The ``GET /api/runtimes`` body for these status rows."""
        return {
            "runtimes": [row.to_json() for row in rows],
            "available": [d.public_json() for d in self.registry.public_catalog()],
        }

    async def start(self) -> None:
        """Start what every request needs; the board starts in the background.

        Listing runtimes needs no board, so the server answers it as soon as the port is
        bound. The board's start (open and migrate, probe the run sandbox, take this host's
        lease, run the crash-recovery sweep) begins when a request needs the board, after the
        first runtime list is answered (so as not to slow it), or after
        :attr:`BOARD_START_DELAY_S` at the latest. Every route that reads or changes the board
        (or starts a run) first awaits :meth:`board_started`, so none sees a board the sweep
        has not made consistent.
        """
        self.config.ensure_dirs()
        self._loop = asyncio.get_running_loop()
        self._board_wanted = asyncio.Event()
        self._board_start = asyncio.ensure_future(self._start_board())

    @property
    def board_wanted(self) -> bool:
        return self._board_wanted is not None and self._board_wanted.is_set()

    def want_board(self) -> None:
        """Start the board now if it is still waiting (from any thread)."""
        if self._loop is not None and self._board_wanted is not None:
            self._loop.call_soon_threadsafe(self._board_wanted.set)

    async def _start_board(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._board_wanted.wait(), self.BOARD_START_DELAY_S)
        try:
            await board_call(self.board.open)
            self.executor.sandbox = await detect_sandbox(self.config)
            # The lease first: the sweep then knows which runs are this host's own.
            await self.lease.start()
            await self.executor.recover(judge_leases=self.lease.may_judge_leases)
        except Exception:
            log.exception("the board could not be started")
            if self.on_start_failure is not None:
                self.on_start_failure()
            raise

    @property
    def start_finished(self) -> bool:
        """The board's start is over (done or failed)."""
        return self._board_start is not None and self._board_start.done()

    @property
    def start_failed(self) -> bool:
        task = self._board_start
        return task is not None and task.done() and not task.cancelled() and bool(task.exception())

    async def board_started(self) -> None:
        """Wait until the board is open, migrated and swept; 503 if that failed."""
        if self._board_start is None:
            raise Unavailable("the host is not started")
        self.want_board()
        try:
            await asyncio.shield(self._board_start)
        except Exception:
            raise Unavailable("the board is not available (see the host's log)") from None

    async def stop(self) -> None:
        if self._board_start is not None:
            self.want_board()
            with contextlib.suppress(Exception):
                await self._board_start  # a board still starting finishes first
        await self.lease.stop()
        # Runs kill their process trees and report up before the board closes under them.
        await self.executor.shutdown(timeout=self.SHUTDOWN_GRACE_S)
        if not self.start_failed:
            await self.lease.release()
        await self.status_snapshot.aclose()
        self.board.close()
