"""The board: tasks, comments, executions, workspaces, budgets, teams, agents, settings.

The store (and SQLAlchemy under it) is imported on first use, not with the package: the
host answers its first runtime list before it opens the board.
"""

from .common import StatusChange, UnknownReference
from .states import STATUSES, TERMINAL, can_transition

__all__ = [
    "STATUSES",
    "TERMINAL",
    "BoardStore",
    "StatusChange",
    "UnknownReference",
    "can_transition",
]


def __getattr__(name: str):
    if name == "BoardStore":
        from .store import BoardStore

        return BoardStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
