"""Workspaces: the git worktree each task works in, and the task's pointers to it."""

from __future__ import annotations

from functools import cached_property

from sqlalchemy import Connection, bindparam, insert, select, update

from .common import Part, new_id, now_iso
from .database import first
from .schema import tasks, workspaces
from .tasks import update_task
from .vocabulary import WORKSPACE_STATUSES

_INSERT_WORKSPACE = insert(workspaces).returning(*workspaces.c)
_UPDATE_WORKSPACE = (
    update(workspaces).where(workspaces.c.id == bindparam("ws_key")).returning(*workspaces.c)
)


class WorkspaceStore(Part):
    @cached_property
    def _current_workspace_query(self):
        return (
            select(workspaces)
            .where(workspaces.c.task_id == bindparam("task_key"))
            .order_by(workspaces.c.created_at.desc(), self.db.insertion_order(workspaces).desc())
            .limit(1)
        )

    def _current_workspace(self, conn: Connection, task_id: str) -> dict | None:
        """The task's current workspace: its newest row (any status)."""
        return first(conn, self._current_workspace_query, {"task_key": task_id})

    def get_workspace(self, task_id: str) -> dict | None:
        """The task's current workspace: its newest row (any status)."""
        return self.db.read(lambda conn: self._current_workspace(conn, task_id))

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
        return self.db.write(
            lambda conn: self._save_workspace(
                conn, task_id, repo_path, branch, worktree_path, base_commit
            )
        )

    def _save_workspace(
        self,
        conn: Connection,
        task_id: str,
        repo_path: str,
        branch: str,
        worktree_path: str,
        base_commit: str | None,
    ) -> dict | None:
        """:meth:`save_workspace` inside the caller's write transaction."""
        ts = now_iso()
        pointed = update_task(
            conn, task_id, worktree_ref=worktree_path, branch_ref=branch, updated_at=ts
        )
        if pointed != 1:
            return None  # no such task
        current = self._current_workspace(conn, task_id)
        fields = dict(
            repo_path=repo_path,
            branch=branch,
            worktree_path=worktree_path,
            base_commit=base_commit,
            status="active",
            last_used_at=ts,
        )
        if current is not None:
            return first(conn, _UPDATE_WORKSPACE, {"ws_key": current["id"], **fields})
        row = dict(id=new_id(), task_id=task_id, created_at=ts, **fields)
        return first(conn, _INSERT_WORKSPACE, row)

    def set_workspace_status(self, workspace_id: str, status: str) -> bool:
        if status not in WORKSPACE_STATUSES:
            raise ValueError(f"unknown workspace status '{status}'")
        statement = (
            update(workspaces)
            .where(workspaces.c.id == workspace_id)
            .values(status=status, last_used_at=now_iso())
        )
        return self.db.execute(statement) == 1

    def clear_task_refs(self, task_id: str) -> bool:
        """Forget the task's worktree/branch pointers (the workspace rows stay)."""
        statement = (
            update(tasks)
            .where(tasks.c.id == task_id)
            .values(worktree_ref=None, branch_ref=None, updated_at=now_iso())
        )
        return self.db.execute(statement) == 1
