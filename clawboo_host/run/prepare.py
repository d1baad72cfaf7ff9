"""Step 1, everything still answerable with a plain JSON refusal: the ordered refusals, the
atomic claim (with its execution row), and the workspace."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from .. import worktrees
from ..plugin_api.binaries import aresolve_binary
from ..plugin_api.types import AbortSignal, RuntimeDescriptor
from .model import PreparedRun, RunRefused, RunRequest
from .services import Services

if TYPE_CHECKING:
    from ..board.runs import RunStart

T = TypeVar("T")

NO_ISOLATION_KINDS = frozenset({"research", "review"})
DEFAULT_MAX_DEPTH = 2
NO_ISOLATION_COMMENT = (
    "[blocked: no isolation] This task changes files, so it needs an isolated git worktree, "
    "but no repository path was provided for it."
)
DEGRADATIONS = (
    ("resume", "resume-via-handoff (no native resume)"),
    ("tool_approval", "approvals-via-clawboo (no native tool approval)"),
    ("streaming", "coarse-streaming (no native token stream)"),
)


def max_depth(svc: Services) -> int:
    """Ancestors a dispatchable task may have (``CLAWBOO_MAX_SPAWN_DEPTH``, default 2)."""
    try:
        value = int(svc.config.env.get("CLAWBOO_MAX_SPAWN_DEPTH", DEFAULT_MAX_DEPTH))
    except ValueError:
        return DEFAULT_MAX_DEPTH
    return value if value >= 0 else DEFAULT_MAX_DEPTH


async def refuse_or_claim(
    svc: Services,
    runtime_id: str,
    request: RunRequest,
    abort: AbortSignal,
    *,
    owner_pid: int,
    owner_boot: str,
) -> tuple[PreparedRun, bool]:
    """Raise :class:`RunRefused` (touching nothing) or claim the task.

    Returns the claimed run and whether it needs a worktree.
    """
    descriptor = svc.registry.descriptors[runtime_id]
    caps = descriptor.capabilities
    needs_worktree = caps.worktrees and request.kind not in NO_ISOLATION_KINDS
    # What does not need the board is found out first; the refusals still come in their
    # order, decided inside the claim's transaction (one board round trip).
    cli = await _outcome(_resolve_cli(svc, descriptor))
    repo = (
        await _outcome(_check_repo(svc, request.repo_path))
        if request.repo_path and needs_worktree
        else None
    )
    depth = max_depth(svc)

    def check(start: RunStart) -> None:
        if start.task is None:
            raise RunRefused({"ok": False, "reason": "not_found"})
        if len(start.ancestors) > depth:
            raise RunRefused({"ok": False, "reason": "too_deep"})
        if caps.runtime_class == "connected-substrate":
            raise RunRefused({"ok": False, "reason": "connected_substrate"})
        if isinstance(cli, RunRefused):
            raise cli
        if start.paused_budget:
            raise RunRefused({"ok": False, "reason": "budget_paused"})
        if isinstance(repo, RunRefused):
            raise repo
        if abort.is_set:
            raise RunRefused({"ok": False, "reason": "conflict"})

    claim = await svc.db(
        svc.board.claim_run,
        request.task_id,
        request.agent_id,
        descriptor.id,
        check=check,
        run_reason="run" if caps.resume else "resume-via-handoff",
        owner_pid=owner_pid,
        owner_boot=owner_boot,
        host_id=svc.host_id,
    )
    if claim is None:
        raise RunRefused({"ok": False, "reason": "conflict"})
    task = claim.start.task
    run = PreparedRun(
        descriptor=descriptor,
        request=request,
        task=task,
        exec_id=claim.execution["id"],
        abort=abort,
        mission_id=claim.start.mission_id,
        degradations=[note for attr, note in DEGRADATIONS if not getattr(caps, attr)],
        bin_path=cli,
        claimed_workspace=claim.workspace,
        previous_execution=claim.previous,
    )
    return run, needs_worktree


async def _outcome(step: Awaitable[T]) -> T | RunRefused:
    """A refusal step's result, or the refusal it raised (to be raised in its turn)."""
    try:
        return await step
    except RunRefused as refusal:
        return refusal


async def _resolve_cli(svc: Services, descriptor: RuntimeDescriptor) -> str | None:
    """The runtime's CLI, resolved once for the whole run; a missing one is refused here,
    before the claim, so the board is untouched."""
    if descriptor.built_in or not descriptor.cli_binary:
        return None
    found = await aresolve_binary(descriptor.cli_binary, svc.config.env)
    if found is None:
        raise RunRefused(
            {
                "ok": False,
                "reason": "not_installed",
                "error": f"{descriptor.cli_binary} not found on PATH or user-install dirs",
            },
        )
    return found


async def _check_repo(svc: Services, repo_path: str) -> None:
    if not os.path.isabs(repo_path):
        raise RunRefused({"error": f"repoPath must be an absolute path: {repo_path}"})
    if not await worktrees.is_git_repo(Path(repo_path), svc.config.env):
        raise RunRefused({"error": f"not a git repository: {repo_path}"})


async def acquire_workspace(svc: Services, run: PreparedRun, needs_worktree: bool) -> None:
    """Reuse the task's worktree, or cut a new one; refuse a file-changing run without one.

    A refusal here comes after the claim, so it also closes the execution and releases the task.
    """
    task_id = run.task["id"]
    existing = run.claimed_workspace
    repo = run.request.repo_path
    # A worktree the board records but this disk lacks: made by another host (or deleted).
    elsewhere = None
    if existing and existing["status"] != "archived" and existing["worktree_path"]:
        if Path(existing["worktree_path"]).is_dir() and (
            not repo or os.path.realpath(repo) == os.path.realpath(existing["repo_path"])
        ):
            repo = existing["repo_path"]
            needs_worktree = True
        elif not Path(existing["worktree_path"]).is_dir():
            elsewhere = existing["worktree_path"]
    if not needs_worktree:
        return
    if not repo:
        await svc.comment(task_id, NO_ISOLATION_COMMENT)
        await _undo_claim(svc, run, "workspace_unavailable: no repository path was provided")
        raise RunRefused({"ok": False, "reason": "workspace_unavailable"})
    try:
        wt = await worktrees.provision(
            Path(repo),
            task_id,
            worktrees_dir=svc.config.worktrees_dir,
            env=svc.config.env,
            task_title=run.task["title"],
            task_description=run.task["description"] or "",
        )
    except worktrees.NotAGitRepository as exc:
        await _undo_claim(svc, run, str(exc))
        raise RunRefused({"error": str(exc)}) from None
    except worktrees.WorktreeError as exc:
        await _undo_claim(svc, run, str(exc))
        raise RunRefused({"ok": False, "reason": "workspace_unavailable"}) from None
    if elsewhere and wt.cut_from_head:
        await svc.comment(
            task_id,
            f"[fresh worktree] The task's earlier worktree ({elsewhere}) is not on this host "
            f"and {wt.repo_path} has no branch {wt.branch}: this run starts from HEAD.",
        )
    run.worktree = wt
    # The board records the workspace while the runtime starts (see PreparedRun.attached).
    run.workspace_attaching = asyncio.ensure_future(
        svc.db(
            svc.board.attach_workspace,
            run.exec_id,
            task_id,
            str(wt.repo_path),
            wt.branch,
            str(wt.path),
            wt.base_commit,
        )
    )


async def _undo_claim(svc: Services, run: PreparedRun, error: str) -> None:
    await svc.db(svc.board.close_execution, run.exec_id, "failed", error=error)
    await svc.release(run)
