"""Several hosts on one board, at the store: leases on the database clock, recovery of an
expired host's runs, abort requests between hosts, budget accrual under concurrency.

Runs on every backend in ``CLAWBOO_TEST_BACKENDS`` (``scripts/test-postgres`` adds PostgreSQL).
"""

from __future__ import annotations

import re
import threading

import pytest
from sqlalchemy import text

from clawboo_host.board.hosts import ORPHAN_ERROR, is_alive
from clawboo_host.board.store import BoardStore, host_json

LONG_AGO = "2000-01-01T00:00:00.000Z"
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture
def store(board_url: str):
    s = BoardStore(board_url)
    s.open()
    yield s
    s.close()


def _sql(store: BoardStore, sql: str, **params) -> int:
    return store.db.write(lambda conn: conn.execute(text(sql), params).rowcount)


def _expire(store: BoardStore, host_id: str) -> None:
    """The host stopped heartbeating long ago (on the database's clock)."""
    _sql(store, "UPDATE hosts SET heartbeat_at = :t WHERE id = :id", t=LONG_AGO, id=host_id)


def _never(pid, boot) -> bool:  # the pre-lease check must not be consulted for hosted rows
    raise AssertionError("a run with a host id was judged by its pid")


def test_register_heartbeat_and_stop_on_the_database_clock(store: BoardStore):
    row = store.register_host("h1", "alpha", "http://127.0.0.1:1", lease_s=30, pid=42)
    assert ISO.match(row["started_at"]) and ISO.match(row["heartbeat_at"])
    _expire(store, "h1")
    (listed,) = store.list_hosts()
    assert listed["alive"] is False
    assert store.heartbeat("h1") is True
    (listed,) = store.list_hosts()
    assert listed["alive"] is True and listed["heartbeat_at"] > LONG_AGO
    assert store.heartbeat("ghost") is False
    store.stop_host("h1")
    assert store.list_hosts()[0]["alive"] is False
    body = host_json(store.list_hosts()[0])
    assert set(body) == {
        "id",
        "name",
        "url",
        "startedAt",
        "heartbeatAt",
        "leaseS",
        "alive",
        "runningExecutions",
    }


def test_liveness_is_the_lease_on_the_database_clock():
    from datetime import UTC, datetime

    now = datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC)
    host = {"heartbeat_at": "2026-01-01T00:00:00.000Z", "lease_s": 30.0, "stopped_at": None}
    assert is_alive(host, now) is True
    assert is_alive(dict(host, lease_s=29.9), now) is False
    assert is_alive(dict(host, stopped_at="2026-01-01T00:00:01.000Z"), now) is False


def test_an_expired_host_runs_are_closed_and_its_tasks_released(store: BoardStore):
    store.register_host("dead", "alpha", None)
    store.register_host("live", "beta", None)
    store.register_host("me", "gamma", None)
    tasks = {name: store.create_task(name) for name in ("dead", "live", "mine")}
    runs = {
        name: store.claim_for_run(tasks[name]["id"], "a", "codex", host_id=host)
        for name, host in (("dead", "dead"), ("live", "live"), ("mine", "me"))
    }
    _expire(store, "dead")
    _expire(store, "me")  # this host's own runs are never judged, even by its own lease
    closed = store.recover_orphans(_never, host_id="me")
    assert closed == [runs["dead"]["id"]]
    got = store.get_execution(runs["dead"]["id"])
    assert got["status"] == "failed" and got["recovery_tombstone"] == 1
    assert got["error"] == "interrupted: host alpha stopped answering"
    released = store.get_task(tasks["dead"]["id"])
    assert released["status"] == "todo" and released["claim_exec_id"] is None
    for name in ("live", "mine"):
        assert store.get_execution(runs[name]["id"])["status"] == "running"
    hosts = {h["name"]: h for h in store.list_hosts()}
    assert [e["id"] for e in hosts["beta"]["running"]] == [runs["live"]["id"]]
    assert "alpha" not in hosts  # gone long ago and no run left: forgotten


def test_a_host_that_could_not_renew_its_own_lease_judges_no_one_by_theirs(store: BoardStore):
    store.register_host("late", "alpha", None)
    store.register_host("stopped", "beta", None)
    runs = {}
    for host_id in ("late", "stopped", "vanished"):
        task = store.create_task(host_id)
        runs[host_id] = store.claim_for_run(task["id"], "a", "codex", host_id=host_id)
    _expire(store, "late")
    store.stop_host("stopped")
    closed = store.recover_orphans(_never, host_id="me", judge_leases=False)
    assert sorted(closed) == sorted([runs["stopped"]["id"], runs["vanished"]["id"]])
    assert store.get_execution(runs["late"]["id"])["status"] == "running"
    assert store.recover_orphans(_never, host_id="me") == [runs["late"]["id"]]


def test_a_live_lease_wins_over_a_stale_looking_process(store: BoardStore):
    """Two hosts on one data dir: a clock step that makes the other's start time look wrong
    (the old wall-clock check) no longer closes its live runs — its lease decides."""
    store.register_host("other", "alpha", None, machine="m", data_dir="/d", pid=4242)
    task = store.create_task("t")
    run = store.claim_for_run(
        task["id"], "a", "codex", owner_pid=4242, owner_boot="1.0", host_id="other"
    )
    assert store.recover_orphans(lambda pid, boot: False, host_id="me") == []
    assert store.get_execution(run["id"])["status"] == "running"
    # ...while a host process that is certainly gone on this data dir is closed at once
    gone = store.recover_orphans(_never, host_id="me", host_process_gone=lambda h: h["pid"] == 4242)
    assert gone == [run["id"]]
    assert store.get_execution(run["id"])["error"] == ORPHAN_ERROR


def test_a_run_whose_host_row_is_missing_is_closed(store: BoardStore):
    task = store.create_task("t")
    run = store.claim_for_run(task["id"], "a", "codex", host_id="vanished")
    assert store.recover_orphans(_never, host_id="me") == [run["id"]]
    assert store.get_execution(run["id"])["error"] == "interrupted: host vanished stopped answering"


def test_long_gone_hosts_are_forgotten_after_their_runs_are_closed(store: BoardStore):
    store.register_host("old", "alpha", None, lease_s=1)
    store.register_host("busy", "beta", None, lease_s=1)
    store.register_host("recent", "delta", None, lease_s=3600)
    task = store.create_task("t")
    run = store.claim_for_run(task["id"], "a", "codex", host_id="busy")
    for host_id in ("old", "busy"):
        _expire(store, host_id)
    store.stop_host("recent")  # stopped just now: still listed for a while
    store.register_host("me", "gamma", None)
    assert store.recover_orphans(_never, host_id="me") == [run["id"]]
    assert sorted(h["id"] for h in store.list_hosts()) == ["me", "recent"]


def test_abort_requests_reach_only_the_owning_host(store: BoardStore):
    a, b = store.create_task("a"), store.create_task("b")
    on_alpha = store.claim_for_run(a["id"], "x", "codex", host_id="alpha")
    on_beta = store.claim_for_run(b["id"], "y", "codex", host_id="beta")
    assert store.requested_aborts("alpha") == []
    assert store.request_abort(on_alpha["id"], "aborted by request") is True
    assert store.requested_aborts("alpha") == [(on_alpha["id"], "aborted by request")]
    assert store.requested_aborts("beta") == []
    store.close_execution(on_beta["id"], "succeeded")
    assert store.request_abort(on_beta["id"], "late") is False
    assert store.request_abort("ghost", "x") is False
    store.close_execution(on_alpha["id"], "cancelled")
    assert store.requested_aborts("alpha") == []


def test_a_scope_abort_asks_every_run_in_the_scope(store: BoardStore):
    team = store.seed_team("T", [])["team_id"]
    mission = store.create_task("mission")
    sub = store.create_task("sub", parent_task_id=mission["id"])
    subsub = store.create_task("subsub", parent_task_id=sub["id"])
    teamed = store.create_task("teamed", team_id=team)
    other = store.create_task("other")
    runs = {
        "sub": store.claim_for_run(sub["id"], "agent-1", "codex", host_id="h"),
        "subsub": store.claim_for_run(subsub["id"], "agent-2", "codex", host_id="h"),
        "teamed": store.claim_for_run(teamed["id"], "agent-2", "codex", host_id="h"),
        "other": store.claim_for_run(other["id"], "agent-3", "codex", host_id="h"),
    }

    def asked() -> set[str]:
        ids = {r["id"]: name for name, r in runs.items()}
        return {ids[exec_id] for exec_id, _ in store.requested_aborts("h")}

    assert store.request_scope_abort("mission", mission["id"], "budget:mission") == 2
    assert asked() == {"sub", "subsub"}
    assert store.request_scope_abort("team", team, "budget:team") == 1
    assert asked() == {"sub", "subsub", "teamed"}
    # the first reason stands; agent-2's runs were already asked
    assert store.request_scope_abort("agent", "agent-2", "budget:agent") == 0
    assert dict(store.requested_aborts("h"))[runs["subsub"]["id"]] == "budget:mission"
    assert store.request_scope_abort("agent", "agent-3", "budget:agent") == 1
    with pytest.raises(ValueError):
        store.request_scope_abort("tenant", "x", "budget:tenant")


def test_concurrent_spend_all_counts_and_crosses_the_cap_once(store: BoardStore):
    store.put_budget("team", "t", 1.00, "cap")
    barrier = threading.Barrier(20)
    results: list[dict] = []
    errors: list[BaseException] = []

    def spend() -> None:
        try:
            barrier.wait()
            results.append(store.record_spend("team", "t", 0.07))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=spend) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    budget = store.get_budget("team", "t")
    assert budget["spent_micro_cents"] == 20 * 70_000 and budget["status"] == "paused"
    crossings = [r for r in results if r["status"] == "paused" and r["previous_status"] != "paused"]
    assert len(crossings) == 1
    assert sorted(r["spent_micro_cents"] for r in results) == [70_000 * n for n in range(1, 21)]
