"""Drive one board task on one runtime: refusals → claim → workspace → run → report-up.

``prepare`` does everything that can still be answered with a plain JSON refusal (the
ordered pre-claim refusals, the atomic claim, the execution row, the worktree); ``execute``
runs the plugin and always finishes the bookkeeping: one comment, the execution closed
exactly once, the task driven to a real status or released. Abort (client gone, the abort
route, a cap budget) travels as the run's :class:`AbortSignal` to the plugin, which kills
its process tree.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import psutil

from . import run_processes, worktrees
from .board.store import BoardStore
from .config import HostConfig
from .handoff import Handoff, read_handoff, resume_block, write_handoff
from .isolation import Sandbox
from .keys import KeyResolver
from .plugin_api.childenv import build_child_env
from .plugin_api.types import (
    AbortSignal,
    CostEvent,
    Done,
    ErrorEvent,
    RunContext,
    RuntimeDescriptor,
    TextDelta,
)
from .pricing import estimate_cost_usd
from .redaction import redact_json, safe_summary
from .registry import RuntimeRegistry
from .run_tokens import RunScope, RunTokens

log = logging.getLogger(__name__)

ASSIGNEE_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")
NO_ISOLATION_KINDS = frozenset({"research", "review"})
DEFAULT_MAX_DEPTH = 2
ABORT_GRACE_S = 10.0  # after an abort, how long a plugin may take to finish on its own
SILENT_TIMEOUT_S = 1800.0  # a run with no event for this long is aborted
MAX_TEXT_TAIL = 20_000  # the summary fallback keeps this much of the streamed text
MAX_PROMPT_BYTES = 120_000  # under Linux's 128 KiB limit on one argv element
HOME_LOCK_TIMEOUT_S = 600.0
NO_ISOLATION_COMMENT = (
    "[blocked: no isolation] This task changes files, so it needs an isolated git worktree, "
    "but no repository path was provided for it."
)
DEGRADATIONS = (
    ("resume", "resume-via-handoff (no native resume)"),
    ("tool_approval", "approvals-via-clawboo (no native tool approval)"),
    ("streaming", "coarse-streaming (no native token stream)"),
)

EventSink = Callable[[dict], Awaitable[None]]


class RunRefused(Exception):
    """A run that must not start. ``body`` is the JSON reply, ``status_code`` its status."""

    def __init__(self, status_code: int, body: dict) -> None:
        super().__init__(body.get("reason") or body.get("error"))
        self.status_code = status_code
        self.body = body


@dataclass(frozen=True)
class RunRequest:
    task_id: str
    agent_id: str
    repo_path: str | None = None
    kind: str = "code"
    model: str | None = None
    keep_for_resume: bool = False


@dataclass
class PreparedRun:
    """A claimed task with its execution row and workspace, ready to execute."""

    descriptor: RuntimeDescriptor
    request: RunRequest
    task: dict
    exec_id: str
    abort: AbortSignal
    mission_id: str
    worktree: worktrees.Worktree | None = None
    workspace_id: str | None = None
    degradations: list[str] = field(default_factory=list)


@dataclass
class RunTally:
    """What the event stream told us, accumulated."""

    last_text: str = ""
    cost_usd: float | None = None
    estimated: bool = False
    input_tokens: int = 0
    output_tokens: int = 0
    done: Done | None = None
    budget_stop: str | None = None
    silent: bool = False


def owner_boot() -> str:
    """This process's start time: with the pid it identifies the process across pid reuse."""
    return repr(psutil.Process().create_time())


def is_owner_alive(pid: int | None, boot: str | None) -> bool:
    if pid is None:
        return False
    try:
        return repr(psutil.Process(pid).create_time()) == boot
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return False


def _segment(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", value) or "_default"


class Executor:
    def __init__(
        self,
        config: HostConfig,
        registry: RuntimeRegistry,
        board: BoardStore,
        keys: KeyResolver,
        tokens: RunTokens,
    ) -> None:
        self.config = config
        self.registry = registry
        self.board = board
        self.keys = keys
        self.tokens = tokens
        self.boot = owner_boot()
        self.live: dict[str, AbortSignal] = {}
        self.sandbox: Sandbox | None = None  # set by the host once it has probed for one
        self._home_locks: dict[str, anyio.Lock] = {}

    async def _db(self, fn, *args, **kwargs):
        return await anyio.to_thread.run_sync(lambda: fn(*args, **kwargs))

    @property
    def max_depth(self) -> int:
        """Ancestors a dispatchable task may have (``CLAWBOO_MAX_SPAWN_DEPTH``, default 2)."""
        try:
            value = int(self.config.env.get("CLAWBOO_MAX_SPAWN_DEPTH", DEFAULT_MAX_DEPTH))
        except ValueError:
            return DEFAULT_MAX_DEPTH
        return value if value >= 0 else DEFAULT_MAX_DEPTH

    def env_seconds(self, name: str, default: float) -> float:
        return self.config.env_float(name, default)

    # ------------------------------------------------------------------ recovery

    async def recover(self) -> list[str]:
        """Close executions whose host process is gone and release their tasks."""
        closed = await self._db(
            self.board.recover_orphans, self._is_owner_alive, run_processes.stop_orphaned
        )
        if closed:
            log.warning("recovered %d interrupted execution(s)", len(closed))
        await anyio.to_thread.run_sync(self._remove_stale_scratch)
        return closed

    def _is_owner_alive(self, pid: int | None, boot: str | None) -> bool:
        # This process's own runs are live: never re-measure its start time, which psutil
        # derives from the wall clock and which so moves when the clock is stepped.
        if pid == os.getpid() and boot == self.boot:
            return True
        return is_owner_alive(pid, boot)

    def _remove_stale_scratch(self) -> None:
        """Delete per-run scratch dirs left behind by runs that are no longer running."""
        runs_dir = self.config.data_dir / "runs"
        if not runs_dir.is_dir():
            return
        for entry in runs_dir.iterdir():
            execution = self.board.get_execution(entry.name)
            if execution is None or execution["status"] != "running":
                shutil.rmtree(entry, ignore_errors=True)

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

    # ------------------------------------------------------------------ prepare

    async def prepare(
        self, runtime_id: str, request: RunRequest, abort: AbortSignal
    ) -> PreparedRun:
        """Refuse (raising :class:`RunRefused`) or claim the task and set up its workspace."""
        descriptor = self.registry.descriptors[runtime_id]
        caps = descriptor.capabilities
        task = await self._db(self.board.get_task, request.task_id)
        if task is None:
            raise RunRefused(404, {"ok": False, "reason": "not_found"})
        ancestors = await self._db(self.board.ancestors, task["id"])
        if len(ancestors) > self.max_depth:
            raise RunRefused(422, {"ok": False, "reason": "too_deep"})
        if caps.runtime_class == "connected-substrate":
            raise RunRefused(422, {"ok": False, "reason": "connected_substrate"})
        mission_id = ancestors[-1]["id"] if ancestors else task["id"]
        scopes = [("agent", request.agent_id), ("mission", mission_id), ("team", task["team_id"])]
        if await self._db(self.board.paused_cap_budget, scopes):
            raise RunRefused(422, {"ok": False, "reason": "budget_paused"})
        needs_worktree = caps.worktrees and request.kind not in NO_ISOLATION_KINDS
        if request.repo_path and needs_worktree:
            await self._check_repo(request.repo_path)
        execution = None
        if not abort.is_set:
            execution = await self._db(
                self.board.claim_for_run,
                task["id"],
                request.agent_id,
                runtime_id,
                run_reason="run" if caps.resume else "resume-via-handoff",
                owner_pid=os.getpid(),
                owner_boot=self.boot,
            )
        if execution is None:
            raise RunRefused(409, {"ok": False, "reason": "conflict"})
        prepared = PreparedRun(
            descriptor=descriptor,
            request=request,
            task=task,
            exec_id=execution["id"],
            abort=abort,
            mission_id=mission_id,
            degradations=[note for attr, note in DEGRADATIONS if not getattr(caps, attr)],
        )
        self.live[prepared.exec_id] = abort
        try:
            await self._acquire_workspace(prepared, needs_worktree)
        except RunRefused:
            self.live.pop(prepared.exec_id, None)
            raise
        except BaseException as exc:
            with anyio.CancelScope(shield=True):
                await self._fail_safe(prepared, exc)
            raise
        return prepared

    async def _check_repo(self, repo_path: str) -> None:
        if not os.path.isabs(repo_path):
            raise RunRefused(400, {"error": f"repoPath must be an absolute path: {repo_path}"})
        if not await worktrees.is_git_repo(Path(repo_path), self.config.env):
            raise RunRefused(400, {"error": f"not a git repository: {repo_path}"})

    async def _acquire_workspace(self, run: PreparedRun, needs_worktree: bool) -> None:
        """Reuse the task's worktree, or cut a new one; refuse a file-changing run without one."""
        task_id = run.task["id"]
        existing = await self._db(self.board.get_workspace, task_id)
        repo = run.request.repo_path
        if existing and existing["status"] != "archived" and existing["worktree_path"]:
            if Path(existing["worktree_path"]).is_dir() and (
                not repo or os.path.realpath(repo) == os.path.realpath(existing["repo_path"])
            ):
                repo = existing["repo_path"]
                needs_worktree = True
        if not needs_worktree:
            return
        if not repo:
            await self._db(
                self.board.add_comment, task_id, NO_ISOLATION_COMMENT, author_type="system"
            )
            await self._db(
                self.board.close_execution,
                run.exec_id,
                "failed",
                error="workspace_unavailable: no repository path was provided",
            )
            await self._release(run)
            raise RunRefused(422, {"ok": False, "reason": "workspace_unavailable"})
        try:
            wt = await worktrees.provision(
                Path(repo),
                task_id,
                worktrees_dir=self.config.worktrees_dir,
                env=self.config.env,
                task_title=run.task["title"],
                task_description=run.task["description"] or "",
            )
        except worktrees.NotAGitRepository as exc:
            await self._undo_claim(run, str(exc))
            raise RunRefused(400, {"error": str(exc)}) from None
        except worktrees.WorktreeError as exc:
            await self._undo_claim(run, str(exc))
            raise RunRefused(422, {"ok": False, "reason": "workspace_unavailable"}) from None
        workspace = await self._db(
            self.board.save_workspace,
            task_id,
            str(wt.repo_path),
            wt.branch,
            str(wt.path),
            wt.base_commit,
        )
        run.worktree = wt
        run.workspace_id = workspace["id"] if workspace else None
        await self._db(self.board.set_execution_workspace, run.exec_id, run.workspace_id)

    async def _undo_claim(self, run: PreparedRun, error: str) -> None:
        await self._db(self.board.close_execution, run.exec_id, "failed", error=error)
        await self._release(run)

    async def _release(self, run: PreparedRun) -> bool:
        """Back to ``todo`` — only while this run still holds the task's claim."""
        return await self._db(self.board.release, run.task["id"], claim_exec_id=run.exec_id)

    async def _fail_safe(self, run: PreparedRun, exc: BaseException) -> None:
        """The safety net for an unexpected error after the claim: never leave it stuck."""
        message = str(exc) or type(exc).__name__
        log.error("run %s failed unexpectedly: %s", run.exec_id, message)
        try:
            await self._db(self.board.close_execution, run.exec_id, "failed", error=message)
            await self._release(run)
        finally:
            self.live.pop(run.exec_id, None)

    # ------------------------------------------------------------------ execute

    async def execute(self, run: PreparedRun, on_event: EventSink | None = None) -> dict:
        """Run the plugin and report up. Returns the 200 response body."""
        home_lock = self._home_lock(run)
        token: str | None = None
        scratch = self.config.data_dir / "runs" / run.exec_id
        try:
            ctx, token, secrets = await self._context(run, scratch)
            locked = home_lock is None
            if home_lock is not None:
                locked = await self._acquire_home(home_lock, run.abort)
            try:
                if locked:
                    with run_processes.track(
                        self.board, run.exec_id, self.sandbox, own_dirs=(ctx.home_dir, scratch)
                    ):
                        tally = await self._drive(run, ctx, on_event, secrets)
                elif run.abort.is_set:  # aborted while it waited its turn: never started
                    tally = RunTally(done=Done("aborted", summary=""))
                else:
                    tally = RunTally(
                        done=Done(
                            "error",
                            summary=(
                                "timed out waiting for another run of this agent to finish "
                                "(runs sharing a runtime's identity home take turns)"
                            ),
                        )
                    )
                with anyio.CancelScope(shield=True):
                    return await self._report(run, ctx, tally, secrets)
            finally:
                if home_lock is not None and locked:
                    home_lock.release()
        except BaseException as exc:
            with anyio.CancelScope(shield=True):
                await self._fail_safe(run, exc)
            raise
        finally:
            if token:
                self.tokens.revoke(token)
            self.live.pop(run.exec_id, None)
            # A runtime's scratch can hold a whole private HOME: delete it off the event loop.
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(lambda: shutil.rmtree(scratch, ignore_errors=True))

    async def _acquire_home(self, lock: anyio.Lock, abort: AbortSignal) -> bool:
        """Wait for the identity home's turn: False on the timeout or when aborted first."""
        locked = False
        with anyio.move_on_after(
            self.env_seconds("CLAWBOO_HOME_LOCK_TIMEOUT_S", HOME_LOCK_TIMEOUT_S)
        ):
            async with anyio.create_task_group() as tg:

                async def stop_on_abort() -> None:
                    await abort.wait()
                    tg.cancel_scope.cancel()

                tg.start_soon(stop_on_abort)
                await lock.acquire()
                locked = True
                tg.cancel_scope.cancel()
        return locked

    def _home_dir(self, run: PreparedRun) -> Path | None:
        home = run.descriptor.capabilities.native_home
        if home is None or not home.persist:
            return None
        return (
            self.config.runtimes_dir / _segment(run.descriptor.id) / _segment(run.request.agent_id)
        )

    def _home_lock(self, run: PreparedRun) -> anyio.Lock | None:
        """Runs sharing a persistent identity home take turns (a CLI's state isn't shareable)."""
        home = self._home_dir(run)
        if home is None:
            return None
        return self._home_locks.setdefault(str(home), anyio.Lock())

    async def _context(
        self, run: PreparedRun, scratch: Path
    ) -> tuple[RunContext, str | None, list[str]]:
        descriptor = run.descriptor
        names = await anyio.to_thread.run_sync(
            self.registry.key_names, descriptor.id, self.config.env
        )
        grants = await self._db(self.keys.grants_for_runtime, descriptor.id, names)
        env = build_child_env(self.config.env, grants)
        home = self._home_dir(run)
        if home is not None:
            home.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.chmod(home, 0o700)
        scratch.mkdir(parents=True, exist_ok=True, mode=0o700)

        token = None
        mcp_url = None
        if descriptor.capabilities.mcp and self.config.port:
            mcp_url = f"http://127.0.0.1:{self.config.port}/api/mcp/tasks"
            token = self.tokens.mint(
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
        prompt = await self._prompt(run, handoff, mcp_url is not None)
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
        )
        secrets = list(grants.values()) + ([token] if token else [])
        return ctx, token, secrets

    async def _prompt(self, run: PreparedRun, handoff: Handoff | None, has_mcp: bool) -> str:
        task = run.task
        context = [resume_block(handoff)]
        if has_mcp:
            context.append(
                "The clawboo Tasks board is available to you over MCP (server `clawboo-tasks`): "
                "call `list_tasks` before starting so you don't duplicate a teammate's work, "
                "`add_comment` to report progress, `create_subtask` to split the work and "
                "`update_task_status` to move tasks. Report a concise summary when done."
            )
        else:
            context.append("Report a concise summary when done.")
        if run.degradations:
            context.append(f"Degradations applied: {'; '.join(run.degradations)}.")
        context.append(await self._interrupted_note(run))
        rest = "\n\n".join(part for part in context if part)
        description = task["description"] or ""
        # CLIs take the prompt as one argv element, which Linux caps at 128 KiB.
        room = MAX_PROMPT_BYTES - len(f"# Task: {task['title']}\n\n\n\n{rest}".encode())
        if len(description.encode()) > room:
            where = "TASK.md at the root of your worktree" if run.worktree else "the board task"
            note = f"\n\n[The description was shortened to fit; the full text is in {where}.]"
            keep = max(room - len(note.encode()), 0)
            description = description.encode()[:keep].decode(errors="ignore") + note
        task_block = f"# Task: {task['title']}\n\n{description}".rstrip()
        return f"{task_block}\n\n{rest}" if rest else task_block

    async def _last_crash(self, run: PreparedRun) -> dict | None:
        """The previous attempt, when it was cut short by a host crash (a recovery tombstone)."""
        previous = [
            e
            for e in await self._db(self.board.list_executions, run.task["id"])
            if e["id"] != run.exec_id and e["status"] != "running"
        ]
        if previous and previous[-1]["recovery_tombstone"]:
            return previous[-1]
        return None

    async def _interrupted_note(self, run: PreparedRun) -> str:
        crash = await self._last_crash(run)
        if crash is None:
            return ""
        reason = crash["error"] or "no reason recorded"
        if run.worktree is None:
            return (
                "## A previous attempt at this task was interrupted\n"
                f"({reason}). Nothing was kept from it: start from the beginning."
            )
        return (
            "## A previous attempt at this task was interrupted mid-run\n"
            f"({reason}). The outcome of whatever it was doing is unknown: check `git status` "
            "and `git log` in this worktree before redoing anything with side effects."
        )

    async def _drive(
        self, run: PreparedRun, ctx: RunContext, on_event: EventSink | None, secrets
    ) -> RunTally:
        """Consume the plugin's events; enforce budgets; bound silence and the wait after
        an abort."""
        tally = RunTally()
        try:
            events = self.registry.stream(run.descriptor.id, "clawboo_runtime_run", ctx=ctx)
        except Exception as exc:  # a hook that raises before streaming: a failed run too
            log.exception("runtime %s crashed", run.descriptor.id)
            tally.done = Done("error", summary=f"runtime error: {exc}")
            return tally
        if events is None:
            tally.done = Done("error", summary=f"{run.descriptor.name} cannot run tasks yet")
            return tally
        silent_limit = self.env_seconds("CLAWBOO_RUN_SILENT_TIMEOUT_S", SILENT_TIMEOUT_S)
        last_event = [anyio.current_time()]

        async def consume() -> None:
            async for event in events:
                last_event[0] = anyio.current_time()
                if on_event is not None and not isinstance(event, Done):
                    # The final ``result`` frame stands for Done. Frames are redacted
                    # like comments: a runtime may echo a key it was given.
                    with contextlib.suppress(Exception):  # a gone client can't break the run
                        await on_event(redact_json(event.to_json(), secrets))
                if isinstance(event, TextDelta) and event.channel != "reasoning":
                    tally.last_text = (tally.last_text + event.text)[-MAX_TEXT_TAIL:]
                elif isinstance(event, CostEvent):
                    await self._account(run, tally, event)
                elif isinstance(event, ErrorEvent):
                    log.info("run %s reported: %s", run.exec_id, event.message)
                elif isinstance(event, Done):
                    tally.done = event
                    return

        async def bound_after_abort(scope: anyio.CancelScope) -> None:
            await run.abort.wait()
            await anyio.sleep(ABORT_GRACE_S)
            scope.cancel()

        async def watch_silence() -> None:
            while not run.abort.is_set:
                idle = anyio.current_time() - last_event[0]
                if idle >= silent_limit:
                    tally.silent = True
                    run.abort.set("silent")
                    return
                await anyio.sleep(min(silent_limit - idle, 5.0))

        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(bound_after_abort, tg.cancel_scope)
                tg.start_soon(watch_silence)
                try:
                    await consume()
                except Exception as exc:  # a plugin crash is a failed run, not a 500
                    log.exception("runtime %s crashed", run.descriptor.id)
                    tally.done = Done("error", summary=f"runtime error: {exc}")
                tg.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                try:
                    await events.aclose()
                except Exception:
                    log.exception("runtime %s failed to close", run.descriptor.id)
        if tally.silent:
            minutes = silent_limit / 60
            tally.done = Done(
                "error",
                summary=f"runtime silent: no events for {minutes:g} minutes — the run was aborted",
            )
        elif tally.done is None:
            if run.abort.is_set:
                tally.done = Done("aborted", summary="")
            else:
                tally.done = Done("error", summary="the runtime ended without a result")
        elif run.abort.is_set and tally.done.reason == "success":
            tally.done = Done("aborted", tally.done.summary, tally.done.session_id)
        return tally

    async def _account(self, run: PreparedRun, tally: RunTally, event: CostEvent) -> None:
        usd = event.cost_usd
        if usd is None:
            if not (event.input_tokens or event.output_tokens):
                return
            usd = estimate_cost_usd(
                event.model or run.request.model, event.input_tokens, event.output_tokens
            )
            tally.estimated = True
        tally.cost_usd = (tally.cost_usd or 0.0) + usd
        tally.input_tokens += max(event.input_tokens, 0)
        tally.output_tokens += max(event.output_tokens, 0)
        scopes = [
            ("agent", run.request.agent_id),
            ("mission", run.mission_id),
            ("team", run.task["team_id"]),
        ]
        for scope, scope_id in scopes:
            if scope_id:
                await self._db(self.board.record_spend, scope, scope_id, usd)
        stop = await self._db(self.board.paused_cap_budget, scopes)
        if stop and tally.budget_stop is None:
            tally.budget_stop = stop[0]
            run.abort.set("budget")

    async def _report(self, run: PreparedRun, ctx: RunContext, tally: RunTally, secrets) -> dict:
        task_id = run.task["id"]
        done = tally.done
        safe = safe_summary(done.summary or tally.last_text, secrets)
        reported = safe or "(no summary)"
        close = dict(
            cost_usd=tally.cost_usd,
            input_tokens=tally.input_tokens,
            output_tokens=tally.output_tokens,
            native_session_id=done.session_id,
        )
        summary = reported
        if tally.budget_stop:
            scope = tally.budget_stop
            await self._comment(
                task_id,
                f"Auto-paused: {scope} budget reached. Raise the cap (or resume) to continue.",
            )
            await self._db(
                self.board.close_execution,
                run.exec_id,
                "cancelled",
                error=f"budget_paused:{scope}",
                summary=reported,
                **close,
            )
            await self._release(run)
            reason, status, summary = "aborted", "todo", "auto-paused (budget)"
        elif done.reason == "success":
            await self._db(
                self.board.add_comment,
                task_id,
                reported,
                author_type="agent",
                author_agent_id=run.request.agent_id,
            )
            await self._db(
                self.board.close_execution, run.exec_id, "succeeded", summary=reported, **close
            )
            reason, status = "success", await self._finish_success(run, reported, done)
        else:
            await self._comment(task_id, f"Run {done.reason}: {safe or '(no output)'}")
            await self._db(
                self.board.close_execution,
                run.exec_id,
                "cancelled" if done.reason == "aborted" else "failed",
                error=safe or done.reason,
                summary=safe or None,
                **close,
            )
            if run.worktree and ctx.resume_session_id:
                self._clear_failed_resume(run)
            await self._release(run)
            reason, status = done.reason, "todo"
        return {
            "ok": True,
            "runtimeId": run.descriptor.id,
            "execId": run.exec_id,
            "doneReason": reason,
            "status": status,
            "summary": summary,
            "costUsd": round(tally.cost_usd, 6) if tally.cost_usd is not None else None,
            "usedWorktree": run.worktree is not None,
            "degradations": run.degradations,
            "usage": {"inputTokens": tally.input_tokens, "outputTokens": tally.output_tokens},
            "costEstimated": tally.estimated,
        }

    async def _comment(self, task_id: str, body: str) -> None:
        await self._db(self.board.add_comment, task_id, body, author_type="system")

    async def _finish_success(self, run: PreparedRun, reported: str, done: Done) -> str:
        """done (no changes) / in_review (changes committed on the task branch) / todo (paused)."""
        task_id = run.task["id"]
        wt = run.worktree
        env = self.config.env
        if wt is not None:
            keep = run.request.keep_for_resume
            handoff = Handoff(
                handoff_from=run.request.agent_id,
                runtime=run.descriptor.id,
                timestamp=_now_iso(),
                completed_subtasks=[] if keep else [reported],
                broken_or_unverified=await self._broken_items(run),
                next_best_step=reported if keep else "",
                native_session_id=done.session_id,
            )
            try:
                write_handoff(wt.path, handoff)
            except OSError as exc:  # e.g. the worktree was deleted mid-run: report up anyway
                log.warning("run %s: could not write the handoff: %s", run.exec_id, exc)
            if keep:
                await self._release(run)
                return "todo"
            current = await self._db(self.board.get_task, task_id)
            if current is None or current["claim_exec_id"] != run.exec_id:
                # Someone moved the task and another run may own it (and this worktree) now.
                return await self._late_result(task_id, current, "claim_lost", reported)
            try:
                if await worktrees.has_changes(wt, env):
                    await worktrees.commit_changes(
                        wt, f"clawboo: task {task_id} — {run.task['title']}", env
                    )
                    return await self._move(run, "in_review", reported)
            except worktrees.WorktreeError as exc:
                # The work is still in the worktree; a person must look before it is lost.
                await self._comment(task_id, f"[changes not committed] {exc}")
                await self._release(run)
                return "todo"
            status = await self._move(run, "done", reported)
            if status == "done":
                await worktrees.remove(wt, env, delete_branch=True)
                if run.workspace_id:
                    await self._db(self.board.set_workspace_status, run.workspace_id, "archived")
                await self._db(self.board.clear_task_refs, task_id)
            return status
        return await self._move(run, "done", reported)

    async def _broken_items(self, run: PreparedRun) -> list[str]:
        """What the next run must double-check: an interrupted attempt, prior open items."""
        items: list[str] = []
        crash = await self._last_crash(run)
        if crash is not None:
            items.append(
                f"A previous attempt was interrupted ({crash['error'] or 'no reason recorded'}) "
                "and the outcome of whatever it was doing is UNKNOWN — verify before redoing "
                "anything with a side effect."
            )
        prior = read_handoff(run.worktree.path) if run.worktree else None
        return items + (prior.broken_or_unverified if prior else [])

    async def _move(self, run: PreparedRun, to: str, reported: str) -> str:
        task_id = run.task["id"]
        change = await self._db(self.board.update_status, task_id, to, claim_exec_id=run.exec_id)
        if change.ok:
            return to
        current = await self._db(self.board.get_task, task_id)
        return await self._late_result(task_id, current, change.reason, reported)

    async def _late_result(
        self, task_id: str, current: dict | None, reason: str | None, reported: str
    ) -> str:
        """The run finished but the task is no longer its to move: say so on the task."""
        why = {
            "not_found": "the task no longer exists",
            "illegal_transition": "the task had been moved before this run finished",
            "claim_lost": "the task had been released before this run finished",
        }.get(reason, reason)
        if current is not None:
            await self._comment(task_id, f"[late result — {why}] {reported}")
        return current["status"] if current else "unknown"

    def _clear_failed_resume(self, run: PreparedRun) -> None:
        handoff = read_handoff(run.worktree.path)
        if handoff is None:
            return
        handoff.native_session_id = None
        handoff.warnings = [
            *handoff.warnings,
            "a native session resume failed; the session id was cleared",
        ]
        write_handoff(run.worktree.path, handoff)


def _now_iso() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
