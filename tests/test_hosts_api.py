"""A host's lease through its API: ``GET /api/hosts``, abort requests left by other hosts,
a cap reached elsewhere, and two real hosts sharing one SQLite data dir."""

from __future__ import annotations

import signal
import threading

import httpx
import pytest

from clawboo_host.testing.helpers import (
    create_task,
    git,
    run_in_background,
    task_detail,
    wait_until,
)
from clawboo_host.testing.server import serve_process

MOCK = "clawboo-mock"


@pytest.fixture
def env(clawboo_env):
    return dict(clawboo_env, CLAWBOO_ENABLE_MOCK_RUNTIME="1", CLAWBOO_ABORT_POLL_S="0.1")


@pytest.fixture
def server(clawboo_host_factory, env):
    return clawboo_host_factory(env=env)


@pytest.fixture
def client(server):
    with server.client() as c:
        yield c


def _start_run(server, task_id: str, agent: str = "agent-1") -> tuple[threading.Thread, dict]:
    out: dict = {}

    def target() -> None:
        with server.client() as c:
            out["response"] = c.post(
                f"/api/runtimes/{MOCK}/run",
                json={"taskId": task_id, "kind": "research", "assigneeAgentId": agent},
            )

    thread = threading.Thread(target=target)
    thread.start()
    return thread, out


def _running(client, task_id: str) -> dict:
    def find():
        runs = task_detail(client, task_id)["executions"]
        return next((e for e in runs if e["status"] == "running"), None)

    return wait_until(find, what="a running execution")


def test_get_hosts_lists_this_host_with_its_running_runs(server, client):
    task = create_task(client, "hang", "!hang")
    thread, _ = _start_run(server, task["id"])
    execution = _running(client, task["id"])
    (me,) = client.get("/api/hosts").json()["hosts"]
    assert me["alive"] is True and me["self"] is True
    assert me["url"] == server.url and me["leaseS"] == 30
    assert me["id"] == server.app.state.host.lease.id
    assert [e["id"] for e in me["runningExecutions"]] == [execution["id"]]
    assert me["runningExecutions"][0]["taskId"] == task["id"]
    client.post(f"/api/executions/{execution['id']}/abort")
    thread.join(30)
    assert client.get("/api/hosts").json()["hosts"][0]["runningExecutions"] == []


def test_an_abort_request_left_by_another_host_stops_the_run(server, client):
    task = create_task(client, "hang", "!hang")
    thread, out = _start_run(server, task["id"])
    execution = _running(client, task["id"])
    board = server.app.state.host.board
    assert board.request_abort(execution["id"], "aborted by request") is True  # as another host
    thread.join(30)
    body = out["response"].json()
    assert (body["doneReason"], body["status"]) == ("aborted", "todo")
    assert task_detail(client, task["id"])["executions"][0]["status"] == "cancelled"


def test_a_cap_reached_on_another_host_auto_pauses_the_run_here(server, client):
    task = create_task(client, "hang", "!hang")
    thread, out = _start_run(server, task["id"], agent="spender")
    _running(client, task["id"])
    board = server.app.state.host.board
    assert board.request_scope_abort("agent", "spender", "budget:agent") == 1
    thread.join(30)
    body = out["response"].json()
    assert (body["doneReason"], body["status"], body["summary"]) == (
        "aborted",
        "todo",
        "auto-paused (budget)",
    )
    comments = task_detail(client, task["id"])["comments"]
    assert comments[-1]["body"].startswith("Auto-paused: agent budget reached")


def test_a_host_judges_leases_only_after_holding_its_own_for_a_lease(
    clawboo_host_factory, env, monkeypatch
):
    server = clawboo_host_factory(env=dict(env, CLAWBOO_HOST_LEASE_S="0.6"))
    lease = server.app.state.host.lease
    board = server.app.state.host.board
    wait_until(lambda: lease.may_judge_leases, what="a whole lease of renewals")
    real = board.heartbeat

    def unreachable(host_id):
        raise ConnectionError("database unreachable")

    monkeypatch.setattr(board, "heartbeat", unreachable)
    wait_until(lambda: not lease.may_judge_leases, what="a failed renewal")
    monkeypatch.setattr(board, "heartbeat", real)
    wait_until(lambda: lease.may_judge_leases, what="a whole lease of renewals again")


def test_the_abort_route_leaves_a_request_for_the_host_that_runs_it(server, client):
    board = server.app.state.host.board
    board.register_host("other-host", "beta", "http://127.0.0.1:1")
    task = create_task(client, "elsewhere")
    elsewhere = board.claim_for_run(task["id"], "a", "codex", host_id="other-host")
    response = client.post(f"/api/executions/{elsewhere['id']}/abort")
    assert response.status_code == 200
    assert response.json() == {
        "ok": True,
        "execId": elsewhere["id"],
        "hostId": "other-host",
        "requested": True,
    }
    assert board.requested_aborts("other-host") == [(elsewhere["id"], "aborted by request")]
    # a row of no host (written before leases) that is not live here: as before
    legacy_task = create_task(client, "legacy")
    legacy = board.claim_for_run(legacy_task["id"], "a", "codex")
    refused = client.post(f"/api/executions/{legacy['id']}/abort")
    assert refused.status_code == 409 and "not running in this host" in refused.json()["error"]


def test_two_hosts_on_one_data_dir_judge_each_other_by_lease(tmp_path, env):
    """Neither closes the other's live runs, sweep after sweep; a killed one's runs are
    closed by the survivor and its task released."""
    data = tmp_path / "data"
    data.mkdir()
    env = dict(env, CLAWBOO_HOST_LEASE_S="3", CLAWBOO_HOME=str(data))
    port_file = data / "api-port.txt"  # both write it: b's start must not read a's port
    with serve_process(
        ["--port", "0"], dict(env, CLAWBOO_HOST_NAME="a"), data, log=tmp_path / "a"
    ) as a:
        port_file.unlink()
        with serve_process(
            ["--port", "0"], dict(env, CLAWBOO_HOST_NAME="b"), data, log=tmp_path / "b"
        ) as b:
            detail = _kill_a_mid_run(a, b)
    run = detail["executions"][0]
    assert run["status"] == "failed"
    assert run["error"] in (
        "interrupted: the host process running it stopped",
        "interrupted: host a stopped answering",
    )
    assert detail["task"]["status"] == "todo"


def _kill_a_mid_run(a, b) -> dict:
    """Start a hanging run on a, let b sweep a few times, SIGKILL a; b's view after."""
    task = httpx.post(
        f"{a.url}/api/board/tasks", json={"title": "t", "description": "!hang"}
    ).json()["task"]
    run_in_background(a.url, MOCK, task["id"], kind="research")
    with httpx.Client(base_url=b.url, timeout=30) as from_b:
        execution = _running(from_b, task["id"])

        def b_heartbeats() -> str:
            (row,) = [h for h in from_b.get("/api/hosts").json()["hosts"] if h["name"] == "b"]
            return row["heartbeatAt"]

        first = b_heartbeats()
        wait_until(lambda: b_heartbeats() > first, what="b to renew its lease")
        second = b_heartbeats()
        wait_until(lambda: b_heartbeats() > second, what="b to renew its lease again")
        assert task_detail(from_b, task["id"])["executions"][0]["status"] == "running"

        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait(30)

        def closed():
            detail = task_detail(from_b, task["id"])
            return detail if detail["executions"][0]["status"] != "running" else None

        detail = wait_until(closed, timeout=60, what="b to close a's run")
        assert detail["executions"][0]["id"] == execution["id"]
        return detail


ELSEWHERE = "/elsewhere/clawboo-data/worktrees/abc/task"  # another host's disk


def _run_code(client, task_id: str, repo) -> dict:
    response = client.post(
        f"/api/runtimes/{MOCK}/run", json={"taskId": task_id, "repoPath": str(repo)}
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_a_task_whose_worktree_is_on_another_host_continues_from_its_branch_here(
    server, client, git_repo
):
    task = create_task(client, "carry on", "!exec cat earlier.txt")
    branch = f"clawboo/task-{task['id']}"
    git(git_repo, "checkout", "-q", "-b", branch)
    (git_repo / "earlier.txt").write_text("work from the other host\n")
    git(git_repo, "add", "earlier.txt")
    git(git_repo, "commit", "-q", "-m", "earlier work")
    git(git_repo, "checkout", "-q", "-")
    board = server.app.state.host.board
    board.save_workspace(task["id"], "/elsewhere/repo", branch, ELSEWHERE, None)
    body = _run_code(client, task["id"], git_repo)
    assert body["doneReason"] == "success" and body["usedWorktree"] is True
    assert body["summary"] == "work from the other host"
    comments = [c["body"] for c in task_detail(client, task["id"])["comments"]]
    assert not any(c.startswith("[fresh worktree]") for c in comments)


def test_a_task_whose_worktree_is_on_another_host_starts_from_head_and_says_so(
    server, client, git_repo
):
    task = create_task(client, "start over", "!ok fine")
    board = server.app.state.host.board
    board.save_workspace(
        task["id"], "/elsewhere/repo", f"clawboo/task-{task['id']}", ELSEWHERE, None
    )
    body = _run_code(client, task["id"], git_repo)
    assert body["doneReason"] == "success" and body["usedWorktree"] is True
    comments = [c["body"] for c in task_detail(client, task["id"])["comments"]]
    assert (
        f"[fresh worktree] The task's earlier worktree ({ELSEWHERE}) is not on this host and "
        f"{git_repo} has no branch clawboo/task-{task['id']}: this run starts from HEAD."
    ) in comments
