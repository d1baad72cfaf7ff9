"""This host's lease on the board, and the loops that make several hosts safe on one board.

- At start the host adds its row to ``hosts`` (a new id per process) and, every
  ``CLAWBOO_HOST_LEASE_S / 3`` seconds (lease default 30 s), renews its heartbeat on the
  database clock and runs the recovery sweep: runs of hosts whose lease expired are closed
  ``failed`` and their tasks released (see :meth:`BoardStore.recover_orphans`). A host judges
  others by their leases only once it has renewed its own for a whole lease without a failure,
  so after a database outage (every heartbeat stale) the others get their turn to renew first.
- While this host has live runs it polls, every ``CLAWBOO_ABORT_POLL_S`` (default 1 s), for
  abort requests other hosts left on them (the abort route, a cap budget reached elsewhere)
  and stops those runs. Polling works on both backends and costs one indexed query.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import psutil

from .board.calls import board_call
from .config import HostConfig
from .run import Executor

if TYPE_CHECKING:
    from .board.store import BoardStore


log = logging.getLogger(__name__)

DEFAULT_ABORT_POLL_S = 1.0


def machine_id() -> str:
    """This machine's identity: systemd's machine id when there is one, else the hostname."""
    with contextlib.suppress(OSError):
        value = Path("/etc/machine-id").read_text().strip()
        if value:
            return value
    return socket.gethostname()


class HostLease:
    def __init__(self, config: HostConfig, board: BoardStore, executor: Executor) -> None:
        self.config = config
        self.board = board
        self.executor = executor
        self.id = str(uuid.uuid4())
        self.machine = machine_id()
        self.data_dir = str(config.data_dir)
        self._tasks: list[asyncio.Task] = []
        # Since when this host's own lease has been renewed without a failure (monotonic).
        self._healthy_since: float | None = None
        # Its own worker thread: a burst of requests filling the shared pool never delays
        # the heartbeat past the lease.
        self._limiter = anyio.CapacityLimiter(1)

    @property
    def name(self) -> str:
        explicit = (self.config.env.get("CLAWBOO_HOST_NAME") or "").strip()
        if explicit:
            return explicit
        port = f":{self.config.port}" if self.config.port else ""
        return f"{socket.gethostname()}{port}"

    @property
    def lease_s(self) -> float:
        return self.config.lease_s

    @property
    def may_judge_leases(self) -> bool:
        """Only a host that has renewed its own lease for a whole lease judges others by
        theirs: after a database outage every heartbeat is stale, and the others need their
        turn to renew before they are declared dead."""
        healthy = self._healthy_since
        return healthy is not None and time.monotonic() - healthy >= self.lease_s

    async def start(self) -> None:
        await anyio.to_thread.run_sync(self._register)
        self._healthy_since = time.monotonic()
        self.executor.host_id = self.id
        self.executor.host_process_gone = self.host_process_gone
        self.executor.machine = self.machine
        self._tasks = [
            asyncio.create_task(self._beat()),
            asyncio.create_task(self._watch_aborts()),
        ]

    def _register(self) -> None:
        self.board.register_host(
            self.id,
            self.name,
            self.config.url,
            lease_s=self.lease_s,
            machine=self.machine,
            data_dir=self.data_dir,
            pid=os.getpid(),
        )

    async def stop(self) -> None:
        """Stop the loops; mark the row stopped (after the runs are down) with :meth:`release`."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def release(self) -> None:
        try:
            await board_call(self.board.stop_host, self.id)
        except Exception:
            log.exception("could not mark this host stopped")

    def host_process_gone(self, host: dict) -> bool:
        """Another host row whose process certainly died on this data dir: its pid is gone.

        Only a missing pid counts (no start-time comparison, which a clock step would fool);
        a pid that was reused simply waits for the lease.
        """
        return (
            host["machine"] == self.machine
            and host["data_dir"] == self.data_dir
            and host["pid"] is not None
            and host["pid"] != os.getpid()
            and not psutil.pid_exists(host["pid"])
        )

    async def _beat(self) -> None:
        interval = self.lease_s / 3
        while True:
            await anyio.sleep(interval)
            try:
                alive = await anyio.to_thread.run_sync(
                    self.board.heartbeat, self.id, limiter=self._limiter
                )
                if not alive:
                    log.warning("this host's row was gone from the board; registering again")
                    await anyio.to_thread.run_sync(self._register, limiter=self._limiter)
            except Exception:
                self._healthy_since = None
                log.exception("could not renew this host's lease")
                continue
            if self._healthy_since is None:
                self._healthy_since = time.monotonic()
            try:
                await self.executor.recover(judge_leases=self.may_judge_leases)
            except Exception:
                log.exception("recovery sweep failed")

    async def _watch_aborts(self) -> None:
        interval = self.config.env_float("CLAWBOO_ABORT_POLL_S", DEFAULT_ABORT_POLL_S)
        while True:
            await anyio.sleep(interval)
            if not self.executor.live:
                continue
            try:
                requests = await board_call(self.board.requested_aborts, self.id)
            except Exception:
                log.exception("polling abort requests failed")
                continue
            for exec_id, reason in requests:
                if self.executor.abort(exec_id, reason):
                    log.info("run %s stopped on request: %s", exec_id, reason)
