"""Executions: one row per run — opened with its claim, closed exactly once, stoppable from any
host through an abort request that the owning host polls.
"""

from __future__ import annotations

import json

from sqlalchemy import Connection, bindparam, exists, insert, select, text, update

from ..redaction import redact
from .common import Part, new_id, now_iso
from .database import first
from .schema import executions, tasks
from .tasks import claim, release_statement, task_row
from .vocabulary import BUDGET_SCOPES, EXECUTION_TERMINAL

RUNNING = "running"


_INSERT_EXECUTION = insert(executions).returning(*executions.c)
_CLOSE_EXECUTION = update(executions).where(
    executions.c.id == bindparam("exec_key"), executions.c.status == RUNNING
)


def close(
    conn: Connection,
    exec_id: str,
    status: str,
    *,
    summary: str | None = None,
    error: str | None = None,
    cost_usd: float | None = None,
    input_tokens: int | None = None,
    output_tokens: int | None = None,
    native_session_id: str | None = None,
) -> bool:
    """The conditional UPDATE that closes a running execution: True for the first close."""
    values = dict(
        status=status,
        completed_at=now_iso(),
        summary=redact(summary) if summary is not None else None,
        error=redact(error) if error is not None else None,
        cost_usd=cost_usd,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
    )
    if native_session_id is not None:
        values["native_session_id"] = native_session_id
    return conn.execute(_CLOSE_EXECUTION, {"exec_key": exec_id, **values}).rowcount == 1


def process_groups(row: dict) -> list[list]:
    """An execution's recorded ``[pgid, start stamp]`` pairs (``[]`` when none or unreadable)."""
    try:
        groups = json.loads(row.get("process_groups") or "[]")
    except ValueError:
        return []
    return [g for g in groups if isinstance(g, list) and len(g) == 2 and isinstance(g[0], int)]


class ExecutionStore(Part):
    def create_execution(
        self,
        task_id: str,
        runtime_id: str,
        run_reason: str = "run",
        workspace_id: str | None = None,
        owner_pid: int | None = None,
        owner_boot: str | None = None,
        host_id: str | None = None,
    ) -> dict:
        """Open a ``running`` execution row for a run of ``task_id`` on ``runtime_id``."""
        return self.db.write(
            lambda conn: self._insert_execution(
                conn,
                new_id(),
                task_id=task_id,
                runtime_id=runtime_id,
                run_reason=run_reason,
                workspace_id=workspace_id,
                owner_pid=owner_pid,
                owner_boot=owner_boot,
                host_id=host_id,
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
        host_id: str | None = None,
    ) -> dict | None:
        """Claim the task and open its running execution in ONE transaction.

        A crash can then never leave a claimed task without the execution that recovery
        uses to release it. Returns the execution, or None when the claim is lost.
        """
        fields = dict(
            run_reason=run_reason, owner_pid=owner_pid, owner_boot=owner_boot, host_id=host_id
        )
        return self.db.write(
            lambda conn: self._claim(conn, new_id(), task_id, agent_id, runtime_id, **fields)
        )

    def _claim(
        self, conn: Connection, exec_id: str, task_id: str, agent_id: str, runtime_id: str, **fields
    ) -> dict | None:
        """:meth:`claim_for_run` inside the caller's write transaction."""
        if not claim(conn, task_id, agent_id, runtime_id, exec_id):
            return None
        return self._insert_execution(
            conn, exec_id, task_id=task_id, runtime_id=runtime_id, **fields
        )

    @staticmethod
    def _insert_execution(conn: Connection, exec_id: str, **fields) -> dict:
        row = dict(id=exec_id, status=RUNNING, started_at=now_iso(), **fields)
        return first(conn, _INSERT_EXECUTION, row)  # type: ignore[return-value]

    def set_execution_workspace(self, exec_id: str, workspace_id: str | None) -> bool:
        """Attach the workspace acquired after the row was opened (running rows only)."""
        statement = (
            update(executions)
            .where(executions.c.id == exec_id, executions.c.status == RUNNING)
            .values(workspace_id=workspace_id)
        )
        return self.db.execute(statement) == 1

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
        fields = dict(
            summary=summary,
            error=error,
            cost_usd=cost_usd,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            native_session_id=native_session_id,
        )
        return self.db.write(lambda conn: close(conn, exec_id, status, **fields))

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
        the claimed task is never without a running execution for recovery to find. The new
        execution runs on the same host as the one it follows.

        Returns the new execution, or None (nothing written) when ``from_exec_id`` no longer
        holds the claim of an ``in_progress`` task or is no longer running.
        """

        def write(conn: Connection) -> dict | None:
            task = task_row(conn, task_id, lock=True)
            previous = first(
                conn,
                select(executions).where(
                    executions.c.id == from_exec_id,
                    executions.c.task_id == task_id,
                    executions.c.status == RUNNING,
                ),
            )
            if (
                previous is None
                or task is None
                or task["status"] != "in_progress"
                or task["claim_exec_id"] != from_exec_id
            ):
                return None
            close(
                conn,
                from_exec_id,
                "succeeded",
                summary=summary,
                cost_usd=cost_usd,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                native_session_id=native_session_id,
            )
            execution = self._insert_execution(
                conn,
                new_id(),
                task_id=task_id,
                runtime_id=previous["runtime_id"],
                run_reason=run_reason,
                workspace_id=previous["workspace_id"],
                owner_pid=owner_pid,
                owner_boot=owner_boot,
                host_id=previous["host_id"],
            )
            conn.execute(
                update(tasks)
                .where(tasks.c.id == task_id)
                .values(claim_exec_id=execution["id"], updated_at=now_iso())
            )
            return execution

        return self.db.write(write)

    def get_execution(self, exec_id: str) -> dict | None:
        return self.db.one(select(executions).where(executions.c.id == exec_id))

    def executions_query(self, task_id: str):
        return (
            select(executions)
            .where(executions.c.task_id == task_id)
            .order_by(executions.c.started_at, self.db.insertion_order(executions))
        )

    def list_executions(self, task_id: str) -> list[dict]:
        return self.db.all(self.executions_query(task_id))

    def running_executions(self, host_id: str | None = None) -> list[dict]:
        """Every running execution (of one host, when given), oldest first."""
        statement = select(executions).where(executions.c.status == RUNNING)
        if host_id is not None:
            statement = statement.where(executions.c.host_id == host_id)
        return self.db.all(
            statement.order_by(executions.c.started_at, self.db.insertion_order(executions))
        )

    def close_and_release(self, row: dict, status: str, error: str, *, tombstone: bool) -> bool:
        """Close a running execution and, when no other run is left on its task, release it.
        False when the row was no longer running (someone else closed it first)."""

        def write(conn: Connection) -> bool:
            # The task row first: two closes on one task (two hosts recovering) take turns, so
            # the last one to close sees no run left and releases it.
            task_row(conn, row["task_id"], lock=True)
            changed = conn.execute(
                update(executions)
                .where(executions.c.id == row["id"], executions.c.status == RUNNING)
                .values(
                    status=status,
                    completed_at=now_iso(),
                    error=error,
                    recovery_tombstone=1 if tombstone else executions.c.recovery_tombstone,
                )
            ).rowcount
            if changed != 1:
                return False
            still_running = conn.execute(
                select(
                    exists().where(
                        executions.c.task_id == row["task_id"], executions.c.status == RUNNING
                    )
                )
            ).scalar_one()
            if not still_running:
                conn.execute(release_statement(row["task_id"]))
            return True

        return self.db.write(write)

    def add_process_group(self, exec_id: str, pgid: int, stamp: str | None) -> bool:
        """Record a process group a running execution started (see :func:`process_groups`)."""

        def write(conn: Connection) -> bool:
            row = first(
                conn,
                select(executions.c.process_groups)
                .where(executions.c.id == exec_id, executions.c.status == RUNNING)
                .with_for_update(),
            )
            if row is None:
                return False
            groups = process_groups(row) + [[int(pgid), stamp]]
            conn.execute(
                update(executions)
                .where(executions.c.id == exec_id)
                .values(process_groups=json.dumps(groups))
            )
            return True

        return self.db.write(write)

    # --- abort requests (any host → the owning host) ------------------------------------------

    def request_abort(self, exec_id: str, reason: str) -> bool:
        """Ask whichever host runs ``exec_id`` to stop it. False when it is not running."""
        statement = (
            update(executions)
            .where(executions.c.id == exec_id, executions.c.status == RUNNING)
            .values(abort_requested=reason)
        )
        return self.db.execute(statement) == 1

    def requested_aborts(self, host_id: str) -> list[tuple[str, str]]:
        """``(exec_id, reason)`` of this host's running executions that someone asked to stop."""
        statement = select(executions.c.id, executions.c.abort_requested).where(
            executions.c.host_id == host_id,
            executions.c.status == RUNNING,
            executions.c.abort_requested.is_not(None),
        )
        return [(r["id"], r["abort_requested"]) for r in self.db.all(statement)]

    def request_scope_abort(self, scope: str, scope_id: str, reason: str) -> int:
        """Ask for every running execution in a budget scope to stop (a cap was reached).

        ``agent``: tasks the agent holds; ``team``: the team's tasks; ``mission``: the mission
        task and all its descendants. Returns how many executions were newly asked.
        """
        if scope not in BUDGET_SCOPES:
            raise ValueError(f"unknown budget scope '{scope}'")
        if scope == "agent":
            task_ids = select(tasks.c.id).where(tasks.c.assignee_agent_id == scope_id)
        elif scope == "team":
            task_ids = select(tasks.c.id).where(tasks.c.team_id == scope_id)
        else:
            task_ids = (
                text(
                    "WITH RECURSIVE sub(id) AS ("
                    " SELECT CAST(:mission AS TEXT)"
                    " UNION SELECT t.id FROM tasks t JOIN sub ON t.parent_task_id = sub.id"
                    ") SELECT id FROM sub"
                )
                .bindparams(mission=scope_id)
                .columns(id=tasks.c.id.type)
                .subquery()
            )
            task_ids = select(task_ids.c.id)
        statement = (
            update(executions)
            .where(
                executions.c.status == RUNNING,
                executions.c.abort_requested.is_(None),
                executions.c.task_id.in_(task_ids),
            )
            .values(abort_requested=reason)
        )
        return self.db.execute(statement)
