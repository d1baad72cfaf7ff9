"""A run's board calls, each one transaction.

Every board call a run makes is a hop to a worker thread and a transaction; a run used to make
fourteen. The run path asks these instead — each bundles what one step of the run needs, so
a run costs a handful of round trips, and what belongs together (the claim and the facts it
is taken on; the task's move and its execution's close) commits together.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from sqlalchemy import bindparam, select, update

from .common import Part, StatusChange, new_id
from .database import first
from .executions import RUNNING, close
from .schema import executions
from .tasks import task_row
from .vocabulary import EXECUTION_TERMINAL


@dataclass(frozen=True)
class RunStart:
    """What a run is refused or claimed on: the task (None: not found), its ancestors
    (nearest first), its mission (the root task) and the first paused ``cap`` budget among
    the run's scopes (agent, mission, team)."""

    task: dict | None
    ancestors: list[dict]
    mission_id: str | None
    paused_budget: tuple[str, str] | None


@dataclass(frozen=True)
class Claim:
    """A claim taken: what it was judged on, the execution that holds it, the task's current
    workspace row, and the task's newest finished execution before this claim (None: none)."""

    start: RunStart
    execution: dict
    workspace: dict | None
    previous: dict | None


_SET_EXECUTION_WORKSPACE = update(executions).where(
    executions.c.id == bindparam("exec_key"), executions.c.status == RUNNING
)


class RunStore(Part):
    @cached_property
    def _last_finished_execution(self):
        return (
            select(executions)
            .where(executions.c.task_id == bindparam("task_key"), executions.c.status != RUNNING)
            .order_by(executions.c.started_at.desc(), self.db.insertion_order(executions).desc())
            .limit(1)
        )

    def claim_run(
        self,
        task_id: str,
        agent_id: str,
        runtime_id: str,
        *,
        check: Callable[[RunStart], None],
        run_reason: str,
        owner_pid: int | None,
        owner_boot: str | None,
        host_id: str | None,
    ) -> Claim | None:
        """Read the task, its ancestors and budgets; let ``check`` refuse the run (it raises,
        and nothing is written); else :meth:`claim_for_run` and read what the run needs next.
        None when the claim is lost (the task is not free)."""

        def write(conn) -> Claim | None:
            start = self._run_start(conn, task_id, agent_id)
            check(start)
            if start.task is None:
                return None
            previous = first(conn, self._last_finished_execution, {"task_key": task_id})
            execution = self._claim(
                conn,
                new_id(),
                task_id,
                agent_id,
                runtime_id,
                run_reason=run_reason,
                owner_pid=owner_pid,
                owner_boot=owner_boot,
                host_id=host_id,
            )
            if execution is None:
                return None
            return Claim(start, execution, self._current_workspace(conn, task_id), previous)

        return self.db.write(write)

    def _run_start(self, conn, task_id: str, agent_id: str) -> RunStart:
        task, ancestors = self._task_with_ancestors(conn, task_id)
        if task is None:
            return RunStart(None, [], None, None)
        mission_id = ancestors[-1]["id"] if ancestors else task["id"]
        scopes = [("agent", agent_id), ("mission", mission_id), ("team", task["team_id"])]
        return RunStart(task, ancestors, mission_id, self._paused_cap_budget(conn, scopes))

    def attach_workspace(
        self,
        exec_id: str,
        task_id: str,
        repo_path: str,
        branch: str,
        worktree_path: str,
        base_commit: str | None,
    ) -> dict | None:
        """:meth:`save_workspace` and attach it to the running execution ``exec_id``."""

        def write(conn) -> dict | None:
            workspace = self._save_workspace(
                conn, task_id, repo_path, branch, worktree_path, base_commit
            )
            conn.execute(
                _SET_EXECUTION_WORKSPACE,
                {"exec_key": exec_id, "workspace_id": workspace["id"] if workspace else None},
            )
            return workspace

        return self.db.write(write)

    def report_run(self, task_id: str, exec_id: str, body: str, agent_id: str) -> bool:
        """The agent's report as its comment; whether ``exec_id`` still holds the claim."""

        def write(conn) -> bool:
            self._insert_comment(conn, task_id, body, "agent", agent_id)
            row = task_row(conn, task_id)
            return row is not None and row["claim_exec_id"] == exec_id

        return self.db.write(write)

    def settle_run(
        self, task_id: str, exec_id: str, to: str, exec_status: str, **fields
    ) -> StatusChange:
        """Move the task to ``to`` while ``exec_id`` holds its claim, and close the execution
        ``exec_status`` either way (``fields``: :meth:`close_execution`'s)."""

        if exec_status not in EXECUTION_TERMINAL:
            raise ValueError(f"not a terminal execution status: '{exec_status}'")

        def write(conn) -> StatusChange:
            change = self._patch(conn, task_id, status=to, claim_exec_id=exec_id)
            close(conn, exec_id, exec_status, **fields)
            return change

        return self.db.write(write)
