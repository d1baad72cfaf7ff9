"""Baseline: the board as it stood before versioned migrations.

Creates the eight tables and their indexes on an empty database. A SQLite board written by
an earlier clawboo-host (which kept its schema up to date by adding missing columns on open,
and has no ``alembic_version`` table) is brought up to the same shape in place: each missing
table is created, each missing column added (nullable when SQLite cannot add it as declared,
timestamps backfilled with now). The definitions below are frozen: later changes are new
revisions.

Revision ID: 0001
Revises:
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

STATUSES = ("backlog", "todo", "in_progress", "in_review", "done", "blocked", "cancelled")


def _check(table: str, column: str, values: tuple[str, ...]) -> sa.CheckConstraint:
    quoted = ", ".join(f"'{v}'" for v in values)
    return sa.CheckConstraint(f"{column} IN ({quoted})", name=f"ck_{table}_{column}")


def _tables() -> list[sa.Table]:
    md = sa.MetaData()
    text, integer = sa.Text, sa.Integer
    return [
        sa.Table(
            "teams",
            md,
            sa.Column("id", text, primary_key=True),
            sa.Column("name", text, nullable=False, server_default=""),
            sa.Column("leader_agent_id", text),
            sa.Column("created_at", text, nullable=False),
            sa.Column("updated_at", text, nullable=False),
        ),
        sa.Table(
            "agents",
            md,
            sa.Column("id", text, primary_key=True),
            sa.Column("name", text, nullable=False, server_default=""),
            sa.Column("runtime", text),
            sa.Column("team_id", text, sa.ForeignKey("teams.id", ondelete="SET NULL")),
            sa.Column("role", text),
            sa.Column("provider", text),
            sa.Column("model", text),
            sa.Column("config_json", text),
            sa.Column("created_at", text, nullable=False),
        ),
        sa.Table(
            "tasks",
            md,
            sa.Column("id", text, primary_key=True),
            sa.Column("title", text, nullable=False, server_default=""),
            sa.Column("description", text, nullable=False, server_default=""),
            sa.Column("status", text, nullable=False, server_default="todo"),
            sa.Column("priority", integer, nullable=False, server_default="0"),
            sa.Column("team_id", text),
            sa.Column("parent_task_id", text, sa.ForeignKey("tasks.id", ondelete="SET NULL")),
            sa.Column("assignee_agent_id", text),
            sa.Column("assignee_runtime", text),
            sa.Column("claim_exec_id", text),
            sa.Column("worktree_ref", text),
            sa.Column("branch_ref", text),
            sa.Column("created_at", text, nullable=False),
            sa.Column("updated_at", text, nullable=False),
            sa.Column("completed_at", text),
            sa.Column("verify_command", text),
            _check("tasks", "status", STATUSES),
        ),
        sa.Table(
            "comments",
            md,
            sa.Column("id", text, primary_key=True),
            sa.Column(
                "task_id", text, sa.ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False
            ),
            sa.Column("author_agent_id", text),
            sa.Column("author_type", text, nullable=False, server_default="user"),
            sa.Column("body", text, nullable=False, server_default=""),
            sa.Column("created_at", text, nullable=False),
            _check("comments", "author_type", ("agent", "user", "system")),
        ),
        sa.Table(
            "workspaces",
            md,
            sa.Column("id", text, primary_key=True),
            sa.Column(
                "task_id", text, sa.ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False
            ),
            sa.Column("repo_path", text),
            sa.Column("branch", text),
            sa.Column("worktree_path", text),
            sa.Column("base_commit", text),
            sa.Column("status", text, nullable=False, server_default="active"),
            sa.Column("created_at", text, nullable=False),
            sa.Column("last_used_at", text),
            _check("workspaces", "status", ("active", "archived", "stale")),
        ),
        sa.Table(
            "executions",
            md,
            sa.Column("id", text, primary_key=True),
            sa.Column(
                "task_id", text, sa.ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False
            ),
            sa.Column("workspace_id", text, sa.ForeignKey("workspaces.id", ondelete="SET NULL")),
            sa.Column("runtime_id", text, nullable=False, server_default=""),
            sa.Column("status", text, nullable=False, server_default="running"),
            sa.Column("started_at", text, nullable=False),
            sa.Column("completed_at", text),
            sa.Column("summary", text),
            sa.Column("error", text),
            sa.Column("cost_usd", sa.Float),
            sa.Column("input_tokens", integer),
            sa.Column("output_tokens", integer),
            sa.Column("run_reason", text, nullable=False, server_default="run"),
            sa.Column("native_session_id", text),
            sa.Column("owner_pid", integer),
            sa.Column("owner_boot", text),
            sa.Column("process_groups", text),
            sa.Column("recovery_tombstone", integer, nullable=False, server_default="0"),
            _check(
                "executions",
                "status",
                ("running", "succeeded", "failed", "cancelled", "timed_out"),
            ),
        ),
        sa.Table(
            "budgets",
            md,
            sa.Column("id", integer, primary_key=True, autoincrement=True),
            sa.Column("scope", text, nullable=False, server_default="agent"),
            sa.Column("scope_id", text, nullable=False, server_default=""),
            sa.Column("limit_usd_cents", sa.BigInteger, nullable=False, server_default="0"),
            sa.Column("spent_micro_cents", sa.BigInteger, nullable=False, server_default="0"),
            sa.Column("mode", text, nullable=False, server_default="warn"),
            sa.Column("status", text, nullable=False, server_default="active"),
            sa.Column("created_at", text, nullable=False),
            sa.Column("updated_at", text, nullable=False),
            _check("budgets", "scope", ("agent", "team", "mission")),
            _check("budgets", "mode", ("warn", "cap")),
            _check("budgets", "status", ("active", "soft_capped", "paused")),
            sa.UniqueConstraint("scope", "scope_id", name="uq_budgets_scope"),
        ),
        sa.Table(
            "settings",
            md,
            sa.Column("key", text, primary_key=True),
            sa.Column("value", text),
            sa.Column("updated_at", text, nullable=False),
        ),
    ]


INDEXES = [
    ("idx_tasks_status", "tasks", ["status"]),
    ("idx_tasks_team", "tasks", ["team_id"]),
    ("idx_tasks_parent", "tasks", ["parent_task_id"]),
    ("idx_comments_task", "comments", ["task_id", "created_at"]),
    ("idx_workspaces_task", "workspaces", ["task_id", "created_at"]),
    ("idx_executions_task", "executions", ["task_id", "started_at"]),
    ("idx_executions_status", "executions", ["status"]),
    ("idx_agents_team", "agents", ["team_id"]),
]


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    existing = set(inspector.get_table_names())
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    for table in _tables():
        if table.name not in existing:
            table.create(bind)
            continue
        have = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in have and not column.primary_key:
                _add_legacy_column(table.name, column, now)
    for name, table_name, columns in INDEXES:
        have = {i["name"] for i in sa.inspect(bind).get_indexes(table_name)}
        if name not in have:
            op.create_index(name, table_name, columns)


def _add_legacy_column(table: str, column: sa.Column, now: str) -> None:
    """An older file's missing column: as declared when SQLite can add it, else nullable.

    Only pre-Alembic SQLite files reach here, so this is SQLite's own ALTER TABLE.
    """
    bind = op.get_bind()
    addable = column.nullable or column.server_default is not None
    new = sa.Column(
        column.name,
        column.type,
        nullable=column.nullable if addable else True,
        server_default=column.server_default.arg if column.server_default is not None else None,
    )
    ddl = str(sa.schema.CreateColumn(new).compile(dialect=bind.dialect))
    for fk in column.foreign_keys:
        ddl += f" REFERENCES {fk.column.table.name}({fk.column.name})"
        if fk.ondelete:
            ddl += f" ON DELETE {fk.ondelete}"
    op.execute(f"ALTER TABLE {table} ADD COLUMN {ddl}")
    if not addable and column.name in ("created_at", "updated_at"):
        op.execute(sa.text(f"UPDATE {table} SET {column.name} = :now").bindparams(now=now))
