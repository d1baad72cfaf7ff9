"""A throwaway PostgreSQL server for tests: ``initdb`` + ``pg_ctl`` in a temporary folder.

The server listens on a unix socket in that folder only (no TCP port, nothing to collide
with). PostgreSQL refuses to run as root, so under root the cluster belongs to the
``postgres`` user (Debian's ``postgresql`` package creates it) and the folder is handed to it.
Each test gets its own database (:meth:`PostgresCluster.create_database`).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path


class PostgresUnavailable(RuntimeError):
    pass


def find_pg_bin() -> Path:
    """The folder holding ``initdb``/``pg_ctl``: ``$PG_BIN``, PATH, or Debian's versioned dir."""
    explicit = os.environ.get("PG_BIN")
    if explicit:
        return Path(explicit)
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if not candidates:
        raise PostgresUnavailable(
            "PostgreSQL server binaries not found (apt-get install -y postgresql, or set PG_BIN)"
        )
    return Path(candidates[0]).parent


class PostgresCluster:
    """``with PostgresCluster() as pg: url = pg.create_database()``."""

    def __init__(self) -> None:
        self.bin = find_pg_bin()
        self.root: Path | None = None
        self.user = "postgres" if os.geteuid() == 0 else None

    @property
    def socket_dir(self) -> Path:
        assert self.root is not None
        return self.root

    def _run(self, *args: str) -> None:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self.user is not None:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise PostgresUnavailable(f"{args[0]} failed: {result.stdout}{result.stderr}")

    def start(self) -> PostgresCluster:
        self.root = Path(tempfile.mkdtemp(prefix="clawboo-pg-"))
        if self.user is not None:
            shutil.chown(self.root, self.user, self.user)
        os.chmod(self.root, 0o755)
        data = self.root / "data"
        self._run(
            "initdb", "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"
        )
        options = (
            f"-k {self.root} -c listen_addresses='' -c fsync=off -c synchronous_commit=off"
            " -c full_page_writes=off -c max_connections=300"
        )
        self._run(
            "pg_ctl", "-D", str(data), "-o", options, "-l", str(self.root / "log"), "-w", "start"
        )
        return self

    def stop(self) -> None:
        if self.root is None:
            return
        try:
            self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@/{database}?host={self.socket_dir}"

    def create_database(self, name: str | None = None) -> str:
        """A fresh empty database; returns its URL."""
        import psycopg

        name = name or f"t_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(
            host=str(self.socket_dir), user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def __enter__(self) -> PostgresCluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
