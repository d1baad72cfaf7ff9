"""The board: tasks, comments, executions, workspaces, budgets, teams, agents, settings."""

from .states import STATUSES, TERMINAL, can_transition
from .store import BoardStore, StatusChange, UnknownReference

__all__ = [
    "STATUSES",
    "TERMINAL",
    "BoardStore",
    "StatusChange",
    "UnknownReference",
    "can_transition",
]
