"""Report-up, the last step of an execution: the comment, the execution closed exactly once,
and the task driven to a real status or released — only while this run holds its claim."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime

from .. import worktrees
from ..handoff import Handoff, read_handoff, write_handoff
from ..plugin_api.types import Done
from ..redaction import safe_summary
from .accounting import note_budget_abort
from .model import PreparedRun, RunTally
from .prompt import last_crash
from .services import Services

log = logging.getLogger(__name__)

LATE_REASONS = {
    "not_found": "the task no longer exists",
    "illegal_transition": "the task had been moved before this run finished",
    "claim_lost": "the task had been released before this run finished",
}


@dataclass
class Outcome:
    """How a run ended, as the response reports it (``status`` None: not settled yet)."""

    reason: str
    summary: str
    reported: str
    status: str | None = None


async def execution(
    svc: Services, run: PreparedRun, tally: RunTally, done: Done, secrets: list[str], resumed: bool
) -> Outcome:
    """Report one execution up. ``status`` stays ``None`` when its changes are committed and
    the task awaits its gate (the execution still open, holding the claim)."""
    await run.attached()
    safe = safe_summary(done.summary or tally.last_text, secrets)
    reported = safe or "(no summary)"
    outcome = Outcome(reason=done.reason, summary=reported, reported=reported)
    note_budget_abort(run, tally)
    if tally.budget_stop:
        outcome.reason, outcome.summary = "aborted", "auto-paused (budget)"
        outcome.status = await budget_stop(svc, run, tally, done, reported)
    elif done.reason == "success":
        # The agent's report goes up while the worktree's changes are staged.
        reporting = asyncio.ensure_future(
            svc.db(
                svc.board.report_run, run.task["id"], run.exec_id, reported, run.request.agent_id
            )
        )
        try:
            outcome.status = await land_success(svc, run, reported, done, reporting)
        finally:
            await asyncio.wait({reporting})
        if outcome.status is not None:
            await close(svc, run, "succeeded", tally, done, summary=reported)
    else:
        outcome.status = await failure(svc, run, tally, done, safe, resumed)
    return outcome


async def land(
    svc: Services, run: PreparedRun, tally: RunTally, done: Done, outcome: Outcome, to: str
) -> None:
    """Settle a committed success: move the task to ``to`` while this run holds its claim
    (``claim_lost``: it does not), then close the execution ``succeeded``."""
    if to == "claim_lost":
        current = await svc.db(svc.board.get_task, run.task["id"])
        outcome.status = await late_result(svc, run, current, to, outcome.reported)
        await close(svc, run, "succeeded", tally, done, summary=outcome.reported)
        return
    change = await svc.db(
        svc.board.settle_run,
        run.task["id"],
        run.exec_id,
        to,
        "succeeded",
        **_close_fields(tally, done, summary=outcome.reported),
    )
    outcome.status = (
        to
        if change.ok
        else await late_result(svc, run, change.task, change.reason, outcome.reported)
    )


async def stop(
    svc: Services, run: PreparedRun, tally: RunTally, done: Done, outcome: Outcome, where: str
) -> None:
    """The chain was aborted during or between its steps: say so, close ``cancelled``,
    release."""
    why = run.abort.reason or "aborted"
    await svc.comment(run.task["id"], f"Run aborted: {where} ({why}).")
    await close(
        svc, run, "cancelled", tally, done, error=f"aborted: {why}", summary=outcome.reported
    )
    await svc.release(run)
    outcome.reason, outcome.status = "aborted", "todo"


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


async def close(
    svc: Services,
    run: PreparedRun,
    status: str,
    tally: RunTally,
    done: Done | None,
    *,
    summary: str | None = None,
    error: str | None = None,
) -> None:
    """Close the execution holding the claim with its cost, tokens and native session."""
    await svc.db(
        svc.board.close_execution,
        run.exec_id,
        status,
        **_close_fields(tally, done, summary=summary, error=error),
    )


def _close_fields(
    tally: RunTally, done: Done | None, summary: str | None = None, error: str | None = None
) -> dict:
    return dict(
        summary=summary,
        error=error,
        cost_usd=tally.cost_usd,
        input_tokens=tally.input_tokens,
        output_tokens=tally.output_tokens,
        native_session_id=done.session_id if done else None,
    )


async def budget_stop(
    svc: Services, run: PreparedRun, tally: RunTally, done: Done | None, reported: str
) -> str:
    """A cap budget paused the run: say so, close ``cancelled``, release. Returns ``todo``."""
    scope = tally.budget_stop
    await svc.comment(
        run.task["id"],
        f"Auto-paused: {scope} budget reached. Raise the cap (or resume) to continue.",
    )
    await close(
        svc, run, "cancelled", tally, done, error=f"budget_paused:{scope}", summary=reported
    )
    await svc.release(run)
    return "todo"


async def failure(
    svc: Services, run: PreparedRun, tally: RunTally, done: Done, safe: str, resumed: bool
) -> str:
    """A run that did not succeed: comment, close ``failed``/``cancelled``, release."""
    await svc.comment(run.task["id"], f"Run {done.reason}: {safe or '(no output)'}")
    await close(
        svc,
        run,
        "cancelled" if done.reason == "aborted" else "failed",
        tally,
        done,
        error=safe or done.reason,
        summary=safe or None,
    )
    if run.worktree and resumed:
        _clear_failed_resume(run)
    await svc.release(run)
    return "todo"


async def land_success(
    svc: Services, run: PreparedRun, reported: str, done: Done, reporting: Awaitable[bool]
) -> str | None:
    """After a successful execution (``reporting``: its report going up, then whether this
    run still holds the claim): the handoff, then ``todo`` (kept for resume), a late result,
    ``done`` (nothing changed, the worktree removed) — or ``None`` when the changes were
    committed on the task branch and the task awaits its gate (verify / review)."""
    wt = run.worktree
    if wt is None:
        await reporting
        return await move(svc, run, "done", reported)
    keep = run.request.keep_for_resume
    handoff = Handoff(
        handoff_from=run.request.agent_id,
        runtime=run.descriptor.id,
        timestamp=_now_iso(),
        completed_subtasks=[] if keep else [reported],
        broken_or_unverified=_broken_items(run),
        next_best_step=reported if keep else "",
        native_session_id=done.session_id,
    )
    try:
        write_handoff(wt.path, handoff)
    except OSError as exc:  # e.g. the worktree was deleted mid-run: report up anyway
        log.warning("run %s: could not write the handoff: %s", run.exec_id, exc)
    if keep:
        await reporting
        await svc.release(run)
        return "todo"
    task_id = run.task["id"]
    env = svc.config.env
    problem: worktrees.WorktreeError | None = None
    try:
        changed = await worktrees.has_changes(wt, env)  # only stages: commits wait for the claim
    except worktrees.WorktreeError as exc:
        changed, problem = False, exc
    if not await reporting:
        # Someone moved the task and another run may own it (and this worktree) now.
        current = await svc.db(svc.board.get_task, task_id)
        return await late_result(svc, run, current, "claim_lost", reported)
    if changed:
        try:
            await worktrees.commit_changes(
                wt, f"clawboo: task {task_id} — {run.task['title']}", env, staged=True
            )
            return None
        except worktrees.WorktreeError as exc:
            problem = exc
    if problem is not None:
        # The work is still in the worktree; a person must look before it is lost.
        await svc.comment(task_id, f"[changes not committed] {problem}")
        await svc.release(run)
        return "todo"
    status = await move(svc, run, "done", reported)
    if status == "done":
        await worktrees.remove(wt, env, delete_branch=True)
        if run.workspace_id:
            await svc.db(svc.board.set_workspace_status, run.workspace_id, "archived")
        await svc.db(svc.board.clear_task_refs, task_id)
    return status


async def move(svc: Services, run: PreparedRun, to: str, reported: str) -> str:
    """Move the task while this run holds its claim; else a late-result comment."""
    task_id = run.task["id"]
    change = await svc.db(svc.board.update_status, task_id, to, claim_exec_id=run.exec_id)
    if change.ok:
        return to
    current = await svc.db(svc.board.get_task, task_id)
    return await late_result(svc, run, current, change.reason, reported)


async def late_result(
    svc: Services, run: PreparedRun, current: dict | None, reason: str | None, reported: str
) -> str:
    """The run finished but the task is no longer its to move: say so on the task."""
    why = LATE_REASONS.get(reason, reason)
    if current is not None:
        await svc.comment(run.task["id"], f"[late result — {why}] {reported}")
    return current["status"] if current else "unknown"


def _broken_items(run: PreparedRun) -> list[str]:
    """What the next run must double-check: an interrupted attempt, prior open items."""
    items: list[str] = []
    crash = last_crash(run)
    if crash is not None:
        items.append(
            f"A previous attempt was interrupted ({crash['error'] or 'no reason recorded'}) "
            "and the outcome of whatever it was doing is UNKNOWN — verify before redoing "
            "anything with a side effect."
        )
    prior = read_handoff(run.worktree.path) if run.worktree else None
    return items + (prior.broken_or_unverified if prior else [])


def _clear_failed_resume(run: PreparedRun) -> None:
    handoff = read_handoff(run.worktree.path)
    if handoff is None:
        return
    handoff.native_session_id = None
    handoff.warnings = [
        *handoff.warnings,
        "a native session resume failed; the session id was cleared",
    ]
    write_handoff(run.worktree.path, handoff)
