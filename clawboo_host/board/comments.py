"""Comments on tasks: appended, never edited; bodies redacted on the way in."""

from __future__ import annotations

from sqlalchemy import Connection, insert, select

from ..redaction import redact
from .common import Part, new_id, now_iso
from .database import first
from .schema import comments
from .tasks import task_exists
from .vocabulary import AUTHOR_TYPES

_INSERT_COMMENT = insert(comments).returning(*comments.c)


class CommentStore(Part):
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
        return self.db.write(
            lambda conn: self._insert_comment(conn, task_id, body, author_type, author_agent_id)
        )

    @staticmethod
    def _insert_comment(
        conn: Connection,
        task_id: str,
        body: str,
        author_type: str,
        author_agent_id: str | None,
    ) -> dict | None:
        """:meth:`add_comment` inside the caller's write transaction."""
        if not task_exists(conn, task_id):
            return None
        row = dict(
            id=new_id(),
            task_id=task_id,
            author_agent_id=author_agent_id,
            author_type=author_type,
            body=redact(body),
            created_at=now_iso(),
        )
        return first(conn, _INSERT_COMMENT, row)

    def comments_query(self, task_id: str):
        return (
            select(comments)
            .where(comments.c.task_id == task_id)
            .order_by(comments.c.created_at, self.db.insertion_order(comments))
        )

    def list_comments(self, task_id: str) -> list[dict]:
        return self.db.all(self.comments_query(task_id))
