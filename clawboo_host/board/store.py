"""The board store: tasks, comments, executions, workspaces, budgets, teams, agents, settings.

One SQLite file in WAL mode. Every method is synchronous and safe to call from any thread: each
thread gets its own connection (``threading.local``), so the host can call the store from worker
threads (``anyio.to_thread.run_sync``) without ever blocking the event loop.

Records are returned as plain ``dict``\\ s with the database's snake_case column names; the
``*_json`` helpers at the bottom render them as the camelCase JSON of SPEC §5.

Free text that people and agents write — task titles and descriptions, comment bodies,
execution summaries and errors — passes through :func:`clawboo_host.redaction.redact` on the
way in, so a secret-shaped value pasted or echoed into the board never reaches the file
(SPEC §3).

Writes that read-then-write run in one ``BEGIN IMMEDIATE`` transaction against the row as read
inside it. The claim and the release are each one conditional UPDATE.
A write that fails with SQLITE_BUSY/LOCKED is retried with jitter for a short wall-clock budget;
a write that simply matched no row is never retried.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import sqlite3
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from ..plugin_api.files import private_file
from ..redaction import redact
from . import states
from .schema import (
    AUTHOR_TYPES,
    BUDGET_MODES,
    BUDGET_SCOPES,
    EXECUTION_TERMINAL,
    WORKSPACE_STATUSES,
    ensure_schema,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

BUSY_TIMEOUT_MS = 5000
WRITE_RETRY_BUDGET_S = 1.5
MICRO_PER_CENT = 10_000
MICRO_PER_USD = 1_000_000
SOFT_CAP_PERCENT = 80

ORPHAN_ERROR = "interrupted: the host process running it stopped"


#: ``patch_task(verify_command=...)`` left at this keeps the task's command (None clears it).
UNCHANGED = object()


def _verify_command(value) -> str | None:
    """Stored redacted like every free text; blank means none."""
    text = (value or "").strip()
    return redact(text) if text else None


def now_iso() -> str:
    """Now as ISO 8601 UTC with milliseconds and ``Z``: ``2026-05-09T07:35:25.123Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_id() -> str:
    return str(uuid.uuid4())


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class BoardError(Exception):
    """A store-level refusal that a caller can turn into a 4xx."""


class UnknownReference(BoardError):
    """A referenced row (``parentTaskId``, ``teamId``) does not exist."""

    def __init__(self, field: str, value: str) -> None:
        super().__init__(f"unknown {field} '{value}'")
        self.field = field
        self.value = value


class StoreClosed(BoardError):
    pass


@dataclass(frozen=True)
class StatusChange:
    """The outcome of :meth:`BoardStore.update_status` / :meth:`BoardStore.patch_task`.

    ``reason`` is None on success, else ``'not_found'`` or ``'illegal_transition'``. ``task`` is
    the task after the change (or as it stands, for an illegal move; None when not found);
    ``previous`` is the status it was read with.
    """

    ok: bool
    reason: str | None
    task: dict | None
    previous: str | None = None


def budget_status(limit_cents: int, spent_micro: int, mode: str) -> str:
    """run-flow §2.6: ``paused`` from whole cents; ``soft_capped`` once the spend has really
    reached 80 % of a non-zero limit (the reference's whole-cent floor made a 1¢ budget
    soft-capped before any spend); a ``warn`` budget never reads ``paused``."""
    spent_cents = spent_micro // MICRO_PER_CENT
    if limit_cents <= 0:
        status = "active"
    elif spent_cents >= limit_cents:
        status = "paused"
    elif spent_micro * 100 >= limit_cents * MICRO_PER_CENT * SOFT_CAP_PERCENT:
        status = "soft_capped"
    else:
        status = "active"
    if status == "paused" and mode != "cap":
        status = "soft_capped"
    return status


class _Connection(sqlite3.Connection):
    """A connection that can be weakly referenced (the base class cannot)."""


class BoardStore:
    """The board, backed by the SQLite file at ``db_path`` (created with its schema on open)."""

    def __init__(self, db_path: Path | str) -> None:
        self.db_path = Path(db_path)
        self._local = threading.local()
        self._lock = threading.Lock()
        # Weak: a worker thread that ends drops its thread-local connection, which closes it;
        # close() still reaches every connection that is alive.
        self._connections: weakref.WeakSet[sqlite3.Connection] = weakref.WeakSet()
        self._generation = 0
        self._open = False

    # --- lifecycle ----------------------------------------------------------------------------

    def open(self) -> None:
        """Create or upgrade the file's schema. Safe to call again after :meth:`close`.

        The file is the owner's alone (``0600``), and so are its ``-wal``/``-shm`` companions
        (SQLite gives them the database's mode; older ones are tightened here).
        """
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        private_file(self.db_path)
        with self._lock:
            self._open = True
        conn = self._conn()
        self._retry(lambda: ensure_schema(conn, now_iso()))
        for suffix in ("-wal", "-shm"):
            companion = self.db_path.with_name(self.db_path.name + suffix)
            if companion.exists():
                os.chmod(companion, 0o600)

    def close(self) -> None:
        """Close every thread's connection. Later calls fail until :meth:`open` again."""
        with self._lock:
            self._open = False
            self._generation += 1
            conns = list(self._connections)
            self._connections = weakref.WeakSet()
        for conn in conns:
            try:
                conn.close()
            except sqlite3.Error:  # pragma: no cover - closing is best effort
                pass

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            str(self.db_path),
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,  # autocommit; transactions are explicit BEGIN IMMEDIATE
            check_same_thread=False,  # only so close() may close it from another thread
            factory=_Connection,
        )
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    def _conn(self) -> sqlite3.Connection:
        local = self._local
        with self._lock:
            if not self._open:
                raise StoreClosed("the board store is not open")
            generation = self._generation
        conn = getattr(local, "conn", None)
        if conn is not None and getattr(local, "generation", None) == generation:
            return conn
        conn = self._connect()
        with self._lock:
            if not self._open or generation != self._generation:
                conn.close()
                raise StoreClosed("the board store is not open")
            self._connections.add(conn)
        local.conn, local.generation = conn, generation
        return conn

    # --- transactions -------------------------------------------------------------------------

    @staticmethod
    def _retry(fn: Callable[[], T]) -> T:
        """Run ``fn``; retry only SQLITE_BUSY/LOCKED, jittered, within a short wall budget."""
        deadline = time.monotonic() + WRITE_RETRY_BUDGET_S
        while True:
            try:
                return fn()
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() >= deadline:
                    raise
                time.sleep(random.uniform(0.02, 0.15))

    @contextmanager
    def _tx(self, mode: str = "IMMEDIATE") -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        conn.execute(f"BEGIN {mode}")
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        try:
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` inside one IMMEDIATE transaction, retrying on busy."""

        def attempt() -> T:
            with self._tx() as conn:
                return fn(conn)

        return self._retry(attempt)

    def _exec(self, sql: str, params: Sequence[Any] = ()) -> int:
        """One autocommitted statement (retried on busy). Returns the changed row count."""
        conn = self._conn()
        return self._retry(lambda: conn.execute(sql, params).rowcount)

    def _one(self, sql: str, params: Sequence[Any] = ()) -> dict | None:
        row = self._conn().execute(sql, params).fetchone()
        return dict(row) if row is not None else None

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[dict]:
        return [dict(r) for r in self._conn().execute(sql, params).fetchall()]

    @staticmethod
    def _row(conn: sqlite3.Connection, sql: str, params: Sequence[Any] = ()) -> dict | None:
        row = conn.execute(sql, params).fetchone()
        return dict(row) if row is not None else None

    # --- tasks --------------------------------------------------------------------------------

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

        def write(conn: sqlite3.Connection) -> dict:
            if (
                parent_task_id is not None
                and not conn.execute(
                    "SELECT 1 FROM tasks WHERE id = ?", (parent_task_id,)
                ).fetchone()
            ):
                raise UnknownReference("parentTaskId", parent_task_id)
            if (
                team_id is not None
                and not conn.execute("SELECT 1 FROM teams WHERE id = ?", (team_id,)).fetchone()
            ):
                raise UnknownReference("teamId", team_id)
            conn.execute(
                "INSERT INTO tasks (id, title, description, status, priority, team_id,"
                " parent_task_id, created_at, updated_at, completed_at, verify_command)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    task_id,
                    redact(title),
                    redact(description or ""),
                    status,
                    int(priority),
                    team_id,
                    parent_task_id,
                    ts,
                    ts,
                    ts if states.is_terminal(status) else None,
                    _verify_command(verify_command),
                ),
            )
            return self._row(conn, "SELECT * FROM tasks WHERE id = ?", (task_id,))  # type: ignore[return-value]

        return self._write(write)

    def get_task(self, task_id: str) -> dict | None:
        return self._one("SELECT * FROM tasks WHERE id = ?", (task_id,))

    def list_tasks(self, status: str | None = None, team_id: str | None = None) -> list[dict]:
        """Tasks in creation order, optionally filtered by status and/or team."""
        where, params = [], []
        if status is not None:
            where.append("status = ?")
            params.append(status)
        if team_id is not None:
            where.append("team_id = ?")
            params.append(team_id)
        sql = "SELECT * FROM tasks"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return self._all(sql + " ORDER BY created_at, rowid", params)

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

        def write(conn: sqlite3.Connection) -> StatusChange:
            row = self._row(conn, "SELECT * FROM tasks WHERE id = ?", (task_id,))
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
            assignments = ", ".join(f"{k} = ?" for k in sets)
            conn.execute(f"UPDATE tasks SET {assignments} WHERE id = ?", (*sets.values(), task_id))
            task = self._row(conn, "SELECT * FROM tasks WHERE id = ?", (task_id,))
            return StatusChange(True, None, task, previous)

        return self._write(write)

    @staticmethod
    def _status_sets(to: str) -> dict[str, Any]:
        sets: dict[str, Any] = {"status": to}
        if states.is_terminal(to):
            sets["completed_at"] = None  # filled with the write's timestamp
        if to == states.TODO:
            sets["assignee_agent_id"] = None
            sets["assignee_runtime"] = None
            sets["claim_exec_id"] = None
        return sets

    def update_status(
        self, task_id: str, to: str, claim_exec_id: str | None = None
    ) -> StatusChange:
        """Move a task through the state machine (run-flow §2.2) in one IMMEDIATE transaction.

        Same status: ok, nothing written. Terminal: sets ``completed_at``. ``todo``: clears the
        assignee, assignee runtime and claim. ``claim_exec_id``: see :meth:`patch_task`.
        """
        return self.patch_task(task_id, status=to, claim_exec_id=claim_exec_id)

    def ancestors(self, task_id: str) -> list[dict]:
        """The task's ancestor chain, nearest (parent) first; cycle-safe; [] for a root."""
        rows = self._all(
            """
            WITH RECURSIVE chain(id) AS (
                SELECT parent_task_id FROM tasks WHERE id = ? AND parent_task_id IS NOT NULL
                UNION
                SELECT t.parent_task_id FROM tasks t JOIN chain c ON t.id = c.id
                 WHERE t.parent_task_id IS NOT NULL
            )
            SELECT t.* FROM tasks t JOIN chain c ON t.id = c.id
            """,
            (task_id,),
        )
        by_id = {r["id"]: r for r in rows}
        start = self._one("SELECT parent_task_id FROM tasks WHERE id = ?", (task_id,))
        out: list[dict] = []
        seen = {task_id}
        cursor = start["parent_task_id"] if start else None
        while cursor is not None and cursor not in seen and cursor in by_id:
            seen.add(cursor)
            out.append(by_id[cursor])
            cursor = by_id[cursor]["parent_task_id"]
        return out

    def depth(self, task_id: str) -> int:
        """Number of ancestors: a root is 0."""
        return len(self.ancestors(task_id))

    def mission_id(self, task_id: str) -> str:
        """The root ancestor's id (the one with no parent), or the task itself when it is a root."""
        chain = self.ancestors(task_id)
        return chain[-1]["id"] if chain else task_id

    # --- claim, release, liveness -------------------------------------------------------------

    def claim(self, task_id: str, agent_id: str, runtime_id: str) -> bool:
        """Atomically take a ``todo`` task with no assignee: True for exactly one claimer."""
        return self._write(lambda conn: self._claim(conn, task_id, agent_id, runtime_id, None))

    @staticmethod
    def _claim(
        conn: sqlite3.Connection,
        task_id: str,
        agent_id: str,
        runtime_id: str,
        claim_exec_id: str | None,
    ) -> bool:
        """The one conditional UPDATE that makes a claim (run-flow §2.3)."""
        return (
            conn.execute(
                "UPDATE tasks SET assignee_agent_id = ?, assignee_runtime = ?,"
                " claim_exec_id = ?, status = 'in_progress', updated_at = ?"
                " WHERE id = ? AND status = 'todo' AND assignee_agent_id IS NULL",
                (agent_id, runtime_id, claim_exec_id, now_iso(), task_id),
            ).rowcount
            == 1
        )

    def release(self, task_id: str, claim_exec_id: str | None = None) -> bool:
        """``in_progress`` → ``todo`` with the assignee cleared; a no-op (False) otherwise.

        With ``claim_exec_id``, only while that execution still holds the claim: a run never
        releases a later run's claim on the same task.
        """
        sql = (
            "UPDATE tasks SET status = 'todo', assignee_agent_id = NULL,"
            " assignee_runtime = NULL, claim_exec_id = NULL, updated_at = ?"
            " WHERE id = ? AND status = 'in_progress'"
        )
        params: tuple = (now_iso(), task_id)
        if claim_exec_id is not None:
            sql += " AND claim_exec_id = ?"
            params += (claim_exec_id,)
        return self._exec(sql, params) == 1

    # --- comments -----------------------------------------------------------------------------

    def add_comment(
        self,
        task_id: str,
        body: str,
        author_type: str = "user",
        author_agent_id: str | None = None,
    ) -> dict | None:
        """Append a comment. None when the task does not exist."""
        if author_type not in AUTHOR_TYPES:
            raise ValueError(f"unknown authorType '{author_type}'")
        comment_id = new_id()

        def write(conn: sqlite3.Connection) -> dict | None:
            if not conn.execute("SELECT 1 FROM tasks WHERE id = ?", (task_id,)).fetchone():
                return None
            conn.execute(
                "INSERT INTO comments (id, task_id, author_agent_id, author_type, body, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (comment_id, task_id, author_agent_id, author_type, redact(body), now_iso()),
            )
            return self._row(conn, "SELECT * FROM comments WHERE id = ?", (comment_id,))

        return self._write(write)

    def list_comments(self, task_id: str) -> list[dict]:
        return self._all(
            "SELECT * FROM comments WHERE task_id = ? ORDER BY created_at, rowid", (task_id,)
        )

    # --- executions ---------------------------------------------------------------------------

    def create_execution(
        self,
        task_id: str,
        runtime_id: str,
        run_reason: str = "run",
        workspace_id: str | None = None,
        owner_pid: int | None = None,
        owner_boot: str | None = None,
    ) -> dict:
        """Open a ``running`` execution row for a run of ``task_id`` on ``runtime_id``."""
        return self._write(
            lambda conn: self._insert_execution(
                conn, task_id, runtime_id, run_reason, workspace_id, owner_pid, owner_boot
            )
        )

    def claim_for_run(
        self,
        task_id: str,
        agent_id: str,
        runtime_id: str,
        run_reason: str = "run",
        owner_pid: int | None = None,
        owner_boot: str | None = None,
    ) -> dict | None:
        """Claim the task and open its running execution in ONE transaction.

        A crash can then never leave a claimed task without the execution that recovery
        uses to release it. Returns the execution, or None when the claim is lost.
        """

        exec_id = new_id()

        def write(conn: sqlite3.Connection) -> dict | None:
            if not self._claim(conn, task_id, agent_id, runtime_id, exec_id):
                return None
            return self._insert_execution(
                conn, task_id, runtime_id, run_reason, None, owner_pid, owner_boot, exec_id
            )

        return self._write(write)

    def _insert_execution(
        self,
        conn: sqlite3.Connection,
        task_id: str,
        runtime_id: str,
        run_reason: str,
        workspace_id: str | None,
        owner_pid: int | None,
        owner_boot: str | None,
        exec_id: str | None = None,
    ) -> dict:
        exec_id = exec_id or new_id()
        conn.execute(
            "INSERT INTO executions (id, task_id, workspace_id, runtime_id, status,"
            " started_at, run_reason, owner_pid, owner_boot)"
            " VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?)",
            (
                exec_id,
                task_id,
                workspace_id,
                runtime_id,
                now_iso(),
                run_reason,
                owner_pid,
                owner_boot,
            ),
        )
        return self._row(conn, "SELECT * FROM executions WHERE id = ?", (exec_id,))  # type: ignore[return-value]

    def set_execution_workspace(self, exec_id: str, workspace_id: str | None) -> bool:
        """Attach the workspace acquired after the row was opened (running rows only)."""
        return (
            self._exec(
                "UPDATE executions SET workspace_id = ? WHERE id = ? AND status = 'running'",
                (workspace_id, exec_id),
            )
            == 1
        )

    def close_execution(
        self,
        exec_id: str,
        status: str,
        summary: str | None = None,
        error: str | None = None,
        cost_usd: float | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        native_session_id: str | None = None,
    ) -> bool:
        """Close a running execution. The first close wins; a later one returns False."""
        if status not in EXECUTION_TERMINAL:
            raise ValueError(f"not a terminal execution status: '{status}'")
        return self._write(
            lambda conn: self._close_execution(
                conn,
                exec_id,
                status,
                summary,
                error,
                cost_usd,
                input_tokens,
                output_tokens,
                native_session_id,
            )
        )

    @staticmethod
    def _close_execution(
        conn: sqlite3.Connection,
        exec_id: str,
        status: str,
        summary: str | None,
        error: str | None,
        cost_usd: float | None,
        input_tokens: int | None,
        output_tokens: int | None,
        native_session_id: str | None,
    ) -> bool:
        return (
            conn.execute(
                "UPDATE executions SET status = ?, completed_at = ?, summary = ?, error = ?,"
                " cost_usd = ?, input_tokens = ?, output_tokens = ?,"
                " native_session_id = COALESCE(?, native_session_id)"
                " WHERE id = ? AND status = 'running'",
                (
                    status,
                    now_iso(),
                    redact(summary) if summary is not None else None,
                    redact(error) if error is not None else None,
                    cost_usd,
                    input_tokens,
                    output_tokens,
                    native_session_id,
                    exec_id,
                ),
            ).rowcount
            == 1
        )

    def hand_over_claim(
        self,
        task_id: str,
        from_exec_id: str,
        run_reason: str,
        owner_pid: int | None,
        owner_boot: str | None,
        *,
        summary: str | None = None,
        cost_usd: float | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        native_session_id: str | None = None,
    ) -> dict | None:
        """Close ``from_exec_id`` ``succeeded`` and open the next execution of the same run
        (a fix run after a failed verification) holding the task's claim, in ONE transaction:
        the claimed task is never without a running execution for recovery to find.

        Returns the new execution, or None (nothing written) when ``from_exec_id`` no longer
        holds the claim of an ``in_progress`` task or is no longer running.
        """

        def write(conn: sqlite3.Connection) -> dict | None:
            previous = self._row(
                conn,
                "SELECT e.runtime_id, e.workspace_id FROM executions e JOIN tasks t"
                " ON t.id = e.task_id WHERE e.id = ? AND e.status = 'running' AND t.id = ?"
                " AND t.status = 'in_progress' AND t.claim_exec_id = e.id",
                (from_exec_id, task_id),
            )
            if previous is None:
                return None
            self._close_execution(
                conn,
                from_exec_id,
                "succeeded",
                summary,
                None,
                cost_usd,
                input_tokens,
                output_tokens,
                native_session_id,
            )
            execution = self._insert_execution(
                conn,
                task_id,
                previous["runtime_id"],
                run_reason,
                previous["workspace_id"],
                owner_pid,
                owner_boot,
            )
            conn.execute(
                "UPDATE tasks SET claim_exec_id = ?, updated_at = ? WHERE id = ?",
                (execution["id"], now_iso(), task_id),
            )
            return execution

        return self._write(write)

    def get_execution(self, exec_id: str) -> dict | None:
        return self._one("SELECT * FROM executions WHERE id = ?", (exec_id,))

    def list_executions(self, task_id: str) -> list[dict]:
        return self._all(
            "SELECT * FROM executions WHERE task_id = ? ORDER BY started_at, rowid", (task_id,)
        )

    def running_executions(self) -> list[dict]:
        return self._all(
            "SELECT * FROM executions WHERE status = 'running' ORDER BY started_at, rowid"
        )

    def add_process_group(self, exec_id: str, pgid: int, stamp: str | None) -> bool:
        """Record a process group a running execution started (see :func:`process_groups`)."""

        def write(conn: sqlite3.Connection) -> bool:
            row = self._row(
                conn,
                "SELECT process_groups FROM executions WHERE id = ? AND status = 'running'",
                (exec_id,),
            )
            if row is None:
                return False
            groups = process_groups(row) + [[int(pgid), stamp]]
            conn.execute(
                "UPDATE executions SET process_groups = ? WHERE id = ?",
                (json.dumps(groups), exec_id),
            )
            return True

        return self._write(write)

    def recover_orphans(
        self,
        is_owner_alive: Callable[[int | None, str | None], bool],
        stop_processes: Callable[[list[tuple[int, str | None]]], object] | None = None,
    ) -> list[str]:
        """Close ``failed`` (with a recovery tombstone) every running execution whose owner is
        gone, and release its task when no running execution is left on it.

        ``is_owner_alive(owner_pid, owner_boot)`` is called outside any transaction, and so is
        ``stop_processes(groups)``, given the process groups of every orphan before any of them
        is closed: a released task is never re-run while the dead run's processes still work
        in its worktree. Returns the ids of the executions closed here.
        """
        orphans = [
            row
            for row in self.running_executions()
            if not is_owner_alive(row["owner_pid"], row["owner_boot"])
        ]
        if orphans and stop_processes is not None:
            stop_processes([tuple(g) for row in orphans for g in process_groups(row)])
        return [
            row["id"]
            for row in orphans
            if self._close_and_release(row, "failed", ORPHAN_ERROR, tombstone=True)
        ]

    def _close_and_release(self, row: dict, status: str, error: str, *, tombstone: bool) -> bool:
        def write(conn: sqlite3.Connection) -> bool:
            ts = now_iso()
            changed = conn.execute(
                "UPDATE executions SET status = ?, completed_at = ?, error = ?,"
                " recovery_tombstone = CASE WHEN ? THEN 1 ELSE recovery_tombstone END"
                " WHERE id = ? AND status = 'running'",
                (status, ts, error, 1 if tombstone else 0, row["id"]),
            ).rowcount
            if changed != 1:
                return False
            still_running = conn.execute(
                "SELECT 1 FROM executions WHERE task_id = ? AND status = 'running' LIMIT 1",
                (row["task_id"],),
            ).fetchone()
            if not still_running:
                conn.execute(
                    "UPDATE tasks SET status = 'todo', assignee_agent_id = NULL,"
                    " assignee_runtime = NULL, claim_exec_id = NULL, updated_at = ?"
                    " WHERE id = ? AND status = 'in_progress'",
                    (ts, row["task_id"]),
                )
            return True

        return self._write(write)

    # --- workspaces ---------------------------------------------------------------------------

    def get_workspace(self, task_id: str) -> dict | None:
        """The task's current workspace: its newest row (any status)."""
        return self._one(
            "SELECT * FROM workspaces WHERE task_id = ? ORDER BY created_at DESC, rowid DESC"
            " LIMIT 1",
            (task_id,),
        )

    def save_workspace(
        self,
        task_id: str,
        repo_path: str,
        branch: str,
        worktree_path: str,
        base_commit: str | None,
    ) -> dict | None:
        """Record the task's worktree: update its current row (or insert one), mark it
        ``active``, and point the task's ``worktree_ref``/``branch_ref`` at it.
        None when the task does not exist."""

        def write(conn: sqlite3.Connection) -> dict | None:
            if not conn.execute("SELECT 1 FROM tasks WHERE id = ?", (task_id,)).fetchone():
                return None
            ts = now_iso()
            current = conn.execute(
                "SELECT id FROM workspaces WHERE task_id = ?"
                " ORDER BY created_at DESC, rowid DESC LIMIT 1",
                (task_id,),
            ).fetchone()
            if current is not None:
                ws_id = current["id"]
                conn.execute(
                    "UPDATE workspaces SET repo_path = ?, branch = ?, worktree_path = ?,"
                    " base_commit = ?, status = 'active', last_used_at = ? WHERE id = ?",
                    (repo_path, branch, worktree_path, base_commit, ts, ws_id),
                )
            else:
                ws_id = new_id()
                conn.execute(
                    "INSERT INTO workspaces (id, task_id, repo_path, branch, worktree_path,"
                    " base_commit, status, created_at, last_used_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, 'active', ?, ?)",
                    (ws_id, task_id, repo_path, branch, worktree_path, base_commit, ts, ts),
                )
            conn.execute(
                "UPDATE tasks SET worktree_ref = ?, branch_ref = ?, updated_at = ? WHERE id = ?",
                (worktree_path, branch, ts, task_id),
            )
            return self._row(conn, "SELECT * FROM workspaces WHERE id = ?", (ws_id,))

        return self._write(write)

    def set_workspace_status(self, workspace_id: str, status: str) -> bool:
        if status not in WORKSPACE_STATUSES:
            raise ValueError(f"unknown workspace status '{status}'")
        return (
            self._exec(
                "UPDATE workspaces SET status = ?, last_used_at = ? WHERE id = ?",
                (status, now_iso(), workspace_id),
            )
            == 1
        )

    def clear_task_refs(self, task_id: str) -> bool:
        """Forget the task's worktree/branch pointers (the workspace rows stay)."""
        return (
            self._exec(
                "UPDATE tasks SET worktree_ref = NULL, branch_ref = NULL, updated_at = ?"
                " WHERE id = ?",
                (now_iso(), task_id),
            )
            == 1
        )

    # --- budgets ------------------------------------------------------------------------------

    def put_budget(self, scope: str, scope_id: str, limit_usd: float, mode: str = "warn") -> dict:
        """Create or change a budget's limit and mode; keeps what was spent; recomputes status
        (so raising the limit un-pauses it)."""
        if scope not in BUDGET_SCOPES:
            raise ValueError(f"unknown budget scope '{scope}'")
        if mode not in BUDGET_MODES:
            raise ValueError(f"unknown budget mode '{mode}'")
        limit_cents = round(float(limit_usd) * 100)

        def write(conn: sqlite3.Connection) -> dict:
            ts = now_iso()
            row = conn.execute(
                "SELECT spent_micro_cents FROM budgets WHERE scope = ? AND scope_id = ?",
                (scope, scope_id),
            ).fetchone()
            spent = row["spent_micro_cents"] if row else 0
            status = budget_status(limit_cents, spent, mode)
            conn.execute(
                "INSERT INTO budgets (scope, scope_id, limit_usd_cents, spent_micro_cents, mode,"
                " status, created_at, updated_at) VALUES (?, ?, ?, 0, ?, ?, ?, ?)"
                " ON CONFLICT (scope, scope_id) DO UPDATE SET"
                " limit_usd_cents = excluded.limit_usd_cents, mode = excluded.mode,"
                " status = excluded.status, updated_at = excluded.updated_at",
                (scope, scope_id, limit_cents, mode, status, ts, ts),
            )
            return self._row(  # type: ignore[return-value]
                conn, "SELECT * FROM budgets WHERE scope = ? AND scope_id = ?", (scope, scope_id)
            )

        return self._write(write)

    def get_budget(self, scope: str, scope_id: str) -> dict | None:
        return self._one(
            "SELECT * FROM budgets WHERE scope = ? AND scope_id = ?", (scope, scope_id)
        )

    def list_budgets(self) -> list[dict]:
        return self._all("SELECT * FROM budgets ORDER BY scope, scope_id")

    def paused_cap_budget(self, scopes: Sequence[tuple[str, str | None]]) -> tuple[str, str] | None:
        """The first ``(scope, scope_id)``, in the given order, whose budget is paused in
        ``cap`` mode; scopes with a None id or no budget row are skipped."""
        for scope, scope_id in scopes:
            if scope_id is None:
                continue
            row = self.get_budget(scope, scope_id)
            if row is not None and row["status"] == "paused" and row["mode"] == "cap":
                return (scope, scope_id)
        return None

    def record_spend(self, scope: str, scope_id: str, usd: float) -> dict | None:
        """Add ``usd`` (as micro-cents) to a budget and recompute its status.

        Returns the updated budget (with ``previous_status``, to spot a crossing), or None when
        the scope has no budget. A negative or non-finite amount adds nothing.
        """
        amount = float(usd) if usd is not None else 0.0
        micro = round(amount * MICRO_PER_USD) if math.isfinite(amount) and amount > 0 else 0

        def write(conn: sqlite3.Connection) -> dict | None:
            row = self._row(
                conn, "SELECT * FROM budgets WHERE scope = ? AND scope_id = ?", (scope, scope_id)
            )
            if row is None:
                return None
            spent = row["spent_micro_cents"] + micro
            status = budget_status(row["limit_usd_cents"], spent, row["mode"])
            conn.execute(
                "UPDATE budgets SET spent_micro_cents = ?, status = ?, updated_at = ? WHERE id = ?",
                (spent, status, now_iso(), row["id"]),
            )
            updated = self._row(conn, "SELECT * FROM budgets WHERE id = ?", (row["id"],))
            assert updated is not None
            updated["previous_status"] = row["status"]
            return updated

        return self._write(write)

    # --- teams, agents, settings --------------------------------------------------------------

    def list_teams(self) -> list[dict]:
        return self._all("SELECT * FROM teams ORDER BY created_at, rowid")

    def get_team(self, team_id: str) -> dict | None:
        return self._one("SELECT * FROM teams WHERE id = ?", (team_id,))

    def list_agents(self, team_id: str | None = None) -> list[dict]:
        if team_id is None:
            return self._all("SELECT * FROM agents ORDER BY created_at, rowid")
        return self._all(
            "SELECT * FROM agents WHERE team_id = ? ORDER BY created_at, rowid", (team_id,)
        )

    def get_agent(self, agent_id: str) -> dict | None:
        return self._one("SELECT * FROM agents WHERE id = ?", (agent_id,))

    def get_setting(self, key: str) -> str | None:
        row = self._one("SELECT value FROM settings WHERE key = ?", (key,))
        return row["value"] if row else None

    def set_setting(self, key: str, value: str | None) -> None:
        self._write(lambda conn: self._upsert_setting(conn, key, value, now_iso()))

    @staticmethod
    def _upsert_setting(conn: sqlite3.Connection, key: str, value: str | None, ts: str) -> None:
        conn.execute(
            "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value,"
            " updated_at = excluded.updated_at",
            (key, value, ts),
        )

    def seed_team(
        self, team_name: str, agents: Sequence[dict], settings: dict[str, str] | None = None
    ) -> dict:
        """Write a team, its agents, its leader and the given settings in ONE transaction.

        ``agents``: dicts with ``id`` (generated when missing), ``name``, ``runtime``, ``role``,
        ``provider``, ``model`` and ``config`` (a dict, stored as JSON, or a JSON string). The
        leader is the first agent whose role is ``leader``. ``{team_id}`` in a setting key is
        replaced with the new team id. Any failure (e.g. a duplicate agent id) rolls everything
        back and re-raises. Returns ``{team_id, leader_agent_id, agent_ids}``.
        """
        team_id = new_id()
        prepared: list[tuple] = []
        for agent in agents:
            config = agent.get("config")
            config_json = (
                config if isinstance(config, str) or config is None else json.dumps(config)
            )
            prepared.append(
                (
                    agent.get("id") or new_id(),
                    agent.get("name") or "",
                    agent.get("runtime"),
                    agent.get("role"),
                    agent.get("provider"),
                    agent.get("model"),
                    config_json,
                )
            )
        leader = next(
            (p[0] for p, a in zip(prepared, agents, strict=True) if a.get("role") == "leader"), None
        )

        def write(conn: sqlite3.Connection) -> dict:
            ts = now_iso()
            conn.execute(
                "INSERT INTO teams (id, name, leader_agent_id, created_at, updated_at)"
                " VALUES (?, ?, NULL, ?, ?)",
                (team_id, team_name, ts, ts),
            )
            for agent_id, name, runtime, role, provider, model, config_json in prepared:
                conn.execute(
                    "INSERT INTO agents (id, name, runtime, team_id, role, provider, model,"
                    " config_json, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (agent_id, name, runtime, team_id, role, provider, model, config_json, ts),
                )
            if leader is not None:
                conn.execute(
                    "UPDATE teams SET leader_agent_id = ?, updated_at = ? WHERE id = ?",
                    (leader, ts, team_id),
                )
            for key, value in (settings or {}).items():
                self._upsert_setting(conn, key.replace("{team_id}", team_id), value, ts)
            return {
                "team_id": team_id,
                "leader_agent_id": leader,
                "agent_ids": [p[0] for p in prepared],
            }

        return self._write(write)

    # --- composite reads for the router -------------------------------------------------------

    def task_detail(self, task_id: str) -> dict | None:
        """``{task, comments, executions, workspace}`` from one read snapshot, or None."""

        def read() -> dict | None:
            with self._tx("DEFERRED") as conn:
                task = self._row(conn, "SELECT * FROM tasks WHERE id = ?", (task_id,))
                if task is None:
                    return None
                return {
                    "task": task,
                    "comments": [
                        dict(r)
                        for r in conn.execute(
                            "SELECT * FROM comments WHERE task_id = ? ORDER BY created_at, rowid",
                            (task_id,),
                        )
                    ],
                    "executions": [
                        dict(r)
                        for r in conn.execute(
                            "SELECT * FROM executions WHERE task_id = ? ORDER BY started_at, rowid",
                            (task_id,),
                        )
                    ],
                    "workspace": self._row(
                        conn,
                        "SELECT * FROM workspaces WHERE task_id = ?"
                        " ORDER BY created_at DESC, rowid DESC LIMIT 1",
                        (task_id,),
                    ),
                }

        return self._retry(read)

    def team_detail(self, team_id: str) -> dict | None:
        """``{team, agents}`` or None."""

        def read() -> dict | None:
            with self._tx("DEFERRED") as conn:
                team = self._row(conn, "SELECT * FROM teams WHERE id = ?", (team_id,))
                if team is None:
                    return None
                agents = [
                    dict(r)
                    for r in conn.execute(
                        "SELECT * FROM agents WHERE team_id = ? ORDER BY created_at, rowid",
                        (team_id,),
                    )
                ]
                return {"team": team, "agents": agents}

        return self._retry(read)


# --- camelCase JSON (SPEC §5) -----------------------------------------------------------------


def task_json(row: dict) -> dict:
    return {
        "id": row["id"],
        "title": row["title"],
        "description": row["description"],
        "status": row["status"],
        "priority": row["priority"],
        "teamId": row["team_id"],
        "parentTaskId": row["parent_task_id"],
        "assigneeAgentId": row["assignee_agent_id"],
        "assigneeRuntime": row["assignee_runtime"],
        "worktreeRef": row["worktree_ref"],
        "branchRef": row["branch_ref"],
        "createdAt": row["created_at"],
        "updatedAt": row["updated_at"],
        "completedAt": row["completed_at"],
        "verifyCommand": row["verify_command"],
    }


def comment_json(row: dict) -> dict:
    return {
        "id": row["id"],
        "taskId": row["task_id"],
        "authorAgentId": row["author_agent_id"],
        "authorType": row["author_type"],
        "body": row["body"],
        "createdAt": row["created_at"],
    }


def process_groups(row: dict) -> list[list]:
    """An execution's recorded ``[pgid, start stamp]`` pairs (``[]`` when none or unreadable)."""
    try:
        groups = json.loads(row.get("process_groups") or "[]")
    except ValueError:
        return []
    return [g for g in groups if isinstance(g, list) and len(g) == 2 and isinstance(g[0], int)]


def execution_json(row: dict) -> dict:
    return {
        "id": row["id"],
        "taskId": row["task_id"],
        "runtimeId": row["runtime_id"],
        "status": row["status"],
        "startedAt": row["started_at"],
        "completedAt": row["completed_at"],
        "summary": row["summary"],
        "error": row["error"],
        "costUsd": row["cost_usd"],
        "inputTokens": row["input_tokens"],
        "outputTokens": row["output_tokens"],
    }


def workspace_json(row: dict) -> dict:
    return {
        "id": row["id"],
        "taskId": row["task_id"],
        "repoPath": row["repo_path"],
        "branch": row["branch"],
        "worktreePath": row["worktree_path"],
        "status": row["status"],
    }


def team_json(row: dict) -> dict:
    return {
        "id": row["id"],
        "name": row["name"],
        "leaderAgentId": row["leader_agent_id"],
        "createdAt": row["created_at"],
    }


def agent_json(row: dict) -> dict:
    return {
        "id": row["id"],
        "name": row["name"],
        "runtime": row["runtime"],
        "teamId": row["team_id"],
        "role": row["role"],
        "provider": row["provider"],
        "model": row["model"],
    }


def budget_json(row: dict) -> dict:
    return {
        "scope": row["scope"],
        "scopeId": row["scope_id"],
        "limitUsd": row["limit_usd_cents"] / 100,
        "spentUsd": round(row["spent_micro_cents"] / MICRO_PER_USD, 6),
        "mode": row["mode"],
        "status": row["status"],
    }
