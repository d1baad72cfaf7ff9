"""Verify before done: the task's deterministic check, run after a successful execution that
changed files, with its evidence recorded on the task branch and the board.

The command is fixed when the run starts — the task's ``verifyCommand``, else ``VERIFY_CMD``
from the worktree's ``init.sh`` as it stood then — so an agent editing ``init.sh`` mid-run does
not pick its own exam. It runs with ``bash -c`` in the worktree, in its own process group,
with the scrubbed child environment (no provider keys, no run token), bounded by
``CLAWBOO_VERIFY_TIMEOUT_S``; the abort signal kills its whole tree.
"""

from __future__ import annotations

import contextlib
import logging
import re
import shlex
from collections import deque
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import anyio

from .. import run_processes, worktrees
from ..plugin_api.childenv import build_child_env
from ..plugin_api.process import spawn
from ..plugin_api.text import tail
from ..plugin_api.types import Done
from ..redaction import redact_known
from . import report
from .accounting import check_budgets
from .model import EventSink, PreparedRun, RunTally
from .services import Services

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 600.0
DEFAULT_MAX_ATTEMPTS = 2
OUTPUT_TAIL_CHARS = 4_000
_KEEP_CHARS = 64 * 1024  # raw output kept for redaction before the tail is cut
PLACEHOLDER_MARK = "configure VERIFY_CMD"  # the scaffold's placeholder counts as unset
FIX_HEADING = "## Verification failed — fix this before finishing"
_VERIFY_LINE = re.compile(r"^\s*(?:export\s+)?VERIFY_CMD=(.*)$")


@dataclass
class Verdict:
    """One verification attempt."""

    command: str
    attempt: int
    passed: bool
    exit_code: int | None
    output_tail: str
    timed_out: bool = False
    aborted: bool = False

    def to_json(self) -> dict:
        return {
            "command": self.command,
            "attempts": self.attempt,
            "passed": self.passed,
            "exitCode": self.exit_code,
            "outputTail": self.output_tail,
        }

    @property
    def what_happened(self) -> str:
        if self.timed_out:
            return "timed out and was killed"
        return f"exited {self.exit_code}"


def max_attempts(svc: Services) -> int:
    return max(int(svc.seconds("CLAWBOO_VERIFY_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS)), 1)


def command_for(run: PreparedRun) -> str | None:
    """The task's ``verifyCommand``, else ``VERIFY_CMD`` from ``init.sh``; None when unset."""
    own = (run.task.get("verify_command") or "").strip()
    if own:
        return own
    if run.worktree is None:
        return None
    return _init_sh_command(Path(run.worktree.path) / "init.sh")


def _init_sh_command(init_sh: Path) -> str | None:
    try:
        text = init_sh.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        match = _VERIFY_LINE.match(line)
        if not match:
            continue
        try:
            words = shlex.split(match.group(1), comments=True)
        except ValueError:
            return None
        value = words[0].strip() if len(words) == 1 else ""
        return value if value and PLACEHOLDER_MARK not in value else None
    return None


def _tracked(svc: Services, run: PreparedRun) -> AbstractContextManager[None]:
    """The verify command runs like the runtime's children: in the run's sandbox (when the
    host has one) and with its process group recorded on the execution, so a crash recovery
    kills its tree."""
    return run_processes.track(svc.board, run.exec_id, svc.sandbox)


async def run_verify(
    svc: Services,
    run: PreparedRun,
    command: str,
    attempt: int,
    secrets: list[str],
    on_event: EventSink | None,
    secret_names: frozenset[str] = frozenset(),
) -> Verdict:
    """Run the command once in the worktree; the verdict carries the redacted output tail."""
    await _emit(
        on_event, {"type": "verification", "phase": "start", "attempt": attempt, "command": command}
    )
    # no grants: no runtime's key, no run token
    env = build_child_env(svc.config.env, secret_names=secret_names)
    limit = svc.seconds("CLAWBOO_VERIFY_TIMEOUT_S", DEFAULT_TIMEOUT_S)
    output = _Output()
    exit_code: int | None = None
    timed_out = aborted = False
    try:
        with _tracked(svc, run):
            async with spawn(
                ["bash", "-c", command], cwd=run.worktree.path, env=env, abort=run.abort
            ) as proc:
                with anyio.move_on_after(limit) as scope:
                    async for _stream, line in proc.lines():
                        output.add(line)
                    exit_code = await proc.wait()
                if scope.cancelled_caught:
                    timed_out, exit_code = True, None
                    await proc.kill_tree()
                    output.add(f"[clawboo] killed after {limit:g} s (CLAWBOO_VERIFY_TIMEOUT_S)")
    except OSError as exc:  # bash missing or the worktree gone: a failed verification
        output.add(f"[clawboo] could not run the verify command: {exc}")
    if run.abort.is_set and not timed_out:
        exit_code, aborted = None, True
    verdict = Verdict(
        command=command,
        attempt=attempt,
        passed=exit_code == 0 and not aborted,
        exit_code=exit_code,
        output_tail=tail(redact_known("\n".join(output.lines), secrets), OUTPUT_TAIL_CHARS),
        timed_out=timed_out,
        aborted=aborted,
    )
    await _emit(
        on_event, {"type": "verification", "phase": "end", "attempt": attempt, **verdict.to_json()}
    )
    return verdict


class _Output:
    """The command's merged stdout/stderr lines, the last ``_KEEP_CHARS`` of them."""

    def __init__(self) -> None:
        self.lines: deque[str] = deque()
        self._chars = 0

    def add(self, line: str) -> None:
        self.lines.append(line)
        self._chars += len(line) + 1
        while self._chars > _KEEP_CHARS and len(self.lines) > 1:
            self._chars -= len(self.lines.popleft()) + 1


async def record(svc: Services, run: PreparedRun, verdict: Verdict) -> None:
    """The evidence: appended to ``VERIFICATION.md`` (committed on the task branch) and a
    system comment ``Verification passed|failed (attempt N): …``."""
    word = "passed" if verdict.passed else "failed"
    output = verdict.output_tail or "(no output)"
    wt = run.worktree
    evidence = (
        f"\n## Attempt {verdict.attempt} — {word} "
        f"({datetime.now(UTC).strftime('%Y-%m-%d %H:%M:%S')} UTC)\n\n"
        f"- Command: `{verdict.command}`\n- Result: {verdict.what_happened}\n\n"
        f"```text\n{output}\n```\n"
    )
    try:
        with open(Path(wt.path) / "VERIFICATION.md", "a", encoding="utf-8") as fh:
            fh.write(evidence)
        await worktrees.commit_changes(
            wt,
            f"clawboo: verification attempt {verdict.attempt} {word}",
            svc.config.env,
            paths=["VERIFICATION.md"],  # the evidence only, not what the command left behind
        )
    except (OSError, worktrees.WorktreeError) as exc:  # the verdict stands without the file
        log.warning("run %s: could not record the verification: %s", run.exec_id, exc)
    await svc.comment(
        run.task["id"],
        f"Verification {word} (attempt {verdict.attempt}): `{verdict.command}` "
        f"{verdict.what_happened}.\n\n{output}",
    )


async def route(
    svc: Services,
    run: PreparedRun,
    tally: RunTally,
    done: Done,
    outcome: report.Outcome,
    verdict: Verdict,
    attempts: int,
) -> None:
    """Record the verdict and settle the task: ``done``, ``blocked`` after the last attempt,
    ``todo`` when the chain was aborted or a cap budget paused — or leave ``outcome.status``
    ``None`` for a fix run."""
    if verdict.aborted:
        await report.stop(svc, run, tally, done, outcome, "verification stopped")
        return
    await record(svc, run, verdict)
    if verdict.passed:
        await report.land(svc, run, tally, done, outcome, "done")
    elif verdict.attempt >= attempts:
        await svc.comment(run.task["id"], blocked_comment(verdict.attempt))
        await report.land(svc, run, tally, done, outcome, "blocked")
    elif await check_budgets(svc, run, tally):
        outcome.reason, outcome.summary = "aborted", "auto-paused (budget)"
        outcome.status = await report.budget_stop(svc, run, tally, done, outcome.reported)
    elif run.abort.is_set:
        await report.stop(svc, run, tally, done, outcome, "stopped before the fix run")


def fix_section(verdict: Verdict, attempts: int) -> str:
    """The prompt section that sends the runtime back to fix a failed verification."""
    return (
        f"{FIX_HEADING}\n\n"
        f"The verify command `{verdict.command}` {verdict.what_happened} "
        f"(verification attempt {verdict.attempt} of {attempts}). "
        "Fix the cause in this worktree; the command runs again when you finish.\n\n"
        f"Output (tail):\n\n```text\n{verdict.output_tail or '(no output)'}\n```"
    )


def blocked_comment(attempts: int) -> str:
    return f"Verification failed {attempts}× — routed to blocked for human review."


async def _emit(on_event: EventSink | None, frame: dict) -> None:
    if on_event is not None:
        with contextlib.suppress(Exception):  # a gone client can't break the run
            await on_event(frame)
