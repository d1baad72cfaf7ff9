"""The board store against real databases: every method, concurrency, migrations.

Tests taking ``store``/``board_url`` run once per backend in ``CLAWBOO_TEST_BACKENDS``
(SQLite by default; ``scripts/test-postgres`` adds a real PostgreSQL). The rest are about
SQLite files specifically.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import IntegrityError

from clawboo_host.board import states
from clawboo_host.board.database import normalize_url
from clawboo_host.board.migrate import head_revision
from clawboo_host.board.schema import metadata
from clawboo_host.board.store import (
    ORPHAN_ERROR,
    BoardStore,
    StoreClosed,
    UnknownReference,
    agent_json,
    budget_json,
    budget_status,
    comment_json,
    execution_json,
    process_groups,
    task_json,
    team_json,
    workspace_json,
)

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
DATA = Path(__file__).parent / "data"


@pytest.fixture
def store(board_url: str):
    s = BoardStore(board_url)
    s.open()
    yield s
    s.close()


def _sql(store: BoardStore, sql: str, *params) -> int:
    """A raw statement for setting up odd states; ``?`` placeholders, in order."""
    names = iter(range(len(params)))
    named = re.sub(r"\?", lambda _m: f":p{next(names)}", sql)
    binds = {f"p{i}": v for i, v in enumerate(params)}
    return store.db.write(lambda conn: conn.execute(text(named), binds).rowcount)


def _raw(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path))
    conn.row_factory = sqlite3.Row
    return conn


def _columns(url: str) -> dict[str, set[str]]:
    engine = create_engine(normalize_url(url))
    try:
        inspector = inspect(engine)
        return {
            t: {c["name"] for c in inspector.get_columns(t)} for t in inspector.get_table_names()
        }
    finally:
        engine.dispose()


# --- open, schema, migrations, lifecycle ------------------------------------------------------


def test_open_creates_schema_in_wal_at_head(tmp_path: Path):
    store = BoardStore(tmp_path / "clawboo.db")
    store.open()
    conn = _raw(tmp_path / "clawboo.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] == head_revision()
    conn.close()
    with store.db.engine.connect() as own:
        assert own.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert own.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
    store.close()


def test_migrations_build_exactly_the_declared_schema(board_url: str):
    """Every revision from empty to head yields the tables the store is written against
    (what a new board is created from directly)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from clawboo_host.board import migrate
    from clawboo_host.board.database import Database

    db = Database(board_url)
    db.open()
    migrate.upgrade(db, create_empty_from_schema=False)
    assert db.read(migrate.current_revision) == head_revision()
    db.close()
    engine = create_engine(normalize_url(board_url))
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
    finally:
        engine.dispose()
    assert diff == []
    have = _columns(board_url)
    for table in metadata.sorted_tables:
        assert {c.name for c in table.columns} == have[table.name], table.name


def test_the_head_revision_constant_is_alembics_head():
    from clawboo_host.board.migrate import alembic_head

    assert head_revision() == alembic_head()


def test_reopen_is_idempotent_and_keeps_data(board_url: str):
    s = BoardStore(board_url)
    s.open()
    task = s.create_task("keep me")
    s.close()
    with pytest.raises(StoreClosed):
        s.get_task(task["id"])
    s.open()
    assert s.get_task(task["id"])["title"] == "keep me"
    s.close()


def test_two_stores_opening_one_new_database_at_once_migrate_it_once(board_url: str):
    stores = [BoardStore(board_url) for _ in range(4)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(stores))

    def open_one(s: BoardStore) -> None:
        try:
            barrier.wait()
            s.open()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_one, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    task = stores[0].create_task("seen by all")
    assert all(s.get_task(task["id"]) is not None for s in stores)
    for s in stores:
        s.close()


def test_a_board_made_by_the_pre_alembic_store_upgrades_in_place(tmp_path: Path):
    """A real file written by the previous store (schema user_version 1) keeps every row and
    works with every method after the upgrade."""
    path = tmp_path / "clawboo.db"
    conn = sqlite3.connect(str(path))
    conn.executescript((DATA / "board-pre-alembic.sql").read_text())
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    s = BoardStore(path)
    s.open()
    try:
        assert set(_columns(f"sqlite:///{path}")["executions"]) >= {"host_id", "abort_requested"}
        (root,) = [t for t in s.list_tasks() if t["title"] == "legacy root"]
        (child,) = [t for t in s.list_tasks() if t["title"] == "legacy child"]
        assert s.mission_id(child["id"]) == root["id"]
        assert root["verify_command"] == "make test"
        assert [c["body"] for c in s.list_comments(root["id"])] == ["first", "second"]
        (run,) = s.list_executions(child["id"])
        assert run["status"] == "running" and run["host_id"] is None
        assert process_groups(run) == [[999998, "stamp"]]
        assert s.get_workspace(root["id"])["worktree_path"] == "/wt"
        (budget,) = s.list_budgets()
        assert budget_json(budget)["spentUsd"] == 1.25 and budget["mode"] == "cap"
        assert s.get_setting("k") == "v"
        assert s.list_agents()[0]["id"] == "agent-old"
        # the old running row (its pid long gone) is recovered the old way, by its pid
        assert s.recover_orphans(lambda pid, boot: False) == [run["id"]]
        assert s.get_task(child["id"])["status"] == "todo"
        assert s.claim(child["id"], "agent-new", "codex") is True
        assert s.record_spend("team", budget["scope_id"], 4)["status"] == "paused"
    finally:
        s.close()
    s2 = BoardStore(path)  # a second open has nothing left to do
    s2.open()
    assert s2.get_task(child["id"])["assignee_agent_id"] == "agent-new"
    s2.close()


def test_older_file_gains_missing_columns_and_migrations(tmp_path: Path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(str(path))
    conn.executescript(
        """
        CREATE TABLE tasks (id TEXT PRIMARY KEY, title TEXT NOT NULL, status TEXT NOT NULL,
                            parent_task_id TEXT, created_at TEXT NOT NULL);
        INSERT INTO tasks VALUES ('t-old', 'legacy', 'todo', NULL, '2024-01-01T00:00:00.000Z');
        CREATE TABLE budgets (id INTEGER PRIMARY KEY, scope TEXT NOT NULL, scope_id TEXT NOT NULL,
                              limit_usd_cents INTEGER NOT NULL, UNIQUE(scope, scope_id));
        INSERT INTO budgets (scope, scope_id, limit_usd_cents) VALUES ('agent', 'a1', 500);
        CREATE TABLE executions (id TEXT PRIMARY KEY, task_id TEXT, status TEXT,
                                 started_at TEXT);
        INSERT INTO executions VALUES ('e-old', 't-old', 'running', '2024-01-01T00:00:00.000Z');
        """
    )
    conn.commit()
    conn.close()

    s = BoardStore(path)
    s.open()
    try:
        have = _columns(f"sqlite:///{path}")
        for table in metadata.sorted_tables:
            assert {c.name for c in table.columns} <= have[table.name], table.name
        raw = _raw(path)
        indexes = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        assert "idx_tasks_status" in indexes
        raw.close()

        task = s.get_task("t-old")
        assert task["title"] == "legacy"
        assert task["priority"] == 0 and task["description"] == ""
        assert ISO.match(task["updated_at"])  # backfilled
        assert task_json(task)["assigneeAgentId"] is None
        budget = s.get_budget("agent", "a1")
        assert budget["spent_micro_cents"] == 0 and budget["mode"] == "warn"
        assert s.record_spend("agent", "a1", 4.5)["status"] == "soft_capped"
        old_exec = s.get_execution("e-old")
        assert old_exec["recovery_tombstone"] == 0 and old_exec["run_reason"] == "run"

        # the old rows work with every new method
        assert s.claim("t-old", "agent-1", "codex") is True
        child = s.create_task("new child", parent_task_id="t-old")
        assert s.mission_id(child["id"]) == "t-old"
    finally:
        s.close()

    s2 = BoardStore(path)  # a second open has nothing left to do
    s2.open()
    assert s2.get_task("t-old")["status"] == "in_progress"
    s2.close()


# --- states -----------------------------------------------------------------------------------

LEGAL = {
    "backlog": {"todo", "blocked", "cancelled"},
    "todo": {"in_progress", "blocked", "backlog", "cancelled"},
    "in_progress": {"in_review", "done", "blocked", "todo", "cancelled"},
    "in_review": {"done", "in_progress", "blocked", "cancelled"},
    "blocked": {"todo", "in_progress", "backlog", "cancelled"},
    "done": set(),
    "cancelled": set(),
}


def test_state_machine_table():
    assert states.STATUSES == (
        "backlog",
        "todo",
        "in_progress",
        "in_review",
        "blocked",
        "done",
        "cancelled",
    )
    assert {"done", "cancelled"} == states.TERMINAL
    for frm in states.STATUSES:
        for to in states.STATUSES:
            expected = frm == to or to in LEGAL[frm]
            assert states.can_transition(frm, to) is expected, (frm, to)
    assert not states.can_transition("todo", "nope")
    assert not states.can_transition("nope", "nope")


@pytest.mark.parametrize("frm", list(LEGAL))
def test_update_status_follows_the_machine(store: BoardStore, frm: str):
    for to in states.STATUSES:
        task = store.create_task("t")
        _sql(store, "UPDATE tasks SET status = ? WHERE id = ?", frm, task["id"])
        change = store.update_status(task["id"], to)
        legal = frm == to or to in LEGAL[frm]
        assert change.ok is legal, (frm, to)
        after = store.get_task(task["id"])
        if legal:
            assert change.reason is None and after["status"] == to
            assert change.task["status"] == to
        else:
            assert change.reason == "illegal_transition" and after["status"] == frm
            assert change.previous == frm


def test_update_status_side_effects(store: BoardStore):
    task = store.create_task("t")
    assert store.update_status("missing", "todo").reason == "not_found"
    assert store.claim(task["id"], "agent-a", "codex")
    done = store.update_status(task["id"], "done")
    assert done.ok and ISO.match(done.task["completed_at"])
    assert done.task["assignee_agent_id"] == "agent-a"
    assert store.update_status(task["id"], "todo").reason == "illegal_transition"

    other = store.create_task("u")
    store.claim(other["id"], "agent-b", "hermes")
    back = store.update_status(other["id"], "todo")
    assert back.ok and back.task["assignee_agent_id"] is None
    assert back.task["assignee_runtime"] is None and back.task["completed_at"] is None
    same = store.update_status(other["id"], "todo")
    assert same.ok and same.task["updated_at"] == back.task["updated_at"]
    cancelled = store.update_status(other["id"], "cancelled")
    assert cancelled.ok and cancelled.task["completed_at"] is not None


# --- tasks ------------------------------------------------------------------------------------


def test_create_get_list_update_task(store: BoardStore):
    team = store.seed_team("T", [], {})["team_id"]
    a = store.create_task("A", "desc", priority=3, team_id=team)
    b = store.create_task("B", status="backlog")
    assert a["status"] == "todo" and a["priority"] == 3 and a["team_id"] == team
    assert ISO.match(a["created_at"]) and a["created_at"] == a["updated_at"]
    assert a["completed_at"] is None
    assert store.get_task(a["id"]) == a
    assert store.get_task("nope") is None
    assert [t["id"] for t in store.list_tasks()] == [a["id"], b["id"]]
    assert [t["id"] for t in store.list_tasks(status="backlog")] == [b["id"]]
    assert [t["id"] for t in store.list_tasks(team_id=team)] == [a["id"]]
    assert store.list_tasks(status="done") == []

    updated = store.update_task(a["id"], title="A2", priority=5)
    assert updated["title"] == "A2" and updated["description"] == "desc"
    assert updated["priority"] == 5
    assert store.update_task(a["id"]) == updated  # nothing to change
    assert store.update_task("nope", title="x") is None

    with pytest.raises(ValueError):
        store.create_task("bad", status="weird")


def test_create_task_unknown_references_change_nothing(store: BoardStore):
    with pytest.raises(UnknownReference) as err:
        store.create_task("x", parent_task_id="ghost")
    assert err.value.field == "parentTaskId"
    with pytest.raises(UnknownReference) as err:
        store.create_task("x", team_id="ghost-team")
    assert str(err.value) == "unknown teamId 'ghost-team'"
    assert store.list_tasks() == []


def test_patch_task_is_all_or_nothing(store: BoardStore):
    task = store.create_task("t")
    _sql(store, "UPDATE tasks SET status = 'done' WHERE id = ?", task["id"])
    change = store.patch_task(task["id"], status="todo", title="changed")
    assert change.reason == "illegal_transition"
    assert store.get_task(task["id"])["title"] == "t"
    assert store.patch_task("ghost", title="x").reason == "not_found"


def test_ancestors_depth_mission(store: BoardStore):
    root = store.create_task("root")
    c1 = store.create_task("c1", parent_task_id=root["id"])
    c2 = store.create_task("c2", parent_task_id=c1["id"])
    c3 = store.create_task("c3", parent_task_id=c2["id"])
    assert [t["id"] for t in store.ancestors(c3["id"])] == [c2["id"], c1["id"], root["id"]]
    assert [store.depth(t["id"]) for t in (root, c1, c2, c3)] == [0, 1, 2, 3]
    assert store.mission_id(c3["id"]) == root["id"]
    assert store.mission_id(root["id"]) == root["id"]
    assert store.ancestors("ghost") == [] and store.depth("ghost") == 0
    assert store.mission_id("ghost") == "ghost"


def test_ancestors_are_cycle_safe(store: BoardStore):
    a = store.create_task("a")
    b = store.create_task("b", parent_task_id=a["id"])
    c = store.create_task("c", parent_task_id=b["id"])
    _sql(store, "UPDATE tasks SET parent_task_id = ? WHERE id = ?", c["id"], a["id"])
    assert [t["id"] for t in store.ancestors(c["id"])] == [b["id"], a["id"]]
    assert store.depth(a["id"]) == 2
    self_loop = store.create_task("s")
    _sql(store, "UPDATE tasks SET parent_task_id = id WHERE id = ?", self_loop["id"])
    assert store.ancestors(self_loop["id"]) == []


# --- claim and release ----------------------------------------------------------------------


def test_claim_rules(store: BoardStore):
    task = store.create_task("t")
    assert store.claim(task["id"], "agent-a", "codex") is True
    got = store.get_task(task["id"])
    assert got["status"] == "in_progress" and got["assignee_agent_id"] == "agent-a"
    assert got["assignee_runtime"] == "codex"
    assert store.claim(task["id"], "agent-b", "hermes") is False
    assert store.claim("ghost", "agent-a", "codex") is False
    backlog = store.create_task("b", status="backlog")
    assert store.claim(backlog["id"], "agent-a", "codex") is False
    # a todo task that still has an assignee is not claimable
    odd = store.create_task("o")
    _sql(store, "UPDATE tasks SET assignee_agent_id = 'x' WHERE id = ?", odd["id"])
    assert store.claim(odd["id"], "agent-a", "codex") is False


def test_claim_storm_exactly_one_winner(board_url: str):
    store = BoardStore(board_url)
    store.open()
    try:
        task = store.create_task("contested")
        barrier = threading.Barrier(16)
        results: dict[int, bool] = {}
        errors: list[BaseException] = []

        def worker(n: int) -> None:
            try:
                barrier.wait()
                results[n] = store.claim(task["id"], f"agent-{n}", "codex")
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        winners = [n for n, won in results.items() if won]
        assert len(results) == 16 and len(winners) == 1
        got = store.get_task(task["id"])
        assert got["assignee_agent_id"] == f"agent-{winners[0]}"
        assert got["status"] == "in_progress"
    finally:
        store.close()


def test_release(store: BoardStore):
    task = store.create_task("t")
    assert store.release(task["id"]) is False  # todo: no-op
    store.claim(task["id"], "agent-a", "codex")
    assert store.release(task["id"]) is True
    got = store.get_task(task["id"])
    assert got["status"] == "todo" and got["assignee_agent_id"] is None
    assert got["assignee_runtime"] is None
    assert store.release(task["id"]) is False
    store.claim(task["id"], "agent-a", "codex")
    store.update_status(task["id"], "in_review")
    assert store.release(task["id"]) is False
    assert store.get_task(task["id"])["status"] == "in_review"


# --- comments ---------------------------------------------------------------------------------


def test_comments(store: BoardStore):
    task = store.create_task("t")
    c1 = store.add_comment(task["id"], "hello")
    c2 = store.add_comment(task["id"], "done", author_type="agent", author_agent_id="agent-a")
    assert c1["author_type"] == "user" and c1["author_agent_id"] is None
    assert ISO.match(c1["created_at"])
    assert [c["id"] for c in store.list_comments(task["id"])] == [c1["id"], c2["id"]]
    assert comment_json(c2) == {
        "id": c2["id"],
        "taskId": task["id"],
        "authorAgentId": "agent-a",
        "authorType": "agent",
        "body": "done",
        "createdAt": c2["created_at"],
    }
    assert store.add_comment("ghost", "x") is None
    with pytest.raises(ValueError):
        store.add_comment(task["id"], "x", author_type="robot")
    assert len(store.list_comments(task["id"])) == 2


# --- executions -------------------------------------------------------------------------------


def test_execution_lifecycle_and_close_once(store: BoardStore):
    task = store.create_task("t")
    ex = store.create_execution(task["id"], "codex", owner_pid=123, owner_boot="boot-1")
    assert ex["status"] == "running" and ex["run_reason"] == "run"
    assert ex["owner_pid"] == 123 and ex["owner_boot"] == "boot-1"
    assert ex["recovery_tombstone"] == 0 and ISO.match(ex["started_at"])
    assert [e["id"] for e in store.running_executions()] == [ex["id"]]
    ws = store.save_workspace(task["id"], "/repo", "clawboo/task-x", "/wt/x", "abc")
    assert store.set_execution_workspace(ex["id"], ws["id"]) is True

    assert (
        store.close_execution(
            ex["id"],
            "succeeded",
            summary="ok",
            cost_usd=0.25,
            input_tokens=10,
            output_tokens=20,
            native_session_id="sess-1",
        )
        is True
    )
    assert store.close_execution(ex["id"], "failed", error="late") is False
    got = store.get_execution(ex["id"])
    assert got["status"] == "succeeded" and got["error"] is None and got["summary"] == "ok"
    assert got["workspace_id"] == ws["id"] and got["native_session_id"] == "sess-1"
    assert ISO.match(got["completed_at"])
    assert execution_json(got) == {
        "id": ex["id"],
        "taskId": task["id"],
        "runtimeId": "codex",
        "status": "succeeded",
        "startedAt": ex["started_at"],
        "completedAt": got["completed_at"],
        "summary": "ok",
        "error": None,
        "costUsd": 0.25,
        "inputTokens": 10,
        "outputTokens": 20,
    }
    assert store.running_executions() == []
    assert store.set_execution_workspace(ex["id"], None) is False
    second = store.create_execution(task["id"], "hermes", run_reason="resume-via-handoff")
    assert [e["id"] for e in store.list_executions(task["id"])] == [ex["id"], second["id"]]
    assert store.get_execution("ghost") is None
    assert store.close_execution("ghost", "failed") is False
    with pytest.raises(ValueError):
        store.close_execution(second["id"], "running")


def test_close_execution_race_has_one_winner(store: BoardStore):
    task = store.create_task("t")
    ex = store.create_execution(task["id"], "codex")
    barrier = threading.Barrier(8)
    results: list[bool] = []

    def worker(n: int) -> None:
        barrier.wait()
        results.append(store.close_execution(ex["id"], "cancelled", summary=f"s{n}"))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]


def test_recover_orphans(store: BoardStore):
    dead_task = store.create_task("dead")
    live_task = store.create_task("live")
    done_task = store.create_task("already")
    store.claim(dead_task["id"], "a", "codex")
    store.claim(live_task["id"], "b", "codex")
    dead = store.create_execution(dead_task["id"], "codex", owner_pid=1, owner_boot="old")
    live = store.create_execution(live_task["id"], "codex", owner_pid=2, owner_boot="now")
    finished = store.create_execution(done_task["id"], "codex", owner_pid=1, owner_boot="old")
    store.close_execution(finished["id"], "succeeded")
    # a task in review keeps its status even though its run died
    review_task = store.create_task("review")
    store.claim(review_task["id"], "c", "codex")
    store.update_status(review_task["id"], "in_review")
    review_exec = store.create_execution(review_task["id"], "codex", owner_pid=None)

    seen: list[tuple] = []

    def alive(pid, boot):
        seen.append((pid, boot))
        return boot == "now"

    closed = store.recover_orphans(alive)
    assert sorted(closed) == sorted([dead["id"], review_exec["id"]])
    assert (None, None) in seen
    got = store.get_execution(dead["id"])
    assert got["status"] == "failed" and got["error"] == ORPHAN_ERROR
    assert got["recovery_tombstone"] == 1
    task = store.get_task(dead_task["id"])
    assert task["status"] == "todo" and task["assignee_agent_id"] is None
    assert store.get_execution(live["id"])["status"] == "running"
    assert store.get_task(live_task["id"])["status"] == "in_progress"
    assert store.get_execution(finished["id"])["recovery_tombstone"] == 0
    assert store.get_task(review_task["id"])["status"] == "in_review"
    assert store.recover_orphans(alive) == []  # nothing left to recover


def test_recovery_stops_the_orphans_process_groups_before_closing_them(store: BoardStore):
    dead_task = store.create_task("dead")
    live_task = store.create_task("live")
    dead = store.create_execution(dead_task["id"], "codex", owner_pid=1, owner_boot="old")
    live = store.create_execution(live_task["id"], "codex", owner_pid=2, owner_boot="now")
    assert store.add_process_group(dead["id"], 4242, "boot:1")
    assert store.add_process_group(dead["id"], 4343, None)
    assert store.add_process_group(live["id"], 5252, "boot:2")
    store.close_execution(live["id"], "succeeded")
    assert not store.add_process_group(live["id"], 5353, "boot:3")  # closed: not recorded
    stopped: list = []

    def stop(groups):
        # still running while its processes are being stopped
        stopped.append((groups, store.get_execution(dead["id"])["status"]))

    assert store.recover_orphans(lambda pid, boot: boot == "now", stop) == [dead["id"]]
    assert stopped == [([(4242, "boot:1"), (4343, None)], "running")]
    assert store.get_execution(dead["id"])["status"] == "failed"


# --- workspaces -------------------------------------------------------------------------------


def test_workspaces(store: BoardStore):
    task = store.create_task("t")
    assert store.get_workspace(task["id"]) is None
    ws = store.save_workspace(task["id"], "/repo", "clawboo/task-1", "/wt/1", "base1")
    assert ws["status"] == "active" and ws["base_commit"] == "base1"
    got = store.get_task(task["id"])
    assert got["worktree_ref"] == "/wt/1" and got["branch_ref"] == "clawboo/task-1"
    assert store.set_workspace_status(ws["id"], "stale") is True
    assert store.get_workspace(task["id"])["status"] == "stale"
    again = store.save_workspace(task["id"], "/repo", "clawboo/task-1", "/wt/1b", "base2")
    assert again["id"] == ws["id"] and again["status"] == "active"
    assert again["worktree_path"] == "/wt/1b" and again["base_commit"] == "base2"
    assert workspace_json(again) == {
        "id": ws["id"],
        "taskId": task["id"],
        "repoPath": "/repo",
        "branch": "clawboo/task-1",
        "worktreePath": "/wt/1b",
        "status": "active",
    }
    assert store.clear_task_refs(task["id"]) is True
    got = store.get_task(task["id"])
    assert got["worktree_ref"] is None and got["branch_ref"] is None
    assert store.get_workspace(task["id"])["id"] == ws["id"]
    assert store.save_workspace("ghost", "/r", "b", "/w", None) is None
    assert store.set_workspace_status("ghost", "archived") is False
    with pytest.raises(ValueError):
        store.set_workspace_status(ws["id"], "gone")


# --- budgets ----------------------------------------------------------------------------------


def test_budget_status_thresholds():
    cent = 10_000
    assert budget_status(0, 999 * cent, "cap") == "active"
    assert budget_status(1000, 799 * cent, "cap") == "active"
    assert budget_status(1000, 800 * cent, "cap") == "soft_capped"
    assert budget_status(1000, 999 * cent + 9999, "cap") == "soft_capped"  # whole cents only
    assert budget_status(1000, 1000 * cent, "cap") == "paused"
    assert budget_status(1000, 5000 * cent, "warn") == "soft_capped"
    assert budget_status(1001, 800 * cent, "cap") == "active"  # 79.9 %: not there yet
    assert budget_status(1001, 800 * cent + 8000, "cap") == "soft_capped"  # exactly 80 %
    # a 1-cent budget with no spend is active; 0.8 cents reaches its 80 %
    assert budget_status(1, 0, "cap") == "active"
    assert budget_status(1, 7999, "cap") == "active"
    assert budget_status(1, 8000, "cap") == "soft_capped"
    assert budget_status(1, 10_000, "cap") == "paused"


def test_put_get_list_budgets(store: BoardStore):
    b = store.put_budget("agent", "codex", 10, "cap")
    assert b["limit_usd_cents"] == 1000 and b["spent_micro_cents"] == 0
    assert b["status"] == "active" and b["mode"] == "cap"
    assert budget_json(b) == {
        "scope": "agent",
        "scopeId": "codex",
        "limitUsd": 10.0,
        "spentUsd": 0.0,
        "mode": "cap",
        "status": "active",
    }
    store.put_budget("team", "t1", 2.5, "warn")
    assert [(x["scope"], x["scope_id"]) for x in store.list_budgets()] == [
        ("agent", "codex"),
        ("team", "t1"),
    ]
    assert store.get_budget("mission", "m") is None
    with pytest.raises(ValueError):
        store.put_budget("tenant", "x", 1, "cap")
    with pytest.raises(ValueError):
        store.put_budget("agent", "x", 1, "stop")


def test_record_spend_pauses_cap_and_clamps_warn(store: BoardStore):
    store.put_budget("agent", "a", 1.00, "cap")
    store.put_budget("team", "t", 1.00, "warn")
    assert store.record_spend("mission", "nobody", 5) is None

    r = store.record_spend("agent", "a", 0.79)
    assert r["status"] == "active" and r["spent_micro_cents"] == 790_000
    r = store.record_spend("agent", "a", 0.01)
    assert r["status"] == "soft_capped" and r["previous_status"] == "active"
    r = store.record_spend("agent", "a", 0.2)
    assert r["status"] == "paused"
    assert budget_json(r)["spentUsd"] == 1.0

    r = store.record_spend("team", "t", 3.0)
    assert r["status"] == "soft_capped"  # warn never pauses
    # fractional cents accumulate exactly as micro-cents
    store.put_budget("mission", "m", 1.0, "cap")
    for _ in range(3):
        r = store.record_spend("mission", "m", 0.0000015)
    assert r["spent_micro_cents"] == 6  # round(1.5) each → 2 × 3
    assert store.record_spend("mission", "m", -5)["spent_micro_cents"] == 6
    assert store.record_spend("mission", "m", float("nan"))["spent_micro_cents"] == 6


def test_paused_cap_budget_and_unpause_by_raising_limit(store: BoardStore):
    store.put_budget("agent", "a", 1, "cap")
    store.put_budget("mission", "m", 1, "cap")
    store.put_budget("team", "t", 1, "warn")
    scopes = [("agent", "a"), ("mission", "m"), ("team", "t")]
    assert store.paused_cap_budget(scopes) is None
    store.record_spend("team", "t", 10)
    assert store.paused_cap_budget(scopes) is None  # warn clamped, never blocks
    store.record_spend("mission", "m", 1)
    store.record_spend("agent", "a", 1)
    assert store.paused_cap_budget(scopes) == ("agent", "a")
    assert store.paused_cap_budget([("agent", None), ("mission", "m")]) == ("mission", "m")
    assert store.paused_cap_budget([("agent", "unknown")]) is None

    raised = store.put_budget("agent", "a", 5, "cap")
    assert raised["status"] == "active" and raised["spent_micro_cents"] == 1_000_000
    assert store.paused_cap_budget(scopes) == ("mission", "m")
    warn = store.put_budget("mission", "m", 1, "warn")
    assert warn["status"] == "soft_capped"
    assert store.paused_cap_budget(scopes) is None
    assert store.put_budget("mission", "m", 0, "cap")["status"] == "active"


# --- teams, agents, settings ------------------------------------------------------------------

AGENTS = [
    {
        "id": "native-coder-1",
        "name": "Coder",
        "runtime": "clawboo-native",
        "role": "specialist",
        "provider": "anthropic",
        "model": "claude-haiku-4-5",
        "config": {"maxTurns": 16},
    },
    {
        "id": "native-team-lead-1",
        "name": "Team Lead",
        "runtime": "clawboo-native",
        "role": "leader",
        "provider": "anthropic",
        "model": "claude-sonnet-4-6",
        "config": {},
    },
]


def test_seed_team_and_reads(store: BoardStore):
    out = store.seed_team(
        "My First Team",
        AGENTS,
        {"team-server-orchestrated:{team_id}": "true", "plain": "v"},
    )
    team_id = out["team_id"]
    assert out["leader_agent_id"] == "native-team-lead-1"
    assert out["agent_ids"] == ["native-coder-1", "native-team-lead-1"]
    team = store.get_team(team_id)
    assert team["name"] == "My First Team" and team["leader_agent_id"] == "native-team-lead-1"
    assert team_json(team) == {
        "id": team_id,
        "name": "My First Team",
        "leaderAgentId": "native-team-lead-1",
        "createdAt": team["created_at"],
    }
    assert [t["id"] for t in store.list_teams()] == [team_id]
    agents = store.list_agents(team_id)
    assert [a["id"] for a in agents] == out["agent_ids"]
    assert store.list_agents("other") == []
    coder = store.get_agent("native-coder-1")
    assert coder["config_json"] == '{"maxTurns": 16}'
    assert agent_json(coder) == {
        "id": "native-coder-1",
        "name": "Coder",
        "runtime": "clawboo-native",
        "teamId": team_id,
        "role": "specialist",
        "provider": "anthropic",
        "model": "claude-haiku-4-5",
    }
    assert store.get_setting(f"team-server-orchestrated:{team_id}") == "true"
    assert store.get_setting("plain") == "v"
    assert store.get_team("ghost") is None and store.get_agent("ghost") is None

    second = store.seed_team("Another", [{"name": "Solo", "role": "specialist"}], {"plain": "w"})
    assert second["leader_agent_id"] is None and len(second["agent_ids"]) == 1
    assert store.get_setting("plain") == "w"
    assert len(store.list_agents()) == 3


def test_seed_team_rolls_back_everything(store: BoardStore):
    dup = [AGENTS[1], dict(AGENTS[0], id=AGENTS[1]["id"])]
    with pytest.raises(IntegrityError):
        store.seed_team("Broken", dup, {"team-onboarding:{team_id}": "{}", "k": "v"})
    assert store.list_teams() == [] and store.list_agents() == []
    assert store.get_setting("k") is None
    raw = store.db.read(lambda conn: conn.execute(text("SELECT COUNT(*) FROM settings")).scalar())
    assert raw == 0


def test_settings(store: BoardStore):
    assert store.get_setting("x") is None
    store.set_setting("x", "1")
    store.set_setting("x", "2")
    assert store.get_setting("x") == "2"


# --- threads ----------------------------------------------------------------------------------


def test_threads_share_the_store_and_close_releases_every_connection(board_url: str):
    store = BoardStore(board_url)
    store.open()
    engine = store.db.engine
    threads = [
        threading.Thread(target=lambda: store.create_task("from a thread")) for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store.list_tasks()) == 3
    store.close()
    assert engine.pool.checkedout() == 0
    with pytest.raises(StoreClosed):
        store.list_tasks()


def test_task_detail(store: BoardStore):
    task = store.create_task("t")
    store.add_comment(task["id"], "c")
    store.create_execution(task["id"], "codex")
    store.save_workspace(task["id"], "/r", "b", "/w", None)
    detail = store.task_detail(task["id"])
    assert detail["task"]["id"] == task["id"]
    assert len(detail["comments"]) == 1 and len(detail["executions"]) == 1
    assert detail["workspace"]["worktree_path"] == "/w"
    assert store.task_detail("ghost") is None
    assert store.team_detail("ghost") is None


SECRET = "sk-ant-" + "api03-abcdefghijklmnopqrstuvwxyz0123"  # split: not a committed key


def test_secret_shaped_text_never_reaches_the_file(tmp_path: Path):
    store = BoardStore(tmp_path / "clawboo.db")
    store.open()
    task = store.create_task(f"use {SECRET}", f"OPENAI_API_KEY={SECRET}")
    assert SECRET not in task["title"] and "[REDACTED]" in task["title"]
    assert task["description"] == "OPENAI_API_KEY=[REDACTED]"
    store.patch_task(task["id"], title=f"again {SECRET}", description=f"Bearer {SECRET}")
    store.add_comment(task["id"], f"echo {SECRET}")
    ex = store.create_execution(task["id"], "codex")
    store.close_execution(ex["id"], "failed", summary=f"s {SECRET}", error=f"e {SECRET}")
    detail = store.task_detail(task["id"])
    assert SECRET not in repr(detail)
    assert detail["comments"][0]["body"] == "echo [REDACTED]"
    store.close()
    for name in ("clawboo.db", "clawboo.db-wal"):
        path = tmp_path / name
        if path.exists():
            assert SECRET.encode() not in path.read_bytes()
    store.open()


def test_claim_for_run_claims_and_opens_the_execution_together(board_url: str):
    store = BoardStore(board_url)
    store.open()
    task = store.create_task("t")
    execution = store.claim_for_run(task["id"], "a1", "rt", owner_pid=7, owner_boot="x")
    assert execution["status"] == "running" and execution["owner_pid"] == 7
    assert store.get_task(task["id"])["status"] == "in_progress"
    assert store.claim_for_run(task["id"], "a2", "rt") is None  # lost: no second execution
    assert len(store.list_executions(task["id"])) == 1
    store.close()


def test_hand_over_claim_passes_the_claim_to_a_new_execution_in_one_step(store):
    task = store.create_task("t")
    first = store.claim_for_run(task["id"], "a1", "rt", owner_pid=7, owner_boot="x")
    second = store.hand_over_claim(
        task["id"], first["id"], "verify-fix", 7, "x", summary="did it", cost_usd=0.25
    )
    assert second["status"] == "running" and second["run_reason"] == "verify-fix"
    assert second["runtime_id"] == "rt" and second["owner_pid"] == 7
    closed = store.get_execution(first["id"])
    assert (closed["status"], closed["summary"], closed["cost_usd"]) == (
        "succeeded",
        "did it",
        0.25,
    )
    row = store.get_task(task["id"])
    assert (row["status"], row["claim_exec_id"], row["assignee_agent_id"]) == (
        "in_progress",
        second["id"],
        "a1",
    )
    # the old execution no longer holds the claim: a second hand-over from it writes nothing
    assert store.hand_over_claim(task["id"], first["id"], "verify-fix", 7, "x") is None
    # nor does one after a person released the task
    assert store.update_status(task["id"], "todo").ok
    assert store.hand_over_claim(task["id"], second["id"], "verify-fix", 7, "x") is None
    assert [e["status"] for e in store.list_executions(task["id"])] == ["succeeded", "running"]


def test_verify_command_is_stored_redacted_and_blank_means_none(store):
    task = store.create_task("t", verify_command="  TOKEN=ghp_abcdefghijklmnop1234 make test ")
    assert task["verify_command"] == "TOKEN=[REDACTED] make test"
    assert store.patch_task(task["id"], title="t2").task["verify_command"] is not None
    assert store.patch_task(task["id"], verify_command="  ").task["verify_command"] is None


RUN = dict(run_reason="run", owner_pid=7, owner_boot="x", host_id=None)


def test_claim_run_judges_on_the_task_its_ancestors_and_budgets_then_claims(store):
    root = store.create_task("mission")
    child = store.create_task("child", parent_task_id=root["id"])
    seen = []
    claim = store.claim_run(child["id"], "a1", "rt", check=seen.append, **RUN)
    (start,) = seen
    assert claim.start == start and start.task["id"] == child["id"]
    assert [a["id"] for a in start.ancestors] == [root["id"]]
    assert start.mission_id == root["id"] and start.paused_budget is None
    assert claim.execution["status"] == "running" and claim.execution["owner_pid"] == 7
    assert claim.workspace is None and claim.previous is None
    assert store.get_task(child["id"])["claim_exec_id"] == claim.execution["id"]

    store.put_budget("mission", root["id"], 1.0, mode="cap")
    store.record_spend("mission", root["id"], 2.0)
    other = store.create_task("sibling", parent_task_id=root["id"])

    def refuse(start):
        assert start.paused_budget == ("mission", root["id"])
        raise LookupError("refused")

    with pytest.raises(LookupError):
        store.claim_run(other["id"], "a1", "rt", check=refuse, **RUN)
    assert store.get_task(other["id"])["status"] == "todo"  # a refusal writes nothing
    assert store.list_executions(other["id"]) == []
    missing = []
    assert store.claim_run("missing", "a1", "rt", check=missing.append, **RUN) is None
    assert missing[0].task is None and missing[0].ancestors == []


def test_claim_run_returns_the_workspace_and_the_previous_execution(store):
    task = store.create_task("t")
    first = store.claim_run(task["id"], "a1", "rt", check=lambda s: None, **RUN)
    ws = store.attach_workspace(first.execution["id"], task["id"], "/r", "b", "/w", "c0ffee")
    assert store.get_execution(first.execution["id"])["workspace_id"] == ws["id"]
    assert store.get_task(task["id"])["worktree_ref"] == "/w"
    assert store.claim_run(task["id"], "a2", "rt", check=lambda s: None, **RUN) is None
    assert len(store.list_executions(task["id"])) == 1

    assert store.close_execution(first.execution["id"], "failed", error="boom")
    assert store.release(task["id"])
    second = store.claim_run(task["id"], "a1", "rt", check=lambda s: None, **RUN)
    assert second.previous["id"] == first.execution["id"]
    assert second.workspace["id"] == ws["id"]


def test_report_run_comments_and_tells_whether_the_claim_is_still_held(store):
    task = store.create_task("t")
    execution = store.claim_for_run(task["id"], "a1", "rt")
    assert store.report_run(task["id"], execution["id"], "did it", "a1") is True
    assert store.update_status(task["id"], "todo").ok  # a person took it back
    assert store.report_run(task["id"], execution["id"], "late", "a1") is False
    bodies = [(c["author_type"], c["body"]) for c in store.list_comments(task["id"])]
    assert bodies == [("agent", "did it"), ("agent", "late")]


def test_settle_run_moves_and_closes_in_one_transaction(store):
    task = store.create_task("t")
    execution = store.claim_for_run(task["id"], "a1", "rt")
    change = store.settle_run(
        task["id"], execution["id"], "in_review", "succeeded", summary="ok", cost_usd=0.5
    )
    assert change.ok and change.task["status"] == "in_review"
    closed = store.get_execution(execution["id"])
    assert (closed["status"], closed["summary"], closed["cost_usd"]) == ("succeeded", "ok", 0.5)

    other = store.create_task("u")
    held = store.claim_for_run(other["id"], "a1", "rt")
    assert store.update_status(other["id"], "todo").ok
    lost = store.settle_run(other["id"], held["id"], "in_review", "succeeded")
    assert (lost.ok, lost.reason, lost.task["status"]) == (False, "claim_lost", "todo")
    assert store.get_execution(held["id"])["status"] == "succeeded"  # closed either way
    with pytest.raises(ValueError):
        store.settle_run(other["id"], held["id"], "done", "running")


def test_spend_adds_to_every_scope_and_names_the_first_paused_cap(store):
    store.put_budget("agent", "a1", 10.0, mode="warn")
    store.put_budget("team", "t1", 1.0, mode="cap")
    scopes = [("agent", "a1"), ("mission", None), ("team", "t1")]
    assert store.spend(scopes, 0.5) is None
    assert store.spend(scopes, 0.75) == ("team", "t1")
    spent = {b["scope"]: b["spent_micro_cents"] for b in store.list_budgets()}
    assert spent == {"agent": 1_250_000, "team": 1_250_000}


def test_a_read_sees_one_snapshot_while_others_write(store: BoardStore):
    # A task detail reads the task, then its executions: a write committed in between (a
    # recovery closing the run and releasing the task) must not show half of itself.
    task = store.create_task("Snapshot")
    seen = []

    def read(conn):
        seen.append(_title(conn, task["id"]))
        store.patch_task(task["id"], title="Renamed while read")  # another connection
        seen.append(_title(conn, task["id"]))

    store.db.read(read)
    assert seen[0] == seen[1] == "Snapshot"
    assert store.get_task(task["id"])["title"] == "Renamed while read"


def _title(conn, task_id: str) -> str:
    return conn.execute(
        text("SELECT title FROM tasks WHERE id = :id"), {"id": task_id}
    ).scalar_one()
