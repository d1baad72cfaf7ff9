"""Tasks: create, read, patch through the state machine, the parent chain, claim and release.

The claim and the release are each one conditional UPDATE: on SQLite under the write lock, on
PostgreSQL re-checked by the server against the committed row after any concurrent claim — so
exactly one of N claimers wins, whichever host they run on. Read-then-write changes lock the
task row (``FOR UPDATE``) before they read it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, bindparam, exists, insert, select, text, update

from ..redaction import redact
from . import states
from .common import UNCHANGED, Part, StatusChange, UnknownReference, new_id, now_iso
from .database import first, rows
from .schema import tasks, teams

# Columns a release (or a move back to todo) clears.
UNCLAIMED: dict[str, Any] = {
    "assignee_agent_id": None,
    "assignee_runtime": None,
    "claim_exec_id": None,
}


# Statements of the run path, built once and bound per call (see ``database.first``). A bound
# name never equals a column's: an UPDATE's other parameters are its SET clause.
_TASK_ROW = select(tasks).where(tasks.c.id == bindparam("task_key"))
_TASK_ROW_LOCKED = _TASK_ROW.with_for_update()
_TASK_EXISTS = select(exists().where(tasks.c.id == bindparam("task_key")))
_UPDATE_TASK = update(tasks).where(tasks.c.id == bindparam("task_key"))
_CLAIM = update(tasks).where(
    tasks.c.id == bindparam("task_key"),
    tasks.c.status == states.TODO,
    tasks.c.assignee_agent_id.is_(None),
)
_ANCESTOR_CHAIN = text(
    """
    WITH RECURSIVE chain(id) AS (
        SELECT parent_task_id FROM tasks
         WHERE id = :task_key AND parent_task_id IS NOT NULL
        UNION
        SELECT t.parent_task_id FROM tasks t JOIN chain c ON t.id = c.id
         WHERE t.parent_task_id IS NOT NULL
    )
    SELECT t.* FROM tasks t JOIN chain c ON t.id = c.id
    """
)


def claim(
    conn: Connection, task_id: str, agent_id: str, runtime_id: str, claim_exec_id: str | None
) -> bool:
    """The one conditional UPDATE that makes a claim (run-flow §2.3): True when it won."""
    won = conn.execute(
        _CLAIM,
        {
            "task_key": task_id,
            "assignee_agent_id": agent_id,
            "assignee_runtime": runtime_id,
            "claim_exec_id": claim_exec_id,
            "status": states.IN_PROGRESS,
            "updated_at": now_iso(),
        },
    )
    return won.rowcount == 1


def update_task(conn: Connection, task_id: str, **values: Any) -> int:
    """Set ``values`` on the task; the changed row count."""
    return conn.execute(_UPDATE_TASK, {"task_key": task_id, **values}).rowcount


def release_statement(task_id: str, claim_exec_id: str | None = None):
    """``in_progress`` → ``todo``, claim cleared; only for ``claim_exec_id``'s claim if given."""
    statement = update(tasks).where(tasks.c.id == task_id, tasks.c.status == states.IN_PROGRESS)
    if claim_exec_id is not None:
        statement = statement.where(tasks.c.claim_exec_id == claim_exec_id)
    return statement.values(status=states.TODO, updated_at=now_iso(), **UNCLAIMED)


def _verify_command(value) -> str | None:
    """Stored redacted like every free text; blank means none."""
    text = (value or "").strip()
    return redact(text) if text else None


def task_row(conn: Connection, task_id: str, lock: bool = False) -> dict | None:
    return first(conn, _TASK_ROW_LOCKED if lock else _TASK_ROW, {"task_key": task_id})


def task_exists(conn: Connection, task_id: str) -> bool:
    return conn.execute(_TASK_EXISTS, {"task_key": task_id}).scalar_one()


class TaskStore(Part):
    def create_task(
        self,
        title: str,
        description: str = "",
        status: str = "todo",
        priority: int = 0,
        team_id: str | None = None,
        parent_task_id: str | None = None,
        verify_command: str | None = None,
    ) -> dict:
        """Insert a task. Raises :class:`UnknownReference` for an unknown parent or team id and
        ``ValueError`` for an unknown status; either way nothing is written."""
        if not states.is_status(status):
            raise ValueError(f"unknown status '{status}'")
        task_id = new_id()
        ts = now_iso()

        def write(conn: Connection) -> dict:
            if parent_task_id is not None and not task_exists(conn, parent_task_id):
                raise UnknownReference("parentTaskId", parent_task_id)
            if (
                team_id is not None
                and not conn.execute(select(exists().where(teams.c.id == team_id))).scalar_one()
            ):
                raise UnknownReference("teamId", team_id)
            conn.execute(
                insert(tasks).values(
                    id=task_id,
                    title=redact(title),
                    description=redact(description or ""),
                    status=status,
                    priority=int(priority),
                    team_id=team_id,
                    parent_task_id=parent_task_id,
                    created_at=ts,
                    updated_at=ts,
                    completed_at=ts if states.is_terminal(status) else None,
                    verify_command=_verify_command(verify_command),
                )
            )
            return task_row(conn, task_id)  # type: ignore[return-value]

        return self.db.write(write)

    def get_task(self, task_id: str) -> dict | None:
        return self.db.one(select(tasks).where(tasks.c.id == task_id))

    def list_tasks(self, status: str | None = None, team_id: str | None = None) -> list[dict]:
        """Tasks in creation order, optionally filtered by status and/or team."""
        statement = select(tasks)
        if status is not None:
            statement = statement.where(tasks.c.status == status)
        if team_id is not None:
            statement = statement.where(tasks.c.team_id == team_id)
        return self.db.all(statement.order_by(tasks.c.created_at, self.db.insertion_order(tasks)))

    def update_task(
        self,
        task_id: str,
        title: str | None = None,
        description: str | None = None,
        priority: int | None = None,
    ) -> dict | None:
        """Change the given text fields. Returns the task, or None when it does not exist."""
        change = self.patch_task(task_id, title=title, description=description, priority=priority)
        return change.task if change.ok else None

    def patch_task(
        self,
        task_id: str,
        status: str | None = None,
        title: str | None = None,
        description: str | None = None,
        priority: int | None = None,
        claim_exec_id: str | None = None,
        verify_command: str | None | object = UNCHANGED,
    ) -> StatusChange:
        """Fields and (optionally) a status move, all or nothing, in one transaction.

        The status move goes through the state machine exactly like :meth:`update_status`; an
        illegal move changes nothing, the other fields included. With ``claim_exec_id`` the
        change applies only while that execution still holds the task's claim
        (``claim_lost`` otherwise).
        """
        return self.db.write(
            lambda conn: self._patch(
                conn,
                task_id,
                status=status,
                title=title,
                description=description,
                priority=priority,
                claim_exec_id=claim_exec_id,
                verify_command=verify_command,
            )
        )

    def _patch(
        self,
        conn: Connection,
        task_id: str,
        *,
        status: str | None = None,
        title: str | None = None,
        description: str | None = None,
        priority: int | None = None,
        claim_exec_id: str | None = None,
        verify_command: str | None | object = UNCHANGED,
    ) -> StatusChange:
        """:meth:`patch_task` inside the caller's write transaction."""
        row = task_row(conn, task_id, lock=True)
        if row is None:
            return StatusChange(False, "not_found", None)
        previous = row["status"]
        if claim_exec_id is not None and row["claim_exec_id"] != claim_exec_id:
            return StatusChange(False, "claim_lost", row, previous)
        sets: dict[str, Any] = {}
        if status is not None and status != previous:
            if not states.can_transition(previous, status):
                return StatusChange(False, "illegal_transition", row, previous)
            sets.update(self._status_sets(status))
        if title is not None:
            sets["title"] = redact(title)
        if description is not None:
            sets["description"] = redact(description)
        if priority is not None:
            sets["priority"] = int(priority)
        if verify_command is not UNCHANGED:
            sets["verify_command"] = _verify_command(verify_command)
        if not sets:
            return StatusChange(True, None, row, previous)
        sets["updated_at"] = now_iso()
        if "completed_at" in sets:
            sets["completed_at"] = sets["updated_at"]
        update_task(conn, task_id, **sets)
        return StatusChange(True, None, task_row(conn, task_id), previous)

    @staticmethod
    def _status_sets(to: str) -> dict[str, Any]:
        sets: dict[str, Any] = {"status": to}
        if states.is_terminal(to):
            sets["completed_at"] = None  # filled with the write's timestamp
        if to == states.TODO:
            sets.update(UNCLAIMED)
        return sets

    def update_status(
        self, task_id: str, to: str, claim_exec_id: str | None = None
    ) -> StatusChange:
        """Move a task through the state machine (run-flow §2.2) in one transaction.

        Same status: ok, nothing written. Terminal: sets ``completed_at``. ``todo``: clears the
        assignee, assignee runtime and claim. ``claim_exec_id``: see :meth:`patch_task`.
        """
        return self.patch_task(task_id, status=to, claim_exec_id=claim_exec_id)

    def ancestors(self, task_id: str) -> list[dict]:
        """The task's ancestor chain, nearest (parent) first; cycle-safe; [] for a root."""
        return self.db.read(lambda conn: self._task_with_ancestors(conn, task_id))[1]

    @staticmethod
    def _task_with_ancestors(conn: Connection, task_id: str) -> tuple[dict | None, list[dict]]:
        """The task (None when missing) and its ancestor chain, nearest first, cycle-safe."""
        chain = rows(conn, _ANCESTOR_CHAIN, {"task_key": task_id})
        start = task_row(conn, task_id)
        by_id = {r["id"]: r for r in chain}
        out: list[dict] = []
        seen = {task_id}
        cursor = start["parent_task_id"] if start else None
        while cursor is not None and cursor not in seen and cursor in by_id:
            seen.add(cursor)
            out.append(by_id[cursor])
            cursor = by_id[cursor]["parent_task_id"]
        return start, out

    def depth(self, task_id: str) -> int:
        """Number of ancestors: a root is 0."""
        return len(self.ancestors(task_id))

    def mission_id(self, task_id: str) -> str:
        """The root ancestor's id (the one with no parent), or the task itself when it is a root."""
        chain = self.ancestors(task_id)
        return chain[-1]["id"] if chain else task_id

    # --- claim and release --------------------------------------------------------------------

    def claim(self, task_id: str, agent_id: str, runtime_id: str) -> bool:
        """Atomically take a ``todo`` task with no assignee: True for exactly one claimer."""
        return self.db.write(lambda conn: claim(conn, task_id, agent_id, runtime_id, None))

    def release(self, task_id: str, claim_exec_id: str | None = None) -> bool:
        """``in_progress`` → ``todo`` with the assignee cleared; a no-op (False) otherwise.

        With ``claim_exec_id``, only while that execution still holds the claim: a run never
        releases a later run's claim on the same task.
        """
        return self.db.execute(release_statement(task_id, claim_exec_id)) == 1
