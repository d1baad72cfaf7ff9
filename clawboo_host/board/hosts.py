"""Hosts and their leases: which host process is alive is judged on the database's clock.

Each running host has a row whose ``heartbeat_at`` it refreshes (from the database's clock)
every third of its lease. Any live host may close the runs of a host whose lease has expired —
so no host ever compares its own wall clock, or a process start time, with another's. A host
restarted on the same data dir also finds its predecessor's runs at once when that process is
certainly gone (its pid no longer exists on this machine).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Connection, delete, insert, select, update

from .common import Part, parse_iso
from .database import db_clock, first, rows
from .executions import process_groups
from .schema import executions, hosts

log = logging.getLogger(__name__)

ORPHAN_ERROR = "interrupted: the host process running it stopped"
DEFAULT_LEASE_S = 30.0
# Rows of hosts gone this many leases ago, with no run left, are dropped from the table.
FORGET_AFTER_LEASES = 20


def lease_expired_error(name: str) -> str:
    return f"interrupted: host {name} stopped answering"


def is_alive(host: dict, now: datetime) -> bool:
    """Stopped cleanly, or no heartbeat within its lease on the database clock: not alive."""
    if host.get("stopped_at"):
        return False
    return (now - parse_iso(host["heartbeat_at"])).total_seconds() <= float(host["lease_s"])


class HostStore(Part):
    def register_host(
        self,
        host_id: str,
        name: str,
        url: str | None,
        lease_s: float = DEFAULT_LEASE_S,
        machine: str | None = None,
        data_dir: str | None = None,
        pid: int | None = None,
    ) -> dict:
        """Add this host process's row, its lease starting now on the database clock."""

        def write(conn: Connection) -> dict:
            conn.execute(
                insert(hosts).values(
                    id=host_id,
                    name=name,
                    url=url,
                    started_at=db_clock(),
                    heartbeat_at=db_clock(),
                    lease_s=float(lease_s),
                    machine=machine,
                    data_dir=data_dir,
                    pid=pid,
                )
            )
            return first(conn, select(hosts).where(hosts.c.id == host_id))  # type: ignore[return-value]

        return self.db.write(write)

    def heartbeat(self, host_id: str) -> bool:
        """Renew the lease. False when the row is gone or stopped (another host gave up on us)."""
        statement = (
            update(hosts)
            .where(hosts.c.id == host_id, hosts.c.stopped_at.is_(None))
            .values(heartbeat_at=db_clock())
        )
        return self.db.execute(statement) == 1

    def stop_host(self, host_id: str) -> None:
        """A clean stop: the row reads not-alive at once."""
        self.db.execute(update(hosts).where(hosts.c.id == host_id).values(stopped_at=db_clock()))

    def hosts_snapshot(self) -> tuple[datetime, list[dict]]:
        """The database's now and every host row, from one read."""

        def read(conn: Connection) -> tuple[datetime, list[dict]]:
            now = conn.execute(select(db_clock())).scalar_one()
            return parse_iso(now), rows(conn, select(hosts).order_by(hosts.c.started_at))

        return self.db.read(read)

    def list_hosts(self) -> list[dict]:
        """Every known host with ``alive`` and ``running`` (its running executions)."""
        now, host_rows = self.hosts_snapshot()
        running = self.running_executions()  # type: ignore[attr-defined]
        for host in host_rows:
            host["alive"] = is_alive(host, now)
            host["running"] = [e for e in running if e["host_id"] == host["id"]]
        return host_rows

    def recover_orphans(
        self,
        is_owner_alive: Callable[[int | None, str | None], bool],
        stop_processes: Callable[[list[tuple[int, str | None]]], object] | None = None,
        host_id: str | None = None,
        host_process_gone: Callable[[dict], bool] | None = None,
        machine: str | None = None,
        judge_leases: bool = True,
    ) -> list[str]:
        """Close ``failed`` (with a recovery tombstone) every running execution whose host is
        gone, and release its task when no running execution is left on it.

        - this host's own runs (``host_id``) are never touched;
        - a run of another host: closed when that host's lease expired (or its row is gone or
          stopped), or at once when ``host_process_gone(host_row)`` says its process is certainly
          dead (same machine and data dir, pid gone);
        - a row from before leases (no host id): ``is_owner_alive(owner_pid, owner_boot)``.

        ``stop_processes(groups)`` gets the process groups of every orphan that ran on this
        machine (``machine``; every orphan when not given) before any of them is closed: a
        released task is never re-run while the dead run's processes still work in its
        worktree. The callbacks run outside any transaction. Returns the ids closed here.

        ``judge_leases=False`` spares runs whose host's heartbeat merely expired: the caller
        could not renew its own lease lately (say the database was unreachable for everyone),
        so the others have not had their chance to renew theirs either.
        """
        now, host_rows = self.hosts_snapshot()
        by_id = {h["id"]: h for h in host_rows}
        orphans: list[tuple[dict, str]] = []
        local_groups: list[tuple[int, str | None]] = []
        for row in self.running_executions():  # type: ignore[attr-defined]
            owner = row["host_id"]
            if owner is not None and owner == host_id:
                continue
            host = by_id.get(owner) if owner is not None else None
            error = self._orphan_error(
                row, host, now, is_owner_alive, host_process_gone, judge_leases
            )
            if error is None:
                continue
            orphans.append((row, error))
            here = owner is None or machine is None or (host and host["machine"] == machine)
            if here:
                local_groups += [tuple(g) for g in process_groups(row)]
        if orphans and stop_processes is not None and local_groups:
            stop_processes(local_groups)
        closed: list[str] = []
        for row, error in orphans:
            if self.close_and_release(row, "failed", error, tombstone=True):  # type: ignore[attr-defined]
                log.warning("closed run %s: %s", row["id"], error)
                closed.append(row["id"])
        self._forget_gone_hosts(now, host_rows)
        return closed

    @staticmethod
    def _orphan_error(
        row, host, now, is_owner_alive, host_process_gone, judge_leases
    ) -> str | None:
        """Why ``row``'s run is an orphan, or None while its host is (or may be) alive."""
        owner = row["host_id"]
        if owner is None:
            alive = is_owner_alive(row["owner_pid"], row["owner_boot"])
            return None if alive else ORPHAN_ERROR
        if host is None or host.get("stopped_at"):
            return lease_expired_error(host["name"] if host else owner)
        if judge_leases and not is_alive(host, now):
            return lease_expired_error(host["name"])
        if host_process_gone is not None and host_process_gone(host):
            return ORPHAN_ERROR
        return None

    def _forget_gone_hosts(self, now: datetime, host_rows: list[dict]) -> None:
        """Drop rows of hosts long gone that no execution still names as running."""
        stale = [
            h["id"]
            for h in host_rows
            if not is_alive(h, now)
            and (now - parse_iso(h["heartbeat_at"])).total_seconds()
            > float(h["lease_s"]) * FORGET_AFTER_LEASES
        ]
        if not stale:
            return
        still_running = select(executions.c.host_id).where(
            executions.c.status == "running", executions.c.host_id.is_not(None)
        )
        self.db.execute(
            delete(hosts).where(hosts.c.id.in_(stale), hosts.c.id.not_in(still_running))
        )
