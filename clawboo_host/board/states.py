"""The board's task status machine (run-flow §2.2): the one place that says which moves are legal.

Everything that changes a task's status — the REST router, the MCP tools, the executor — asks
:func:`can_transition`; nothing else hard-codes the table.
"""

from __future__ import annotations

BACKLOG = "backlog"
TODO = "todo"
IN_PROGRESS = "in_progress"
IN_REVIEW = "in_review"
BLOCKED = "blocked"
DONE = "done"
CANCELLED = "cancelled"

#: Every task status, in board order.
STATUSES: tuple[str, ...] = (BACKLOG, TODO, IN_PROGRESS, IN_REVIEW, BLOCKED, DONE, CANCELLED)

#: Statuses a task never leaves; entering one sets ``completed_at``.
TERMINAL: frozenset[str] = frozenset({DONE, CANCELLED})

#: Statuses in which the assignee may not be changed (someone is working or reviewing).
LOCKED: frozenset[str] = frozenset({IN_PROGRESS, IN_REVIEW})

#: from-status → the statuses it may move to (a move to the same status is always allowed).
TRANSITIONS: dict[str, frozenset[str]] = {
    BACKLOG: frozenset({TODO, BLOCKED, CANCELLED}),
    TODO: frozenset({IN_PROGRESS, BLOCKED, BACKLOG, CANCELLED}),
    IN_PROGRESS: frozenset({IN_REVIEW, DONE, BLOCKED, TODO, CANCELLED}),
    IN_REVIEW: frozenset({DONE, IN_PROGRESS, BLOCKED, CANCELLED}),
    BLOCKED: frozenset({TODO, IN_PROGRESS, BACKLOG, CANCELLED}),
    DONE: frozenset(),
    CANCELLED: frozenset(),
}


def is_status(value: object) -> bool:
    return isinstance(value, str) and value in TRANSITIONS


def can_transition(frm: str, to: str) -> bool:
    """Whether a task in ``frm`` may move to ``to``. Unknown statuses are never legal."""
    if not is_status(frm) or not is_status(to):
        return False
    return frm == to or to in TRANSITIONS[frm]


def is_terminal(status: str) -> bool:
    return status in TERMINAL
