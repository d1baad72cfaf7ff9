"""The executor: the run's steps in order, and the host-wide bookkeeping around them (live
runs for the abort route, shutdown, crash recovery).

``prepare`` does everything that can still be answered with a plain JSON refusal;
``execute`` runs the plugin and always finishes the bookkeeping: one comment, the execution
closed exactly once, the task driven to a real status or released. Abort (client gone, the
abort route, a cap budget) travels as the run's :class:`AbortSignal` to the plugin, which
kills its process tree.
"""

from __future__ import annotations

import logging
import os

import anyio

from ..board.store import BoardStore
from ..config import HostConfig
from ..keys import KeyResolver
from ..plugin_api.types import AbortSignal, Done
from ..redaction import safe_summary
from ..registry import RuntimeRegistry
from ..run_tokens import RunTokens
from . import prepare as prepare_step
from . import report
from .accounting import totals
from .execution import execution_context, run_execution
from .homes import IdentityHomes
from .model import EventSink, PreparedRun, RunRefused, RunRequest, RunTally
from .recovery import is_owner_alive, owner_boot, remove_stale_scratch
from .services import Services

log = logging.getLogger(__name__)


class Executor:
    def __init__(
        self,
        config: HostConfig,
        registry: RuntimeRegistry,
        board: BoardStore,
        keys: KeyResolver,
        tokens: RunTokens,
    ) -> None:
        self.svc = Services(config, registry, board, keys, tokens)
        self.homes = IdentityHomes(self.svc)
        self.boot = owner_boot()
        self.live: dict[str, AbortSignal] = {}

    @property
    def max_depth(self) -> int:
        return prepare_step.max_depth(self.svc)

    # ------------------------------------------------------------------ recovery

    async def recover(self) -> list[str]:
        """Close executions whose host process is gone and release their tasks."""
        svc = self.svc
        closed = await svc.db(svc.board.recover_orphans, self._is_owner_alive)
        if closed:
            log.warning("recovered %d interrupted execution(s)", len(closed))
        await anyio.to_thread.run_sync(remove_stale_scratch, svc.config, svc.board)
        return closed

    def _is_owner_alive(self, pid: int | None, boot: str | None) -> bool:
        # This process's own runs are live: never re-measure its start time, which psutil
        # derives from the wall clock and which so moves when the clock is stepped.
        if pid == os.getpid() and boot == self.boot:
            return True
        return is_owner_alive(pid, boot)

    # ------------------------------------------------------------------ abort

    def abort_all(self, reason: str) -> None:
        for signal in list(self.live.values()):
            signal.set(reason)

    async def shutdown(self, timeout: float) -> None:
        """Abort every live run and wait (bounded) for their process trees and teardown."""
        self.abort_all("host shutting down")
        with anyio.move_on_after(timeout):
            while self.live:
                await anyio.sleep(0.05)
        if self.live:
            log.warning("%d run(s) still finishing at shutdown", len(self.live))

    def abort(self, exec_id: str, reason: str = "aborted") -> bool:
        signal = self.live.get(exec_id)
        if signal is None:
            return False
        signal.set(reason)
        return True

    # ------------------------------------------------------------------ the steps

    async def prepare(
        self, runtime_id: str, request: RunRequest, abort: AbortSignal
    ) -> PreparedRun:
        """Refuse (raising :class:`RunRefused`) or claim the task and set up its workspace."""
        run, needs_worktree = await prepare_step.refuse_or_claim(
            self.svc, runtime_id, request, abort, owner_pid=os.getpid(), owner_boot=self.boot
        )
        self.live[run.exec_id] = abort
        try:
            await prepare_step.acquire_workspace(self.svc, run, needs_worktree)
        except RunRefused:
            self._forget(run)
            raise
        except BaseException as exc:
            await self._fail_safe(run, exc)
            raise
        return run

    async def execute(self, run: PreparedRun, on_event: EventSink | None = None) -> dict:
        """Run the plugin and report up. Returns the 200 response body."""
        try:
            async with self.homes.turn(run) as refused:
                tally = RunTally()
                resumed = False
                if refused is None:
                    home = self.homes.home_dir(run)
                    async with execution_context(self.svc, run, home) as prepared:
                        done = await run_execution(self.svc, run, prepared, tally, on_event)
                        secrets = prepared.secrets
                        resumed = prepared.ctx.resume_session_id is not None
                else:  # never started: aborted while it waited its turn, or the wait timed out
                    reason = "aborted" if refused == "aborted" else "error"
                    done = Done(reason, summary="" if reason == "aborted" else refused)
                    secrets = []
                with anyio.CancelScope(shield=True):
                    return await self._report(run, tally, done, secrets, resumed)
        except BaseException as exc:
            await self._fail_safe(run, exc)
            raise
        finally:
            self._forget(run)

    async def _report(
        self, run: PreparedRun, tally: RunTally, done: Done, secrets: list[str], resumed: bool
    ) -> dict:
        svc = self.svc
        safe = safe_summary(done.summary or tally.last_text, secrets)
        reported = safe or "(no summary)"
        summary = reported
        if tally.budget_stop:
            reason, summary = "aborted", "auto-paused (budget)"
            status = await report.budget_stop(svc, run, tally, done, reported)
        elif done.reason == "success":
            reason = "success"
            await report.agent_report(svc, run, reported)
            status = await report.land_success(svc, run, reported, done)
            if status is None:
                status = await report.move(svc, run, "in_review", reported)
            await report.close(svc, run, "succeeded", tally, done, summary=reported)
        else:
            reason = done.reason
            status = await report.failure(svc, run, tally, done, safe, resumed)
        return {
            "ok": True,
            "runtimeId": run.descriptor.id,
            "execId": run.exec_id,
            "doneReason": reason,
            "status": status,
            "summary": summary,
            "usedWorktree": run.worktree is not None,
            "degradations": run.degradations,
            **totals([tally]),
        }

    # ------------------------------------------------------------------ bookkeeping

    def _forget(self, run: PreparedRun) -> None:
        for exec_id in run.exec_ids:
            self.live.pop(exec_id, None)

    async def _fail_safe(self, run: PreparedRun, exc: BaseException) -> None:
        """The safety net for an unexpected error after the claim: never leave it stuck."""
        message = str(exc) or type(exc).__name__
        log.error("run %s failed unexpectedly: %s", run.exec_id, message)
        with anyio.CancelScope(shield=True):
            try:
                await self.svc.db(
                    self.svc.board.close_execution, run.exec_id, "failed", error=message
                )
                await self.svc.release(run)
            finally:
                self._forget(run)
