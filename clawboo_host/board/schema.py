"""The board's SQLite schema, and bringing any existing file up to it.

The schema is declared once, as data: each table is an ordered list of ``(column, declaration)``
pairs plus table-level constraints. :func:`ensure_schema` runs on every open and, in one
transaction:

1. creates any missing table from the declaration;
2. gives an *older file* its missing columns: for each table it compares ``PRAGMA table_info``
   with the declared columns and ``ALTER TABLE ... ADD COLUMN``\\ s the missing ones (a column
   SQLite cannot add — a primary key — is reported and skipped);
3. runs the numbered migrations newer than the file's ``PRAGMA user_version``, in order, and
   stores the new version.

Adding a column later is therefore only a new line in :data:`TABLES`; a data change (backfill,
new index, rename) is a new entry at the end of :data:`MIGRATIONS`.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field

from .states import STATUSES

log = logging.getLogger(__name__)


def _in(column: str, values: tuple[str, ...] | list[str]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"CHECK ({column} IN ({quoted}))"


AUTHOR_TYPES = ("agent", "user", "system")
EXECUTION_STATUSES = ("running", "succeeded", "failed", "cancelled", "timed_out")
EXECUTION_TERMINAL = ("succeeded", "failed", "cancelled", "timed_out")
WORKSPACE_STATUSES = ("active", "archived", "stale")
BUDGET_SCOPES = ("agent", "team", "mission")
BUDGET_MODES = ("warn", "cap")
BUDGET_STATUSES = ("active", "soft_capped", "paused")


@dataclass(frozen=True)
class Table:
    name: str
    columns: list[tuple[str, str]]
    constraints: list[str] = field(default_factory=list)

    def create_sql(self) -> str:
        parts = [f"{name} {decl}" for name, decl in self.columns] + self.constraints
        body = ",\n  ".join(parts)
        return f"CREATE TABLE IF NOT EXISTS {self.name} (\n  {body}\n)"

    @property
    def column_names(self) -> list[str]:
        return [name for name, _ in self.columns]


# Every NOT NULL column without a constant default is one the store always writes; when an older
# file lacks it, it is added nullable (SQLite's rule) and, for timestamps, backfilled with "now".
TABLES: list[Table] = [
    Table(
        "teams",
        [
            ("id", "TEXT PRIMARY KEY"),
            ("name", "TEXT NOT NULL DEFAULT ''"),
            ("leader_agent_id", "TEXT"),
            ("created_at", "TEXT NOT NULL"),
            ("updated_at", "TEXT NOT NULL"),
        ],
    ),
    Table(
        "agents",
        [
            ("id", "TEXT PRIMARY KEY"),
            ("name", "TEXT NOT NULL DEFAULT ''"),
            ("runtime", "TEXT"),
            ("team_id", "TEXT REFERENCES teams(id) ON DELETE SET NULL"),
            ("role", "TEXT"),
            ("provider", "TEXT"),
            ("model", "TEXT"),
            ("config_json", "TEXT"),
            ("created_at", "TEXT NOT NULL"),
        ],
    ),
    Table(
        "tasks",
        [
            ("id", "TEXT PRIMARY KEY"),
            ("title", "TEXT NOT NULL DEFAULT ''"),
            ("description", "TEXT NOT NULL DEFAULT ''"),
            ("status", f"TEXT NOT NULL DEFAULT 'todo' {_in('status', STATUSES)}"),
            ("priority", "INTEGER NOT NULL DEFAULT 0"),
            # No foreign key on team_id: budgets and runs address teams by id, and a task keeps
            # its team id even if a team row is ever removed. The store checks it on create.
            ("team_id", "TEXT"),
            ("parent_task_id", "TEXT REFERENCES tasks(id) ON DELETE SET NULL"),
            ("assignee_agent_id", "TEXT"),
            ("assignee_runtime", "TEXT"),
            # The execution holding the claim: a run's report-up only touches its own claim.
            ("claim_exec_id", "TEXT"),
            ("worktree_ref", "TEXT"),
            ("branch_ref", "TEXT"),
            ("created_at", "TEXT NOT NULL"),
            ("updated_at", "TEXT NOT NULL"),
            ("completed_at", "TEXT"),
            # The deterministic check a run must pass before the task is done (SPEC §7.2).
            ("verify_command", "TEXT"),
        ],
    ),
    Table(
        "comments",
        [
            ("id", "TEXT PRIMARY KEY"),
            ("task_id", "TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE"),
            ("author_agent_id", "TEXT"),
            ("author_type", f"TEXT NOT NULL DEFAULT 'user' {_in('author_type', AUTHOR_TYPES)}"),
            ("body", "TEXT NOT NULL DEFAULT ''"),
            ("created_at", "TEXT NOT NULL"),
        ],
    ),
    Table(
        "workspaces",
        [
            ("id", "TEXT PRIMARY KEY"),
            ("task_id", "TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE"),
            ("repo_path", "TEXT"),
            ("branch", "TEXT"),
            ("worktree_path", "TEXT"),
            ("base_commit", "TEXT"),
            ("status", f"TEXT NOT NULL DEFAULT 'active' {_in('status', WORKSPACE_STATUSES)}"),
            ("created_at", "TEXT NOT NULL"),
            ("last_used_at", "TEXT"),
        ],
    ),
    Table(
        "executions",
        [
            ("id", "TEXT PRIMARY KEY"),
            ("task_id", "TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE"),
            ("workspace_id", "TEXT REFERENCES workspaces(id) ON DELETE SET NULL"),
            ("runtime_id", "TEXT NOT NULL DEFAULT ''"),
            ("status", f"TEXT NOT NULL DEFAULT 'running' {_in('status', EXECUTION_STATUSES)}"),
            ("started_at", "TEXT NOT NULL"),
            ("completed_at", "TEXT"),
            ("summary", "TEXT"),
            ("error", "TEXT"),
            ("cost_usd", "REAL"),
            ("input_tokens", "INTEGER"),
            ("output_tokens", "INTEGER"),
            ("run_reason", "TEXT NOT NULL DEFAULT 'run'"),
            ("native_session_id", "TEXT"),
            ("owner_pid", "INTEGER"),
            ("owner_boot", "TEXT"),
            # JSON [[pgid, start stamp], ...]: the run's process groups, killed by recovery
            # when the host that started them died.
            ("process_groups", "TEXT"),
            ("recovery_tombstone", "INTEGER NOT NULL DEFAULT 0"),
        ],
    ),
    Table(
        "budgets",
        [
            ("id", "INTEGER PRIMARY KEY"),
            ("scope", f"TEXT NOT NULL DEFAULT 'agent' {_in('scope', BUDGET_SCOPES)}"),
            ("scope_id", "TEXT NOT NULL DEFAULT ''"),
            ("limit_usd_cents", "INTEGER NOT NULL DEFAULT 0"),
            ("spent_micro_cents", "INTEGER NOT NULL DEFAULT 0"),
            ("mode", f"TEXT NOT NULL DEFAULT 'warn' {_in('mode', BUDGET_MODES)}"),
            ("status", f"TEXT NOT NULL DEFAULT 'active' {_in('status', BUDGET_STATUSES)}"),
            ("created_at", "TEXT NOT NULL"),
            ("updated_at", "TEXT NOT NULL"),
        ],
        ["UNIQUE (scope, scope_id)"],
    ),
    Table(
        "settings",
        [
            ("key", "TEXT PRIMARY KEY"),
            ("value", "TEXT"),
            ("updated_at", "TEXT NOT NULL"),
        ],
    ),
]

TABLES_BY_NAME: dict[str, Table] = {t.name: t for t in TABLES}


# --- numbered migrations ---------------------------------------------------------------------
# Each runs once, inside the open transaction, when the file's user_version is below its number.
# Columns are already complete when they run (step 2 above), so they may rely on every column.


def _m1_indexes(conn: sqlite3.Connection) -> None:
    for sql in (
        "CREATE INDEX IF NOT EXISTS idx_tasks_status ON tasks(status)",
        "CREATE INDEX IF NOT EXISTS idx_tasks_team ON tasks(team_id)",
        "CREATE INDEX IF NOT EXISTS idx_tasks_parent ON tasks(parent_task_id)",
        "CREATE INDEX IF NOT EXISTS idx_comments_task ON comments(task_id, created_at)",
        "CREATE INDEX IF NOT EXISTS idx_workspaces_task ON workspaces(task_id, created_at)",
        "CREATE INDEX IF NOT EXISTS idx_executions_task ON executions(task_id, started_at)",
        "CREATE INDEX IF NOT EXISTS idx_executions_status ON executions(status)",
        "CREATE INDEX IF NOT EXISTS idx_agents_team ON agents(team_id)",
    ):
        conn.execute(sql)


MIGRATIONS: list[tuple[int, Callable[[sqlite3.Connection], None]]] = [
    (1, _m1_indexes),
]

SCHEMA_VERSION = MIGRATIONS[-1][0]


def _add_column_decl(decl: str) -> str | None:
    """The declaration to use with ADD COLUMN, or None when SQLite cannot add such a column."""
    upper = decl.upper()
    if "PRIMARY KEY" in upper or re.search(r"\bUNIQUE\b", upper):
        return None
    if "NOT NULL" in upper and "DEFAULT" not in upper:
        decl = re.sub(r"\s*NOT NULL", "", decl, flags=re.IGNORECASE)
    return decl


def add_missing_columns(conn: sqlite3.Connection, now: str) -> list[str]:
    """ALTER every declared table that lacks a declared column. Returns ``table.column`` added."""
    added: list[str] = []
    for table in TABLES:
        have = {row[1] for row in conn.execute(f"PRAGMA table_info({table.name})")}
        for name, decl in table.columns:
            if name in have:
                continue
            add_decl = _add_column_decl(decl)
            if add_decl is None:
                log.warning("board: %s.%s is missing and cannot be added", table.name, name)
                continue
            conn.execute(f"ALTER TABLE {table.name} ADD COLUMN {name} {add_decl}")
            if name in ("created_at", "updated_at") and add_decl != decl:
                conn.execute(f"UPDATE {table.name} SET {name} = ? WHERE {name} IS NULL", (now,))
            added.append(f"{table.name}.{name}")
    if added:
        log.info("board: added columns to an older database: %s", ", ".join(added))
    return added


def ensure_schema(conn: sqlite3.Connection, now: str) -> int:
    """Bring the open connection's file up to the declared schema. Returns the new version.

    ``conn`` must be in autocommit mode; this opens and commits its own IMMEDIATE transaction so
    two processes opening the same file at once do not both migrate it.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        for table in TABLES:
            conn.execute(table.create_sql())
        add_missing_columns(conn, now)
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for number, migrate in MIGRATIONS:
            if number > version:
                migrate(conn)
                version = number
        conn.execute(f"PRAGMA user_version = {int(version)}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return version
