"""Step 2, what the runtime is told: the task, the prior handoff, the board note, what an
interrupted attempt left behind — cut to fit one argv element."""

from __future__ import annotations

from ..handoff import Handoff, resume_block
from .model import PreparedRun

MAX_PROMPT_BYTES = 120_000  # under Linux's 128 KiB limit on one argv element
MCP_NOTE = (
    "The clawboo Tasks board is available to you over MCP (server `clawboo-tasks`): "
    "call `list_tasks` before starting so you don't duplicate a teammate's work, "
    "`add_comment` to report progress, `create_subtask` to split the work and "
    "`update_task_status` to move tasks. Report a concise summary when done."
)


def build_prompt(
    run: PreparedRun,
    handoff: Handoff | None,
    has_mcp: bool,
    sections: tuple[str, ...] = (),
) -> str:
    """The prompt; ``sections`` (e.g. a failed verification to fix) follow the task block."""
    task = run.task
    context = [*sections, resume_block(handoff)]
    context.append(MCP_NOTE if has_mcp else "Report a concise summary when done.")
    if run.degradations:
        context.append(f"Degradations applied: {'; '.join(run.degradations)}.")
    context.append(interrupted_note(run))
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


def last_crash(run: PreparedRun) -> dict | None:
    """The previous attempt, when it was cut short by a host crash (a recovery tombstone)."""
    previous = run.previous_execution
    return previous if previous and previous["recovery_tombstone"] else None


def interrupted_note(run: PreparedRun) -> str:
    crash = last_crash(run)
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
