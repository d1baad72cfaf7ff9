"""The executor: the run's steps in order, and the host-wide bookkeeping around them (live
runs for the abort route, shutdown, crash recovery).

``prepare`` does everything that can still be answered with a plain JSON refusal;
``execute`` runs the plugin and always finishes the bookkeeping: one comment, the execution
closed exactly once, the task driven to a real status or released. Abort (client gone, the
abort route, a cap budget) travels as the run's :class:`AbortSignal` to the plugin, which
kills its process tree.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import anyio

from .. import run_processes
from ..config import HostConfig
from ..isolation import Sandbox
from ..keys import KeyResolver
from ..plugin_api.types import AbortSignal, Done
from ..registry import RuntimeRegistry
from ..run_tokens import RunTokens
from . import prepare as prepare_step
from . import report, verification
from .accounting import totals
from .execution import execution_context, resolve_secrets, run_execution
from .homes import IdentityHomes
from .model import EventSink, PreparedRun, RunRefused, RunRequest, RunTally
from .recovery import is_owner_alive, owner_boot, remove_stale_scratch
from .services import Services

if TYPE_CHECKING:
    from ..board.store import BoardStore


log = logging.getLogger(__name__)


@dataclass
class _Chain:
    """Every execution of one run (a fix run adds one) and every verification verdict."""

    tallies: list[RunTally] = field(default_factory=list)
    verdicts: list[verification.Verdict] = field(default_factory=list)

    def new_tally(self) -> RunTally:
        self.tallies.append(RunTally())
        return self.tallies[-1]


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
        # Set by the host's lease once its row is on the board (see clawboo_host.lease).
        self.host_process_gone: Callable[[dict], bool] | None = None
        self.machine: str | None = None

    @property
    def host_id(self) -> str | None:
        """This host process's id on the board; its executions carry it."""
        return self.svc.host_id

    @host_id.setter
    def host_id(self, host_id: str | None) -> None:
        self.svc.host_id = host_id

    @property
    def sandbox(self) -> Sandbox | None:
        return self.svc.sandbox

    @sandbox.setter
    def sandbox(self, sandbox: Sandbox | None) -> None:
        self.svc.sandbox = sandbox

    @property
    def max_depth(self) -> int:
        return prepare_step.max_depth(self.svc)

    # ------------------------------------------------------------------ recovery

    async def recover(self, judge_leases: bool = True) -> list[str]:
        """Close executions whose host is gone (lease expired, or its process dead on this
        data dir) and release their tasks. ``judge_leases=False``: not by expired leases
        (this host has not itself held its lease for a whole lease yet)."""
        svc = self.svc
        closed = await svc.db(
            svc.board.recover_orphans,
            self._is_owner_alive,
            run_processes.stop_orphaned,
            host_id=self.host_id,
            host_process_gone=self.host_process_gone,
            machine=self.machine,
            judge_leases=judge_leases,
        )
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
        # The first execution's secrets are worked out while git sets up the workspace.
        run.early_secrets = asyncio.ensure_future(resolve_secrets(self.svc, run))
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
        """Run the plugin (again after each failed verification, within the attempts) and
        report up. Returns the 200 response body."""
        svc = self.svc
        chain = _Chain()
        try:
            async with self.homes.turn(run) as refused:
                if refused is None:
                    return await self._run_chain(run, on_event, chain)
                # Never started: aborted while it waited its turn, or the wait timed out.
                reason = "aborted" if refused == "aborted" else "error"
                done = Done(reason, summary="" if reason == "aborted" else refused)
                tally = chain.new_tally()
                with anyio.CancelScope(shield=True):
                    outcome = await report.execution(svc, run, tally, done, [], resumed=False)
                return self._result(run, chain, outcome)
        except BaseException as exc:
            await self._fail_safe(run, exc)
            raise
        finally:
            self._forget(run)

    async def _run_chain(self, run: PreparedRun, on_event: EventSink | None, chain: _Chain) -> dict:
        """execution → report-up → (changes committed) verification → fix execution → …"""
        svc = self.svc
        command = verification.command_for(run)  # fixed before the agent can touch init.sh
        attempts = verification.max_attempts(svc)
        sections: tuple[str, ...] = ()
        while True:
            tally = chain.new_tally()
            home = self.homes.home_dir(run)
            async with execution_context(svc, run, home, sections) as prepared:
                ctx = prepared.ctx
                own_dirs = (ctx.home_dir, ctx.scratch_dir)
                with run_processes.track(svc.board, run.exec_id, svc.sandbox, own_dirs=own_dirs):
                    done = await run_execution(svc, run, prepared, tally, on_event)
            resumed = prepared.ctx.resume_session_id is not None
            with anyio.CancelScope(shield=True):
                outcome = await report.execution(svc, run, tally, done, prepared.secrets, resumed)
                if outcome.status is None and command is None:  # no exam: a person reviews
                    await report.land(svc, run, tally, done, outcome, "in_review")
            if outcome.status is not None:
                return self._result(run, chain, outcome)
            verdict = await verification.run_verify(
                svc,
                run,
                command,
                len(chain.verdicts) + 1,
                prepared.secrets,
                on_event,
                prepared.secret_names,
            )
            chain.verdicts.append(verdict)
            with anyio.CancelScope(shield=True):
                await verification.route(svc, run, tally, done, outcome, verdict, attempts)
                if outcome.status is None:  # a fix run comes next
                    await self._hand_over(run, tally, done, outcome)
            if outcome.status is not None:
                return self._result(run, chain, outcome)
            sections = (verification.fix_section(verdict, attempts),)

    async def _hand_over(
        self, run: PreparedRun, tally: RunTally, done: Done, outcome: report.Outcome
    ) -> None:
        """Pass the claim to a new execution for the fix run — or settle ``outcome`` as a
        late result when a person took the task back meanwhile."""
        svc = self.svc
        execution = await svc.db(
            svc.board.hand_over_claim,
            run.task["id"],
            run.exec_id,
            "verify-fix",
            os.getpid(),
            self.boot,
            summary=outcome.reported,
            cost_usd=tally.cost_usd,
            input_tokens=tally.input_tokens,
            output_tokens=tally.output_tokens,
            native_session_id=done.session_id,
        )
        if execution is None:
            await report.land(svc, run, tally, done, outcome, "claim_lost")
            return
        run.exec_id = execution["id"]
        run.exec_ids.append(run.exec_id)
        self.live[run.exec_id] = run.abort

    def _result(self, run: PreparedRun, chain: _Chain, outcome: report.Outcome) -> dict:
        return {
            "ok": True,
            "runtimeId": run.descriptor.id,
            "execId": run.exec_id,
            "doneReason": outcome.reason,
            "status": outcome.status,
            "summary": outcome.summary,
            "usedWorktree": run.worktree is not None,
            "degradations": run.degradations,
            "verification": chain.verdicts[-1].to_json() if chain.verdicts else None,
            **totals(chain.tallies),
        }

    # ------------------------------------------------------------------ bookkeeping

    def _forget(self, run: PreparedRun) -> None:
        for exec_id in run.exec_ids:
            self.live.pop(exec_id, None)
        early, run.early_secrets = run.early_secrets, None
        if early is not None:  # resolved for an execution that never came
            early.cancel()
            early.add_done_callback(lambda f: f.cancelled() or f.exception())

    async def _fail_safe(self, run: PreparedRun, exc: BaseException) -> None:
        """The safety net for an unexpected error after the claim: never leave it stuck."""
        message = str(exc) or type(exc).__name__
        log.error("run %s failed unexpectedly: %s", run.exec_id, message)
        with anyio.CancelScope(shield=True):
            try:
                with contextlib.suppress(Exception):  # the worktree it has, on the board
                    await run.attached()
                await self.svc.db(
                    self.svc.board.close_execution, run.exec_id, "failed", error=message
                )
                await self.svc.release(run)
            finally:
                self._forget(run)
