"""Bring a board database to the newest schema with Alembic, safely from several hosts at once.

Runs on every store open. The migration takes the database's write lock first (SQLite:
``BEGIN IMMEDIATE``; PostgreSQL: a transaction-scoped advisory lock) and re-reads the version
under it, so two hosts starting together migrate once. When the database is already at head
this is one small read. A SQLite board written before versioned migrations (no
``alembic_version`` table) is upgraded in place by the baseline revision.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import (
    Column,
    Connection,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    inspect,
    text,
)

from .database import Database
from .schema import metadata

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
PG_MIGRATION_LOCK = 0x636C6177  # "claw": one advisory lock id for every clawboo board


def _alembic_config():
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


#: Alembic's own version table, as Alembic creates it.
VERSION_TABLE = Table(
    "alembic_version",
    MetaData(),
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)

#: The newest revision in ``migrations/versions`` (a test checks it is Alembic's head). Kept
#: as a constant so opening a board that is already there never imports Alembic.
HEAD_REVISION = "0002"


def head_revision() -> str:
    return HEAD_REVISION


def alembic_head() -> str | None:
    """The head revision as Alembic reads it from the scripts."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def current_revision(conn: Connection) -> str | None:
    """The database's revision (``alembic_version``), or None for an empty or pre-Alembic one."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(db: Database, create_empty_from_schema: bool = True) -> str:
    """Migrate ``db`` to head if it is not there yet. Returns the head revision.

    An empty database is created straight from :mod:`.schema` and stamped at head (what
    running every revision yields — a test checks the two agree on both backends), which
    keeps a new board, and so every test's, quick to make.
    """
    head = head_revision()
    if db.read(current_revision) == head:
        return head

    def migrate(conn: Connection) -> str:
        if not db.is_sqlite:
            conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": PG_MIGRATION_LOCK})
        before = current_revision(conn)
        if before is None and create_empty_from_schema and not inspect(conn).get_table_names():
            metadata.create_all(conn, checkfirst=False)
            VERSION_TABLE.create(conn)
            conn.execute(VERSION_TABLE.insert().values(version_num=head))
            log.info("board: created a new %s board at %s", db.dialect, head)
        elif before != head:
            from alembic import command

            config = _alembic_config()
            config.attributes["connection"] = conn
            try:
                command.upgrade(config, "head")
            finally:
                config.attributes.pop("connection", None)
            log.info("board: migrated %s from %s to %s", db.dialect, before or "empty", head)
        return head

    return db.write(migrate)
