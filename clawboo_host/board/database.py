"""One connection layer for the board on SQLite or PostgreSQL (SQLAlchemy Core 2.x).

Everything dialect-specific lives here, small and named: the URL, connection set-up, how a
write transaction begins, which errors are worth retrying, the database clock, an upsert and the
insertion-order tiebreak. The store modules above it are written once for both.

- **SQLite**: WAL, ``foreign_keys``, a busy timeout; a write transaction is ``BEGIN IMMEDIATE``
  (the write lock up front, so read-then-write is serialised), a read snapshot ``BEGIN``.
- **PostgreSQL** (psycopg 3): READ COMMITTED; read-then-write code locks its row with
  ``SELECT … FOR UPDATE`` (which SQLite ignores), and single-statement writes are conditional
  UPDATEs, which PostgreSQL re-checks against the committed row after waiting on its lock —
  so exactly one of N concurrent claims matches, across hosts.

A transaction that fails with a transient error (SQLITE_BUSY/LOCKED; a PostgreSQL
serialization failure or deadlock) is retried with jitter for a short wall-clock budget; a write
that simply matched no row is never retried.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, literal_column
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement
from sqlalchemy.types import Text

T = TypeVar("T")

BUSY_TIMEOUT_MS = 5000
WRITE_RETRY_BUDGET_S = 1.5
PG_TRANSIENT_SQLSTATES = {"40001", "40P01"}  # serialization_failure, deadlock_detected


class StoreClosed(Exception):
    pass


def sqlite_url(path: Path | str) -> str:
    return f"sqlite:///{Path(path)}"


def normalize_url(url: str | URL) -> URL:
    """``postgresql://`` / ``postgres://`` use psycopg 3; ``sqlite:///path`` stays as is."""
    parsed = make_url(url) if isinstance(url, str) else url
    backend = parsed.get_backend_name()
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    if backend != "sqlite":
        raise ValueError(f"unsupported database URL scheme '{parsed.drivername}'")
    return parsed


def display_url(url: str | URL) -> str:
    """The URL with any password masked: safe for logs and messages."""
    return normalize_url(url).render_as_string(hide_password=True)


def is_transient(exc: BaseException) -> bool:
    """A lock or serialization conflict that a retry of the whole transaction can clear."""
    orig = getattr(exc, "orig", exc)
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate in PG_TRANSIENT_SQLSTATES:
        return True
    if isinstance(exc, sa_exc.OperationalError) and sqlstate is None:
        text = str(orig).lower()
        return "locked" in text or "busy" in text
    return False


class db_clock(FunctionElement):
    """Now on the database's clock, as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` text (both dialects)."""

    type = Text()
    inherit_cache = True


@compiles(db_clock, "sqlite")
def _db_clock_sqlite(element, compiler, **kw) -> str:
    return "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"


@compiles(db_clock, "postgresql")
def _db_clock_pg(element, compiler, **kw) -> str:
    return "to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"


class Database:
    """An engine plus the transaction helpers the store modules use."""

    def __init__(self, url: str | URL) -> None:
        self.url = normalize_url(url)
        self.dialect = "sqlite" if self.url.get_backend_name() == "sqlite" else "postgresql"
        self._lock = threading.Lock()
        self._engine: Engine | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    # --- lifecycle ----------------------------------------------------------------------------

    def open(self) -> Engine:
        with self._lock:
            if self._engine is None:
                self._engine = self._create_engine()
            return self._engine

    def close(self) -> None:
        with self._lock:
            engine, self._engine = self._engine, None
        if engine is not None:
            engine.dispose()

    @property
    def engine(self) -> Engine:
        engine = self._engine
        if engine is None:
            raise StoreClosed("the board store is not open")
        return engine

    def _create_engine(self) -> Engine:
        if self.is_sqlite:
            database = self.url.database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(
                self.url,
                connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
                pool_size=8,
                max_overflow=64,
            )
            event.listen(engine, "connect", _sqlite_on_connect)
            event.listen(engine, "begin", _sqlite_on_begin)
            return engine
        return create_engine(self.url, pool_size=5, max_overflow=20, pool_pre_ping=True)

    # --- transactions -------------------------------------------------------------------------

    @staticmethod
    def retry(fn: Callable[[], T]) -> T:
        """Run ``fn``; retry only transient lock errors, jittered, within a short wall budget."""
        deadline = time.monotonic() + WRITE_RETRY_BUDGET_S
        while True:
            try:
                return fn()
            except sa_exc.DBAPIError as exc:
                if not is_transient(exc) or time.monotonic() >= deadline:
                    raise
                time.sleep(random.uniform(0.02, 0.15))

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[Connection]:
        """One transaction: IMMEDIATE on SQLite for writes; for reads, one snapshot every
        statement sees (SQLite's read transaction; PostgreSQL's REPEATABLE READ, where READ
        COMMITTED would let a task and its executions be read on either side of a write)."""
        conn = self.engine.connect()
        try:
            if self.is_sqlite:
                conn = conn.execution_options(sqlite_begin="IMMEDIATE" if write else "DEFERRED")
            elif not write:
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn
        finally:
            conn.close()

    def write(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn(conn)`` inside one write transaction, retrying transient conflicts."""

        def attempt() -> T:
            with self.transaction(write=True) as conn:
                return fn(conn)

        return self.retry(attempt)

    def read(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn(conn)`` inside one read snapshot."""

        def attempt() -> T:
            with self.transaction(write=False) as conn:
                return fn(conn)

        return self.retry(attempt)

    def execute(self, statement: Any) -> int:
        """One statement in its own write transaction. Returns the changed row count."""
        return self.write(lambda conn: conn.execute(statement).rowcount)

    def one(self, statement: Any) -> dict | None:
        return self.read(lambda conn: first(conn, statement))

    def all(self, statement: Any) -> list[dict]:
        return self.read(lambda conn: rows(conn, statement))

    # --- dialect helpers ----------------------------------------------------------------------

    def insert(self, table):
        """The dialect's INSERT (both have ``on_conflict_do_update``/``do_nothing``)."""
        if self.is_sqlite:
            from sqlalchemy.dialects.sqlite import insert
        else:
            from sqlalchemy.dialects.postgresql import insert
        return insert(table)

    def insertion_order(self, table) -> ColumnElement:
        """The tiebreak for rows created in the same millisecond: rowid / the identity column."""
        if self.is_sqlite:
            return literal_column(f"{table.name}.rowid")
        return table.c.seq


def first(conn: Connection, statement: Any, params: Mapping[str, Any] | None = None) -> dict | None:
    """The first row as a dict. ``params`` bind a statement built once with ``bindparam``s
    (the hot paths': building a statement costs more than running it)."""
    row = conn.execute(statement, params).mappings().first()
    return dict(row) if row is not None else None


def rows(conn: Connection, statement: Any, params: Mapping[str, Any] | None = None) -> list[dict]:
    return [dict(r) for r in conn.execute(statement, params).mappings()]


def _sqlite_on_connect(dbapi_conn, _record) -> None:
    # Autocommit at the driver: SQLAlchemy's "begin" event below issues the BEGIN itself.
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    for pragma in (
        f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}",
        "PRAGMA foreign_keys = ON",
        "PRAGMA journal_mode = WAL",
        "PRAGMA synchronous = NORMAL",
    ):
        cursor.execute(pragma)
    cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
    conn.exec_driver_sql(f"BEGIN {mode}")
