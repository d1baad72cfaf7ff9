"""The board's schema, declared once as SQLAlchemy Core tables for SQLite and PostgreSQL.

This is the *current* shape the store reads and writes. Databases reach it through the
versioned Alembic migrations in :mod:`clawboo_host.board.migrations` (see
:mod:`clawboo_host.board.migrate`); a test checks that migrating an empty database yields
exactly these tables, on both backends. Changing a table is therefore two edits: the column
here and a new migration revision.

Timestamps are ISO-8601 UTC text with milliseconds (``2026-05-09T07:35:25.123Z``) written by the
store, except ``hosts.heartbeat_at``/``started_at``, which come from the database's own clock.
``seq`` (from a sequence) orders rows created in the same millisecond on PostgreSQL
(SQLite uses its ``rowid`` instead; see :func:`clawboo_host.board.database.insertion_order`).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Sequence,
    Table,
    Text,
    UniqueConstraint,
)

from .states import STATUSES
from .vocabulary import (
    AUTHOR_TYPES,
    BUDGET_MODES,
    BUDGET_SCOPES,
    BUDGET_STATUSES,
    EXECUTION_STATUSES,
    WORKSPACE_STATUSES,
)


def one_of(table: str, column: str, values: tuple[str, ...] | list[str]) -> CheckConstraint:
    quoted = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({quoted})", name=f"ck_{table}_{column}")


def _seq(table: str) -> Column:
    """Numbered from a sequence on PostgreSQL; NULL on SQLite, which has ``rowid``."""
    return Column("seq", BigInteger, Sequence(f"{table}_seq"), nullable=True)


metadata = MetaData()

teams = Table(
    "teams",
    metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False, server_default=""),
    Column("leader_agent_id", Text),
    Column("created_at", Text, nullable=False),
    Column("updated_at", Text, nullable=False),
    _seq("teams"),
)

agents = Table(
    "agents",
    metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False, server_default=""),
    Column("runtime", Text),
    Column("team_id", Text, ForeignKey("teams.id", ondelete="SET NULL")),
    Column("role", Text),
    Column("provider", Text),
    Column("model", Text),
    Column("config_json", Text),
    Column("created_at", Text, nullable=False),
    _seq("agents"),
    Index("idx_agents_team", "team_id"),
)

tasks = Table(
    "tasks",
    metadata,
    Column("id", Text, primary_key=True),
    Column("title", Text, nullable=False, server_default=""),
    Column("description", Text, nullable=False, server_default=""),
    Column("status", Text, nullable=False, server_default="todo"),
    Column("priority", Integer, nullable=False, server_default="0"),
    # No foreign key on team_id: budgets and runs address teams by id, and a task keeps its
    # team id even if a team row is ever removed. The store checks it on create.
    Column("team_id", Text),
    Column("parent_task_id", Text, ForeignKey("tasks.id", ondelete="SET NULL")),
    Column("assignee_agent_id", Text),
    Column("assignee_runtime", Text),
    # The execution holding the claim: a run's report-up only touches its own claim.
    Column("claim_exec_id", Text),
    Column("worktree_ref", Text),
    Column("branch_ref", Text),
    Column("created_at", Text, nullable=False),
    Column("updated_at", Text, nullable=False),
    Column("completed_at", Text),
    # The deterministic check a run must pass before the task is done (SPEC §7.2).
    Column("verify_command", Text),
    _seq("tasks"),
    one_of("tasks", "status", STATUSES),
    Index("idx_tasks_status", "status"),
    Index("idx_tasks_team", "team_id"),
    Index("idx_tasks_parent", "parent_task_id"),
)

comments = Table(
    "comments",
    metadata,
    Column("id", Text, primary_key=True),
    Column("task_id", Text, ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False),
    Column("author_agent_id", Text),
    Column("author_type", Text, nullable=False, server_default="user"),
    Column("body", Text, nullable=False, server_default=""),
    Column("created_at", Text, nullable=False),
    _seq("comments"),
    one_of("comments", "author_type", AUTHOR_TYPES),
    Index("idx_comments_task", "task_id", "created_at"),
)

workspaces = Table(
    "workspaces",
    metadata,
    Column("id", Text, primary_key=True),
    Column("task_id", Text, ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False),
    Column("repo_path", Text),
    Column("branch", Text),
    Column("worktree_path", Text),
    Column("base_commit", Text),
    Column("status", Text, nullable=False, server_default="active"),
    Column("created_at", Text, nullable=False),
    Column("last_used_at", Text),
    _seq("workspaces"),
    one_of("workspaces", "status", WORKSPACE_STATUSES),
    Index("idx_workspaces_task", "task_id", "created_at"),
)

executions = Table(
    "executions",
    metadata,
    Column("id", Text, primary_key=True),
    Column("task_id", Text, ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False),
    Column("workspace_id", Text, ForeignKey("workspaces.id", ondelete="SET NULL")),
    Column("runtime_id", Text, nullable=False, server_default=""),
    Column("status", Text, nullable=False, server_default="running"),
    Column("started_at", Text, nullable=False),
    Column("completed_at", Text),
    Column("summary", Text),
    Column("error", Text),
    Column("cost_usd", Float),
    Column("input_tokens", Integer),
    Column("output_tokens", Integer),
    Column("run_reason", Text, nullable=False, server_default="run"),
    Column("native_session_id", Text),
    Column("owner_pid", Integer),
    Column("owner_boot", Text),
    # JSON [[pgid, start stamp], ...]: the run's process groups, killed by recovery when the
    # host that started them died.
    Column("process_groups", Text),
    Column("recovery_tombstone", Integer, nullable=False, server_default="0"),
    _seq("executions"),
    # The host running it (hosts.id); NULL for rows written before hosts had leases.
    Column("host_id", Text),
    # Set by any host to ask the owning host to stop the run (the reason); polled by the owner.
    Column("abort_requested", Text),
    one_of("executions", "status", EXECUTION_STATUSES),
    Index("idx_executions_task", "task_id", "started_at"),
    Index("idx_executions_status", "status"),
    Index("idx_executions_host", "host_id", "status"),
)

budgets = Table(
    "budgets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("scope", Text, nullable=False, server_default="agent"),
    Column("scope_id", Text, nullable=False, server_default=""),
    Column("limit_usd_cents", BigInteger, nullable=False, server_default="0"),
    Column("spent_micro_cents", BigInteger, nullable=False, server_default="0"),
    Column("mode", Text, nullable=False, server_default="warn"),
    Column("status", Text, nullable=False, server_default="active"),
    Column("created_at", Text, nullable=False),
    Column("updated_at", Text, nullable=False),
    one_of("budgets", "scope", BUDGET_SCOPES),
    one_of("budgets", "mode", BUDGET_MODES),
    one_of("budgets", "status", BUDGET_STATUSES),
    UniqueConstraint("scope", "scope_id", name="uq_budgets_scope"),
)

settings = Table(
    "settings",
    metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text),
    Column("updated_at", Text, nullable=False),
)

# One row per running host process. ``started_at``/``heartbeat_at`` are the database's clock,
# so hosts never compare their own wall clocks; ``lease_s`` is the lease this host promised.
hosts = Table(
    "hosts",
    metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False, server_default=""),
    Column("url", Text),
    Column("started_at", Text, nullable=False),
    Column("heartbeat_at", Text, nullable=False),
    Column("lease_s", Float, nullable=False, server_default="30"),
    Column("stopped_at", Text),
    # Where it runs: lets a host restarted on the same data dir find its predecessor's dead
    # runs at once (its pid is gone) instead of waiting for the lease.
    Column("machine", Text),
    Column("data_dir", Text),
    Column("pid", Integer),
)

# The tables `db copy` carries, parents before children. Hosts are per process, not copied.
COPY_ORDER = (teams, agents, tasks, comments, workspaces, executions, budgets, settings)
