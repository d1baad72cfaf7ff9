"""The board REST routes (SPEC §5) over real HTTP through the app, on a real SQLite file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from clawboo_host.app import create_app
from clawboo_host.config import HostConfig
from clawboo_host.registry import build_registry

# The same-origin guard only lets loopback Host names through (SPEC §3).
BASE_URL = "http://127.0.0.1"
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
TASK_FIELDS = {
    "id",
    "title",
    "description",
    "status",
    "priority",
    "teamId",
    "parentTaskId",
    "assigneeAgentId",
    "assigneeRuntime",
    "worktreeRef",
    "branchRef",
    "createdAt",
    "updatedAt",
    "completedAt",
    "verifyCommand",
}


@pytest.fixture
def app(tmp_path: Path):
    return create_app(
        HostConfig(data_dir=tmp_path, env={}), registry=build_registry(env={}, plugins=[])
    )


@pytest.fixture
def client(app):
    with TestClient(app, base_url=BASE_URL) as c:
        yield c


@pytest.fixture
def board(app, client):
    """The store itself, once it is open (the board starts in the background, as routes wait)."""
    client.portal.call(app.state.host.board_started)
    return app.state.host.board


def _create(client: TestClient, **body) -> dict:
    r = client.post("/api/board/tasks", json={"title": "T", **body})
    assert r.status_code == 201, r.text
    return r.json()["task"]


def _all_tasks(client: TestClient) -> list[dict]:
    return client.get("/api/board/tasks").json()["tasks"]


# --- create -----------------------------------------------------------------------------------


def test_create_task_defaults_and_shape(client: TestClient, tmp_path: Path):
    r = client.post("/api/board/tasks", json={"title": "  Write docs  "})
    assert r.status_code == 201
    task = r.json()["task"]
    assert set(task) == TASK_FIELDS
    assert task["title"] == "Write docs" and task["description"] == ""
    assert task["status"] == "todo" and task["priority"] == 0
    assert task["teamId"] is None and task["parentTaskId"] is None
    assert task["assigneeAgentId"] is None and task["completedAt"] is None
    assert ISO.match(task["createdAt"]) and ISO.match(task["updatedAt"])
    assert (tmp_path / "clawboo.db").exists()


def test_create_task_full_body(client: TestClient, board):
    team_id = board.seed_team("Team", [], {})["team_id"]
    parent = _create(client, title="Parent")
    task = _create(
        client,
        title="Child",
        description="d",
        status="backlog",
        priority=7,
        teamId=team_id,
        parentTaskId=parent["id"],
    )
    assert task["status"] == "backlog" and task["priority"] == 7
    assert task["teamId"] == team_id and task["parentTaskId"] == parent["id"]
    assert task["description"] == "d"


def test_people_may_nest_tasks_deeply(client: TestClient):
    parent = _create(client, title="root")
    for depth in range(5):
        parent = _create(client, title=f"level {depth + 1}", parentTaskId=parent["id"])
    assert parent["title"] == "level 5"


@pytest.mark.parametrize(
    "body, message",
    [
        ({}, "title is required"),
        ({"title": ""}, "title is required"),
        ({"title": "   "}, "title is required"),
        ({"title": 5}, "title is required"),
        ({"title": None}, "title is required"),
        ({"title": "x", "status": "in_progress"}, "status must be one of backlog, todo"),
        ({"title": "x", "status": "done"}, "status must be one of backlog, todo"),
        ({"title": "x", "status": 1}, "status must be one of backlog, todo"),
        ({"title": "x", "priority": "high"}, "priority must be an integer"),
        ({"title": "x", "priority": 1.5}, "priority must be an integer"),
        ({"title": "x", "priority": True}, "priority must be an integer"),
        ({"title": "x", "description": 3}, "description must be a string"),
        ({"title": "x", "teamId": 3}, "teamId must be a string"),
        ({"title": "x", "parentTaskId": "ghost"}, "unknown parentTaskId 'ghost'"),
        ({"title": "x", "teamId": "ghost-team"}, "unknown teamId 'ghost-team'"),
    ],
)
def test_create_task_bad_input_changes_nothing(client: TestClient, body, message):
    r = client.post("/api/board/tasks", json=body)
    assert r.status_code == 400
    assert r.json() == {"error": message}
    assert _all_tasks(client) == []


def test_create_task_malformed_json(client: TestClient):
    r = client.post(
        "/api/board/tasks", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert r.status_code == 400 and "error" in r.json()
    r = client.post("/api/board/tasks", json=["not", "an", "object"])
    assert r.status_code == 400
    assert _all_tasks(client) == []


# --- list and get -----------------------------------------------------------------------------


def test_list_tasks_with_filters(client: TestClient, board):
    team_id = board.seed_team("Team", [], {})["team_id"]
    a = _create(client, title="a", teamId=team_id)
    b = _create(client, title="b", status="backlog")
    c = _create(client, title="c", status="backlog", teamId=team_id)

    def ids(r):
        return [t["id"] for t in r.json()["tasks"]]

    assert ids(client.get("/api/board/tasks")) == [a["id"], b["id"], c["id"]]
    assert ids(client.get("/api/board/tasks?status=backlog")) == [b["id"], c["id"]]
    assert ids(client.get(f"/api/board/tasks?teamId={team_id}")) == [a["id"], c["id"]]
    assert ids(client.get(f"/api/board/tasks?status=backlog&teamId={team_id}")) == [c["id"]]
    assert ids(client.get("/api/board/tasks?status=")) == [a["id"], b["id"], c["id"]]
    assert ids(client.get("/api/board/tasks?teamId=nobody")) == []
    bad = client.get("/api/board/tasks?status=finished")
    assert bad.status_code == 400 and bad.json()["error"].startswith("status must be one of")


def test_get_task_detail(client: TestClient, board):
    task = _create(client, title="detail")
    empty = client.get(f"/api/board/tasks/{task['id']}")
    assert empty.status_code == 200
    assert empty.json() == {"task": task, "comments": [], "executions": [], "workspace": None}

    board.claim(task["id"], "codex", "codex")
    ex = board.create_execution(task["id"], "codex")
    board.save_workspace(task["id"], "/repo", "clawboo/task-x", "/wt/x", "abc")
    board.close_execution(
        ex["id"], "succeeded", summary="did it", cost_usd=0.5, input_tokens=1, output_tokens=2
    )
    board.add_comment(task["id"], "note", author_type="agent", author_agent_id="codex")
    body = client.get(f"/api/board/tasks/{task['id']}").json()
    assert body["task"]["assigneeAgentId"] == "codex"
    assert body["task"]["worktreeRef"] == "/wt/x" and body["task"]["branchRef"] == "clawboo/task-x"
    assert body["comments"][0]["authorType"] == "agent"
    assert body["executions"][0] == {
        "id": ex["id"],
        "taskId": task["id"],
        "runtimeId": "codex",
        "status": "succeeded",
        "startedAt": ex["started_at"],
        "completedAt": body["executions"][0]["completedAt"],
        "summary": "did it",
        "error": None,
        "costUsd": 0.5,
        "inputTokens": 1,
        "outputTokens": 2,
    }
    ws = body["workspace"]
    assert set(ws) == {"id", "taskId", "repoPath", "branch", "worktreePath", "status"}
    assert ws["status"] == "active" and ws["worktreePath"] == "/wt/x"

    missing = client.get("/api/board/tasks/ghost")
    assert missing.status_code == 404 and missing.json() == {"error": "task not found"}


# --- patch ------------------------------------------------------------------------------------


def test_patch_fields_and_status(client: TestClient):
    task = _create(client, title="old")
    r = client.patch(
        f"/api/board/tasks/{task['id']}",
        json={"title": "new", "description": "more", "priority": 2, "status": "in_progress"},
    )
    assert r.status_code == 200
    got = r.json()["task"]
    assert got["title"] == "new" and got["description"] == "more" and got["priority"] == 2
    assert got["status"] == "in_progress"
    r = client.patch(f"/api/board/tasks/{task['id']}", json={"status": "done"})
    assert r.json()["task"]["status"] == "done" and ISO.match(r.json()["task"]["completedAt"])
    same = client.patch(f"/api/board/tasks/{task['id']}", json={"status": "done"})
    assert same.status_code == 200
    empty = client.patch(f"/api/board/tasks/{task['id']}", json={})
    assert empty.status_code == 200 and empty.json()["task"] == same.json()["task"]


def test_patch_illegal_status_is_409_and_changes_nothing(client: TestClient):
    task = _create(client, title="keep", status="backlog")
    r = client.patch(f"/api/board/tasks/{task['id']}", json={"status": "done", "title": "changed"})
    assert r.status_code == 409
    assert r.json() == {"error": "illegal status change: backlog → done"}
    assert client.get(f"/api/board/tasks/{task['id']}").json()["task"] == task


def test_patch_to_todo_clears_assignee(client: TestClient, board):
    task = _create(client)
    board.claim(task["id"], "agent-x", "codex")
    r = client.patch(f"/api/board/tasks/{task['id']}", json={"status": "todo"})
    got = r.json()["task"]
    assert got["status"] == "todo" and got["assigneeAgentId"] is None
    assert got["assigneeRuntime"] is None


@pytest.mark.parametrize(
    "body, message",
    [
        ({"status": "finished"}, "status must be one of"),
        ({"status": 3}, "status must be one of"),
        ({"title": ""}, "title must be a non-empty string"),
        ({"title": 3}, "title must be a non-empty string"),
        ({"priority": "1"}, "priority must be an integer"),
        ({"description": []}, "description must be a string"),
        ({"title": "fine", "priority": 1.2}, "priority must be an integer"),
    ],
)
def test_patch_bad_fields_change_nothing(client: TestClient, body, message):
    task = _create(client, title="stay")
    r = client.patch(f"/api/board/tasks/{task['id']}", json=body)
    assert r.status_code == 400 and r.json()["error"].startswith(message)
    assert client.get(f"/api/board/tasks/{task['id']}").json()["task"] == task


def test_patch_unknown_task_is_404(client: TestClient):
    r = client.patch("/api/board/tasks/ghost", json={"title": "x"})
    assert r.status_code == 404 and r.json() == {"error": "task not found"}


# --- comments ---------------------------------------------------------------------------------


def test_comments(client: TestClient):
    task = _create(client)
    r = client.post(f"/api/board/tasks/{task['id']}/comments", json={"body": "hi"})
    assert r.status_code == 201
    comment = r.json()["comment"]
    assert set(comment) == {"id", "taskId", "authorAgentId", "authorType", "body", "createdAt"}
    assert comment["authorType"] == "user" and comment["body"] == "hi"
    assert comment["taskId"] == task["id"] and ISO.match(comment["createdAt"])
    r = client.post(
        f"/api/board/tasks/{task['id']}/comments",
        json={"body": "from agent", "authorType": "agent", "authorAgentId": "codex"},
    )
    assert r.json()["comment"]["authorAgentId"] == "codex"
    r = client.post(
        f"/api/board/tasks/{task['id']}/comments", json={"body": "sys", "authorType": "system"}
    )
    assert r.status_code == 201
    comments = client.get(f"/api/board/tasks/{task['id']}").json()["comments"]
    assert [c["body"] for c in comments] == ["hi", "from agent", "sys"]


@pytest.mark.parametrize(
    "body, message",
    [
        ({}, "body is required"),
        ({"body": "  "}, "body is required"),
        ({"body": 4}, "body is required"),
        ({"body": "x", "authorType": "robot"}, "authorType must be one of agent, user, system"),
    ],
)
def test_comment_bad_input(client: TestClient, body, message):
    task = _create(client)
    r = client.post(f"/api/board/tasks/{task['id']}/comments", json=body)
    assert r.status_code == 400 and r.json() == {"error": message}
    assert client.get(f"/api/board/tasks/{task['id']}").json()["comments"] == []


def test_comment_on_unknown_task_is_404(client: TestClient):
    r = client.post("/api/board/tasks/ghost/comments", json={"body": "x"})
    assert r.status_code == 404 and r.json() == {"error": "task not found"}


# --- teams and agents -------------------------------------------------------------------------


def test_teams_and_agents(client: TestClient, board):
    assert client.get("/api/teams").json() == {"teams": []}
    assert client.get("/api/agents").json() == {"agents": []}
    out = board.seed_team(
        "My First Team",
        [
            {
                "id": "lead-1",
                "name": "Team Lead",
                "runtime": "clawboo-native",
                "role": "leader",
                "provider": "anthropic",
                "model": "claude-sonnet-4-6",
                "config": {},
            },
            {
                "id": "coder-1",
                "name": "Coder",
                "runtime": "clawboo-native",
                "role": "specialist",
                "provider": "anthropic",
                "model": "claude-haiku-4-5",
                "config": {},
            },
        ],
        {},
    )
    teams = client.get("/api/teams").json()["teams"]
    assert len(teams) == 1
    assert teams[0] == {
        "id": out["team_id"],
        "name": "My First Team",
        "leaderAgentId": "lead-1",
        "createdAt": teams[0]["createdAt"],
    }
    detail = client.get(f"/api/teams/{out['team_id']}").json()
    assert detail["team"] == teams[0]
    assert [a["id"] for a in detail["agents"]] == ["lead-1", "coder-1"]
    assert detail["agents"][0] == {
        "id": "lead-1",
        "name": "Team Lead",
        "runtime": "clawboo-native",
        "teamId": out["team_id"],
        "role": "leader",
        "provider": "anthropic",
        "model": "claude-sonnet-4-6",
    }
    assert len(client.get("/api/agents").json()["agents"]) == 2
    missing = client.get("/api/teams/ghost")
    assert missing.status_code == 404 and missing.json() == {"error": "team not found"}


# --- budgets ----------------------------------------------------------------------------------


def test_put_and_list_budgets(client: TestClient, board):
    assert client.get("/api/budgets").json() == {"budgets": []}
    r = client.put("/api/budgets/agent/codex", json={"limitUsd": 5, "mode": "cap"})
    assert r.status_code == 200
    assert r.json() == {
        "budget": {
            "scope": "agent",
            "scopeId": "codex",
            "limitUsd": 5.0,
            "spentUsd": 0.0,
            "mode": "cap",
            "status": "active",
        }
    }
    r = client.put("/api/budgets/team/t1", json={"limitUsd": 2.5})
    assert r.json()["budget"]["mode"] == "warn" and r.json()["budget"]["limitUsd"] == 2.5

    board.record_spend("agent", "codex", 5.0)
    listed = client.get("/api/budgets").json()["budgets"]
    assert [(b["scope"], b["scopeId"]) for b in listed] == [("agent", "codex"), ("team", "t1")]
    assert listed[0]["status"] == "paused" and listed[0]["spentUsd"] == 5.0
    # raising the limit keeps the spend and lifts the pause
    r = client.put("/api/budgets/agent/codex", json={"limitUsd": 20, "mode": "cap"})
    assert r.json()["budget"]["status"] == "active" and r.json()["budget"]["spentUsd"] == 5.0
    r = client.put("/api/budgets/mission/m1", json={"limitUsd": 0, "mode": "cap"})
    assert r.status_code == 200 and r.json()["budget"]["status"] == "active"


def test_a_one_cent_budget_is_active_until_spend_reaches_80_percent(client: TestClient, board):
    r = client.put("/api/budgets/agent/tiny", json={"limitUsd": 0.01, "mode": "cap"})
    assert r.json()["budget"]["status"] == "active"
    board.record_spend("agent", "tiny", 0.008)
    assert client.get("/api/budgets").json()["budgets"][0]["status"] == "soft_capped"


@pytest.mark.parametrize(
    "path, body, message",
    [
        ("/api/budgets/tenant/x", {"limitUsd": 1}, "scope must be one of agent, team, mission"),
        ("/api/budgets/agent/x", {}, "limitUsd must be a number >= 0"),
        ("/api/budgets/agent/x", {"limitUsd": -1}, "limitUsd must be a number >= 0"),
        ("/api/budgets/agent/x", {"limitUsd": "5"}, "limitUsd must be a number >= 0"),
        ("/api/budgets/agent/x", {"limitUsd": True}, "limitUsd must be a number >= 0"),
        ("/api/budgets/agent/x", {"limitUsd": 1, "mode": "stop"}, "mode must be one of warn, cap"),
        ("/api/budgets/agent/x", {"limitUsd": 1, "mode": 1}, "mode must be one of warn, cap"),
    ],
)
def test_put_budget_bad_input_changes_nothing(client: TestClient, path, body, message):
    r = client.put(path, json=body)
    assert r.status_code == 400 and r.json() == {"error": message}
    assert client.get("/api/budgets").json() == {"budgets": []}


def test_put_budget_bad_input_keeps_existing(client: TestClient):
    client.put("/api/budgets/agent/x", json={"limitUsd": 3, "mode": "cap"})
    r = client.put("/api/budgets/agent/x", json={"limitUsd": 9, "mode": "nope"})
    assert r.status_code == 400
    assert client.get("/api/budgets").json()["budgets"][0]["limitUsd"] == 3.0


def test_unknown_routes_and_methods_are_json(client: TestClient):
    r = client.delete("/api/board/tasks")
    assert r.status_code == 405 and "error" in r.json()
    r = client.get("/api/board/nothing")
    assert r.status_code == 404 and "error" in r.json()


def test_board_survives_a_restart(tmp_path: Path):
    def make():
        return create_app(
            HostConfig(data_dir=tmp_path, env={}), registry=build_registry(env={}, plugins=[])
        )

    with TestClient(make(), base_url=BASE_URL) as c:
        task = _create(c, title="persist")
        c.put("/api/budgets/mission/m", json={"limitUsd": 1, "mode": "cap"})
    with TestClient(make(), base_url=BASE_URL) as c:
        assert c.get(f"/api/board/tasks/{task['id']}").json()["task"] == task
        assert len(c.get("/api/budgets").json()["budgets"]) == 1


def test_secrets_typed_into_the_board_are_redacted(client: TestClient):
    secret = "sk-or-v1-abcdefghijklmnop1234"
    task = _create(client, title="t", description=f"OPENROUTER_API_KEY={secret} leaked")
    assert task["description"] == "OPENROUTER_API_KEY=[REDACTED] leaked"
    client.post(f"/api/board/tasks/{task['id']}/comments", json={"body": f"key {secret}"})
    client.patch(f"/api/board/tasks/{task['id']}", json={"title": f"again {secret}"})
    assert secret not in client.get(f"/api/board/tasks/{task['id']}").text
