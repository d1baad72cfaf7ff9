"""Step 3, one execution of the runtime plugin: build its :class:`RunContext`, stream its
events (forwarded, accounted), and come back with exactly one :class:`Done`.

A plugin that raises, never streams, goes silent or outlives an abort still ends in a
``Done`` — :func:`_outcome` is the one place that turns those failures into a result.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio

from ..handoff import read_handoff
from ..plugin_api.childenv import build_child_env
from ..plugin_api.types import (
    CostEvent,
    Done,
    ErrorEvent,
    RunContext,
    RuntimeEvent,
    TextDelta,
)
from ..redaction import LIVE_SECRETS, redact_json
from ..registry import PluginFailure
from ..run_tokens import RunScope
from .accounting import Spending
from .model import EventSink, PreparedRun, RunTally
from .prompt import build_prompt
from .secrets import RunSecrets, run_secrets
from .services import Services

log = logging.getLogger(__name__)

ABORT_GRACE_S = 10.0  # after an abort, how long a plugin may take to finish on its own
SILENT_TIMEOUT_S = 1800.0  # a run with no event for this long is aborted
MAX_TEXT_TAIL = 20_000  # the summary fallback keeps this much of the streamed text


@dataclass
class Prepared:
    """One execution's context and the secrets its output must never show."""

    ctx: RunContext
    secrets: list[str]
    #: every registered runtime's key names, withheld from this run's other children too
    secret_names: frozenset[str] = frozenset()


async def resolve_secrets(svc: Services, run: PreparedRun) -> RunSecrets:
    """The execution's secrets (vault reads and plugin hooks, in a worker thread)."""
    return await anyio.to_thread.run_sync(
        run_secrets, svc.registry, svc.keys, run.descriptor.id, svc.config.env
    )


@asynccontextmanager
async def execution_context(
    svc: Services, run: PreparedRun, home: Path | None, prompt_sections: tuple[str, ...] = ()
) -> AsyncIterator[Prepared]:
    """The run context for the execution holding the claim; its run token is revoked and its
    scratch dir deleted when the block ends."""
    descriptor = run.descriptor
    scratch = svc.config.data_dir / "runs" / run.exec_id
    token: str | None = None
    try:
        early, run.early_secrets = run.early_secrets, None
        secrets = await (early or resolve_secrets(svc, run))
        env = build_child_env(svc.config.env, secrets.grants, secret_names=secrets.names)
        if home is not None:
            home.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.chmod(home, 0o700)
        scratch.mkdir(parents=True, exist_ok=True, mode=0o700)
        mcp_url = None
        if descriptor.capabilities.mcp and svc.config.port:
            mcp_url = f"http://127.0.0.1:{svc.config.port}/api/mcp/tasks"
            token = svc.tokens.mint(
                RunScope(
                    run_id=run.exec_id,
                    task_id=run.task["id"],
                    team_id=run.task["team_id"],
                    agent_id=run.request.agent_id,
                    runtime_id=descriptor.id,
                )
            )
        handoff = read_handoff(run.worktree.path) if run.worktree else None
        # A native session lives in one agent's home on one runtime: only that pair resumes it.
        resume_id = None
        if (
            handoff
            and handoff.runtime == descriptor.id
            and handoff.handoff_from == run.request.agent_id
            and handoff.native_session_id
        ):
            resume_id = handoff.native_session_id
        prompt = build_prompt(run, handoff, mcp_url is not None, prompt_sections)
        values = secrets.values + ((token,) if token else ())
        LIVE_SECRETS.hold(run.exec_id, values)
        ctx = RunContext(
            run_id=run.exec_id,
            task_id=run.task["id"],
            agent_id=run.request.agent_id,
            prompt=prompt,
            cwd=run.worktree.path if run.worktree else None,
            env=env,
            home_dir=home,
            scratch_dir=scratch,
            abort=run.abort,
            model=run.request.model,
            mcp_url=mcp_url,
            mcp_token=token,
            resume_session_id=resume_id,
            title=run.task["title"],
            bin_path=run.bin_path,
            secrets=secrets.values,
        )
        yield Prepared(ctx, list(values), secrets.names)
    finally:
        LIVE_SECRETS.drop(run.exec_id)
        if token:
            svc.tokens.revoke(token)
        # A runtime's scratch can hold a whole private HOME: delete it off the event loop.
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(lambda: shutil.rmtree(scratch, ignore_errors=True))


class _Watchdog:
    """Bounds an execution: no event for the silence limit aborts it; once aborted, the
    plugin has :data:`ABORT_GRACE_S` to finish before it is cancelled."""

    def __init__(self, run: PreparedRun, silent_limit: float) -> None:
        self.run = run
        self.silent_limit = silent_limit
        self.last_event = anyio.current_time()
        self.silent = False

    def heard(self) -> None:
        self.last_event = anyio.current_time()

    async def guard(self, scope: anyio.CancelScope) -> None:
        abort = self.run.abort
        while not abort.is_set:
            idle = anyio.current_time() - self.last_event
            if idle >= self.silent_limit:
                self.silent = True
                abort.set("silent")
                break
            with anyio.move_on_after(min(self.silent_limit - idle, 5.0)):
                await abort.wait()
        await anyio.sleep(ABORT_GRACE_S)
        scope.cancel()


async def run_execution(
    svc: Services,
    run: PreparedRun,
    prepared: Prepared,
    tally: RunTally,
    on_event: EventSink | None,
) -> Done:
    """Run the plugin once to its terminal event, folding what it streams into ``tally``."""
    done: Done | None = None
    crash: Exception | None = None
    events = None
    watchdog = _Watchdog(run, svc.seconds("CLAWBOO_RUN_SILENT_TIMEOUT_S", SILENT_TIMEOUT_S))
    try:
        events = svc.registry.stream(run.descriptor.id, "clawboo_runtime_run", ctx=prepared.ctx)
    except PluginFailure as failure:  # raised, or no async generator: a failed run too
        crash = failure
    if events is not None:
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(watchdog.guard, tg.cancel_scope)
                try:
                    done = await _consume(svc, run, events, tally, watchdog, prepared, on_event)
                except Exception as exc:  # a plugin crash is a failed run, not a 500
                    crash = exc
                tg.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                try:
                    await events.aclose()
                except Exception:
                    log.exception("runtime %s failed to close", run.descriptor.id)
    return _outcome(run, done, crash, watchdog, streamed=events is not None)


async def _consume(
    svc: Services,
    run: PreparedRun,
    events: AsyncIterator[RuntimeEvent],
    tally: RunTally,
    watchdog: _Watchdog,
    prepared: Prepared,
    on_event: EventSink | None,
) -> Done | None:
    """Forward and fold each event; the plugin's ``Done``, or None if it never sent one."""
    spending = Spending(svc, run, tally)
    try:
        async for event in events:
            watchdog.heard()
            if on_event is not None and not isinstance(event, Done):
                # The final ``result`` frame stands for Done. Frames are redacted like
                # comments: a runtime may echo a key it was given.
                with contextlib.suppress(Exception):  # a gone client can't break the run
                    await on_event(redact_json(event.to_json(), prepared.secrets))
            if isinstance(event, TextDelta) and event.channel != "reasoning":
                tally.last_text = (tally.last_text + event.text)[-MAX_TEXT_TAIL:]
            elif isinstance(event, CostEvent):
                spending.add(event)
            elif isinstance(event, ErrorEvent):
                log.info("run %s reported: %s", run.exec_id, event.message)
            elif isinstance(event, Done):
                return event
        return None
    finally:
        with anyio.CancelScope(shield=True):
            await spending.settled()  # before the outcome: a cap it reaches counts


def _outcome(
    run: PreparedRun,
    done: Done | None,
    crash: Exception | None,
    watchdog: _Watchdog,
    *,
    streamed: bool,
) -> Done:
    """The one place a failed execution becomes a result."""
    if crash is not None and not isinstance(crash, PluginFailure):  # raised mid-stream
        reason = f"raised {type(crash).__name__}"
        # The plugin's own text goes to the log (redacted), never to the board.
        log.error("runtime plugin '%s' failed: run %s", run.descriptor.id, reason, exc_info=crash)
        crash = PluginFailure(run.descriptor.id, "run", reason)
    if crash is not None:  # one failure, however the plugin failed
        return Done("error", summary=str(crash))
    if not streamed:
        return Done("error", summary=f"{run.descriptor.name} cannot run tasks yet")
    if watchdog.silent:
        minutes = watchdog.silent_limit / 60
        return Done(
            "error",
            summary=f"runtime silent: no events for {minutes:g} minutes — the run was aborted",
        )
    if done is None:
        if run.abort.is_set:
            return Done("aborted", summary="")
        return Done("error", summary="the runtime ended without a result")
    if run.abort.is_set and done.reason == "success":
        return Done("aborted", done.summary, done.session_id)
    return done
