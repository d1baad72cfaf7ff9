"""``clawboo-host db copy --to postgresql://…``: a SQLite board, every table, into PostgreSQL —
complete, in order, idempotent, with progress — and a host serving the copy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
from sqlalchemy import text

from clawboo_host.board.store import BoardStore
from clawboo_host.testing.server import serve_process


def _fill(store: BoardStore) -> dict:
    team = store.seed_team(
        "Team", [{"id": "lead-1", "name": "Lead", "runtime": "codex", "role": "leader"}], {"k": "v"}
    )
    root = store.create_task("root", "the mission", team_id=team["team_id"])
    child = store.create_task("child", parent_task_id=root["id"])
    late = store.create_task("late")
    # a parent that points at a task created after it: the copy must not trip on order
    store.db.execute(
        text("UPDATE tasks SET parent_task_id = :p WHERE id = :c").bindparams(
            p=late["id"], c=root["id"]
        )
    )
    for n in range(30):
        store.add_comment(child["id"], f"comment {n}")
    run = store.claim_for_run(child["id"], "lead-1", "codex", host_id=None)
    store.save_workspace(child["id"], "/repo", "clawboo/child", "/wt/child", "abc123")
    store.close_execution(run["id"], "succeeded", summary="done", cost_usd=0.25)
    store.put_budget("team", team["team_id"], 10, "cap")
    store.record_spend("team", team["team_id"], 0.25)
    return {"team": team, "root": root, "child": child, "late": late, "run": run}


def _without_seq(row: dict | None) -> dict | None:
    """``seq`` orders rows on PostgreSQL only (SQLite has rowid): not part of the data."""
    return None if row is None else {k: v for k, v in row.items() if k != "seq"}


def _snapshot(store: BoardStore) -> dict:
    tasks = store.list_tasks()
    return {
        "tasks": sorted((t["id"], t["title"], t["parent_task_id"], t["status"]) for t in tasks),
        "comments": {t["id"]: [c["body"] for c in store.list_comments(t["id"])] for t in tasks},
        "executions": {
            t["id"]: [(e["id"], e["status"], e["cost_usd"]) for e in store.list_executions(t["id"])]
            for t in tasks
        },
        "workspaces": {t["id"]: _without_seq(store.get_workspace(t["id"])) for t in tasks},
        "budgets": [
            (b["scope"], b["scope_id"], b["limit_usd_cents"], b["spent_micro_cents"], b["status"])
            for b in store.list_budgets()
        ],
        "teams": [(t["id"], t["name"], t["leader_agent_id"]) for t in store.list_teams()],
        "agents": [(a["id"], a["team_id"]) for a in store.list_agents()],
        "setting": store.get_setting("k"),
    }


def _copy(data: Path, url: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "clawboo_host.cli",
            "db",
            "copy",
            "--data-dir",
            str(data),
            "--to",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_db_copy_carries_every_table_and_is_idempotent(tmp_path: Path, pg_url: str, host_env):
    data = tmp_path / "data"
    source = BoardStore(data / "clawboo.db")
    source.open()
    made = _fill(source)
    expected = _snapshot(source)
    source.close()

    first = _copy(data, pg_url)
    assert first.returncode == 0, first.stderr
    assert "comments    [##############################] 30/30" in first.stderr
    assert "copied" in first.stdout and "tasks 3" in first.stdout
    target = BoardStore(pg_url)
    target.open()
    try:
        assert target.dialect == "postgresql"
        assert _snapshot(target) == expected
        assert [c["body"] for c in target.list_comments(made["child"]["id"])] == [
            f"comment {n}" for n in range(30)
        ]
        # new rows on the copy keep working, ids and order included
        target.add_comment(made["child"]["id"], "after the copy")
        assert target.list_comments(made["child"]["id"])[-1]["body"] == "after the copy"
        target.put_budget("agent", "someone", 1, "warn")
    finally:
        target.close()

    again = _copy(data, pg_url)  # idempotent: the same rows, nothing doubled
    assert again.returncode == 0, again.stderr
    target.open()
    try:
        after = _snapshot(target)
        assert after["tasks"] == expected["tasks"]
        assert len(after["comments"][made["child"]["id"]]) == 31
        assert len(after["budgets"]) == 2
    finally:
        target.close()

    # a host started on the copy serves the board
    served_data = tmp_path / "served"
    served_data.mkdir()
    env = dict(host_env, CLAWBOO_DATABASE_URL=pg_url)
    with serve_process(
        ["--port", "0", "--data-dir", str(served_data)], env, served_data, log=tmp_path / "log"
    ) as host:
        detail = httpx.get(f"{host.url}/api/board/tasks/{made['child']['id']}", timeout=30).json()
        assert detail["task"]["parentTaskId"] == made["root"]["id"]
        assert detail["executions"][0]["costUsd"] == 0.25


def test_db_copy_refuses_a_bad_target_without_echoing_its_password(tmp_path: Path):
    data = tmp_path / "data"
    BoardStore(data / "clawboo.db").open()
    result = _copy(data, "postgresql://user:hunter2secret@127.0.0.1:1/nowhere")
    assert result.returncode == 1
    assert "copy failed" in result.stderr
    assert "hunter2secret" not in result.stderr + result.stdout
    same = _copy(data, f"sqlite:///{data / 'clawboo.db'}")
    assert same.returncode == 1 and "same database" in same.stderr
