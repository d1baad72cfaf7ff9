"""The board store: one object over tasks, comments, executions, workspaces, budgets, teams,
agents, settings and hosts — on SQLite (the default, one file in the data dir) or PostgreSQL
(several hosts sharing one board).

Each table's methods live in their own module (:mod:`.tasks`, :mod:`.comments`,
:mod:`.executions`, :mod:`.workspaces`, :mod:`.budgets`, :mod:`.teams`, :mod:`.hosts`; a
run's bundled calls in :mod:`.runs`);
:class:`BoardStore` puts them together over one :class:`~.database.Database`. Every method is
synchronous and safe to call from any thread, so the host calls the store from worker threads
(``anyio.to_thread.run_sync``) and never blocks the event loop.

Records are plain ``dict``\\ s with snake_case column names; :mod:`.records` renders them as
the camelCase JSON of SPEC §5. Free text that people and agents write — task titles and
descriptions, comment bodies, execution summaries and errors — passes through
:func:`clawboo_host.redaction.redact` on the way in, so a secret-shaped value pasted or echoed
into the board never reaches the database (SPEC §3).
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Connection

from ..plugin_api.files import private_file
from . import migrate
from .budgets import SOFT_CAP_PERCENT, BudgetStore, budget_status
from .comments import CommentStore
from .common import (
    MICRO_PER_CENT,
    MICRO_PER_USD,
    UNCHANGED,
    BoardError,
    StatusChange,
    UnknownReference,
    new_id,
    now_iso,
)
from .database import Database, StoreClosed, rows, sqlite_url
from .executions import ExecutionStore, process_groups
from .hosts import ORPHAN_ERROR, HostStore
from .records import (
    agent_json,
    budget_json,
    comment_json,
    execution_json,
    host_json,
    task_json,
    team_json,
    workspace_json,
)
from .runs import Claim, RunStart, RunStore
from .tasks import TaskStore, task_row
from .teams import TeamStore
from .workspaces import WorkspaceStore

__all__ = [
    "MICRO_PER_CENT",
    "MICRO_PER_USD",
    "ORPHAN_ERROR",
    "SOFT_CAP_PERCENT",
    "BoardError",
    "BoardStore",
    "Claim",
    "RunStart",
    "StatusChange",
    "StoreClosed",
    "UNCHANGED",
    "UnknownReference",
    "agent_json",
    "budget_json",
    "budget_status",
    "comment_json",
    "execution_json",
    "host_json",
    "new_id",
    "now_iso",
    "process_groups",
    "task_json",
    "team_json",
    "workspace_json",
]


def board_url(target: Path | str) -> str:
    """A database URL as given, or a filesystem path made into a SQLite URL."""
    text = str(target)
    return text if "://" in text else sqlite_url(target)


class BoardStore(
    TaskStore,
    CommentStore,
    ExecutionStore,
    WorkspaceStore,
    BudgetStore,
    TeamStore,
    HostStore,
    RunStore,
):
    """The board in the database at ``target``: a SQLite file path or a database URL
    (``sqlite:///…``, ``postgresql://…``). :meth:`open` creates or migrates its schema."""

    def __init__(self, target: Path | str) -> None:
        self.db = Database(board_url(target))
        self.url = self.db.url
        self.db_path = Path(self.url.database) if self.db.is_sqlite and self.url.database else None

    @property
    def dialect(self) -> str:
        return self.db.dialect

    def open(self) -> None:
        """Create or upgrade the schema. Safe to call again after :meth:`close`.

        A SQLite file is the owner's alone (``0600``), and so are its ``-wal``/``-shm``
        companions (SQLite gives them the database's mode; older ones are tightened here).
        """
        if self.db_path is not None:
            self.db_path.parent.mkdir(parents=True, exist_ok=True)
            private_file(self.db_path)
        self.db.open()
        try:
            migrate.upgrade(self.db)
        except BaseException:
            self.db.close()
            raise
        if self.db_path is not None:
            for suffix in ("-wal", "-shm"):
                companion = self.db_path.with_name(self.db_path.name + suffix)
                if companion.exists():
                    os.chmod(companion, 0o600)

    def close(self) -> None:
        """Release every connection. Later calls fail (:class:`StoreClosed`) until :meth:`open`."""
        self.db.close()

    def task_detail(self, task_id: str) -> dict | None:
        """``{task, comments, executions, workspace}`` from one read snapshot, or None."""

        def read(conn: Connection) -> dict | None:
            task = task_row(conn, task_id)
            if task is None:
                return None
            return {
                "task": task,
                "comments": rows(conn, self.comments_query(task_id)),
                "executions": rows(conn, self.executions_query(task_id)),
                "workspace": self._current_workspace(conn, task_id),
            }

        return self.db.read(read)
