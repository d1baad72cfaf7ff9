"""POST /api/runtimes/:id/run end to end over HTTP, on the fault-injection runtime."""

from __future__ import annotations

import json
import shutil
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from clawboo_host.plugin_api import Capabilities, Done, RuntimeDescriptor, TextDelta, hookimpl
from clawboo_host.testing.fakes import still_running
from clawboo_host.testing.helpers import (
    create_task,
    git,
    run_in_background,
    run_streaming,
    task_detail,
    wait_until,
)
from clawboo_host.testing.server import server_process, serving_pid

MOCK = "clawboo-mock"


@pytest.fixture
def repo(git_repo) -> Path:
    return git_repo


@pytest.fixture
def env(clawboo_env):
    return dict(clawboo_env, CLAWBOO_ENABLE_MOCK_RUNTIME="1")


@pytest.fixture
def server(clawboo_host_factory, env):
    return clawboo_host_factory(env=env)


@pytest.fixture
def client(server):
    with server.client() as c:
        yield c


def new_task(client, description="", **extra) -> dict:
    return create_task(client, "Do the thing", description, **extra)


def detail(client, task_id) -> dict:
    return task_detail(client, task_id)


def run(client, task_id, **body):
    return client.post(f"/api/runtimes/{MOCK}/run", json={"taskId": task_id, **body})


def test_validation_errors(client):
    assert run(client, "").json() == {"error": "taskId is required"}
    response = client.post(f"/api/runtimes/{MOCK}/run", json={})
    assert (response.status_code, response.json()) == (400, {"error": "taskId is required"})
    response = run(client, "x", assigneeAgentId="../etc")
    assert (response.status_code, response.json()) == (400, {"error": "invalid assigneeAgentId"})
    response = run(client, "x", assigneeAgentId="")
    assert response.status_code == 400
    response = client.post("/api/runtimes/openclaw/run", json={"taskId": "x"})
    assert response.status_code == 404


def test_an_assignee_id_with_a_trailing_newline_is_refused_before_the_claim(client):
    task = new_task(client)
    response = run(client, task["id"], assigneeAgentId="agent\n", kind="research")
    assert (response.status_code, response.json()) == (400, {"error": "invalid assigneeAgentId"})
    after = detail(client, task["id"])
    assert after["task"]["status"] == "todo" and after["executions"] == []


def test_unknown_task_is_404(client):
    response = run(client, "no-such-task")
    assert (response.status_code, response.json()) == (404, {"ok": False, "reason": "not_found"})


def test_too_deep_is_refused_before_the_claim(client):
    root = new_task(client)
    a = new_task(client, parentTaskId=root["id"])
    b = new_task(client, "!ok fine", parentTaskId=a["id"])
    c = new_task(client, parentTaskId=b["id"])
    response = run(client, c["id"], kind="research")
    assert (response.status_code, response.json()) == (422, {"ok": False, "reason": "too_deep"})
    after = detail(client, c["id"])
    assert (
        after["task"]["status"] == "todo" and after["executions"] == [] and after["comments"] == []
    )
    assert run(client, b["id"], kind="research").json()["status"] == "done"


def test_a_claimed_task_is_409(client):
    task = new_task(client)
    assert (
        client.patch(f"/api/board/tasks/{task['id']}", json={"status": "in_progress"}).status_code
        == 200
    )
    response = run(client, task["id"], kind="research")
    assert (response.status_code, response.json()) == (409, {"ok": False, "reason": "conflict"})


def test_no_repo_path_is_workspace_unavailable(client):
    task = new_task(client, "!ok hi")
    response = run(client, task["id"])
    assert (response.status_code, response.json()) == (
        422,
        {"ok": False, "reason": "workspace_unavailable"},
    )
    after = detail(client, task["id"])
    assert after["task"]["status"] == "todo" and after["task"]["assigneeAgentId"] is None
    assert after["comments"][0]["body"].startswith("[blocked: no isolation]")
    assert after["executions"][0]["status"] == "failed"


def test_a_repo_path_that_is_not_git_is_400_and_changes_nothing(client, tmp_path):
    task = new_task(client, "!ok hi")
    plain = tmp_path / "plain"
    plain.mkdir()
    response = run(client, task["id"], repoPath=str(plain))
    assert (response.status_code, response.json()) == (
        400,
        {"error": f"not a git repository: {plain}"},
    )
    after = detail(client, task["id"])
    assert after["task"]["status"] == "todo" and after["executions"] == []


def test_research_runs_without_a_worktree(client):
    task = new_task(client, "!ok researched")
    body = run(client, task["id"], kind="research").json()
    assert body["ok"] is True and body["doneReason"] == "success" and body["status"] == "done"
    assert body["summary"] == "researched" and body["usedWorktree"] is False
    assert body["degradations"] == [] and body["runtimeId"] == MOCK
    assert set(body) >= {"execId", "costUsd", "usage", "costEstimated"}
    after = detail(client, task["id"])
    assert after["comments"][-1]["body"] == "researched"
    assert after["comments"][-1]["authorType"] == "agent"
    assert after["executions"][0]["status"] == "succeeded"


def test_a_run_without_changes_is_done_and_cleans_up(client, repo, clawboo_data_dir):
    task = new_task(client, "!ok nothing to change")
    body = run(client, task["id"], repoPath=str(repo)).json()
    assert (body["status"], body["usedWorktree"]) == ("done", True)
    assert git(repo, "branch", "--list", f"clawboo/task-{task['id']}") == ""
    assert not any((clawboo_data_dir / "worktrees").rglob(task["id"]))


def test_changes_are_committed_on_the_task_branch_for_review(client, repo):
    task = new_task(client, "!write src/hello.txt hi there\n!ok wrote a file")
    body = run(client, task["id"], repoPath=str(repo)).json()
    assert body["status"] == "in_review", body
    branch = f"clawboo/task-{task['id']}"
    assert git(repo, "show", f"{branch}:src/hello.txt") == "hi there"
    assert git(repo, "log", "-1", "--format=%an <%ae>", branch) == "clawboo <clawboo@localhost>"
    assert git(repo, "status", "--porcelain") == ""  # the user's checkout is untouched
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD") == "main"
    after = detail(client, task["id"])
    assert after["workspace"]["branch"] == branch
    assert after["task"]["branchRef"] == branch


@pytest.mark.parametrize(
    "directive,reason,exec_status",
    [
        ("!error kaboom", "error", "failed"),
        ("!maxturns", "max_turns", "failed"),
    ],
)
def test_failures_release_the_task(client, directive, reason, exec_status):
    task = new_task(client, directive)
    body = run(client, task["id"], kind="research").json()
    assert (body["doneReason"], body["status"]) == (reason, "todo")
    after = detail(client, task["id"])
    assert after["task"]["status"] == "todo" and after["task"]["assigneeAgentId"] is None
    assert after["comments"][-1]["body"].startswith(f"Run {reason}: ")
    assert after["executions"][0]["status"] == exec_status


def test_secrets_in_a_summary_are_redacted(client):
    task = new_task(client, "!ok done; OPENROUTER_API_KEY=sk-or-v1-abcdefghijklmnop1234 leaked")
    body = run(client, task["id"], kind="research").json()
    assert "abcdefghijklmnop" not in json.dumps(body)
    assert "[REDACTED]" in body["summary"]
    after = detail(client, task["id"])
    assert "abcdefghijklmnop" not in json.dumps([after["comments"], after["executions"]])


def test_keep_for_resume_hands_off_to_the_next_run(client, repo):
    task = new_task(client, "!session sess-42\n!ok halfway there")
    body = run(client, task["id"], repoPath=str(repo), keepForResume=True).json()
    assert (body["doneReason"], body["status"]) == ("success", "todo")
    worktree = Path(detail(client, task["id"])["workspace"]["worktreePath"])
    handoff = json.loads((worktree / "AGENT_HANDOFF.json").read_text())
    assert handoff["nextBestStep"] == "halfway there" and handoff["nativeSessionId"] == "sess-42"
    assert handoff["runtime"] == MOCK
    # the next run reuses the worktree and resumes the runtime's session
    client.patch(f"/api/board/tasks/{task['id']}", json={"description": "!ok finished"})
    with client.stream(
        "POST",
        f"/api/runtimes/{MOCK}/run",
        json={"taskId": task["id"], "repoPath": str(repo)},
        headers={"Accept": "text/event-stream"},
    ) as response:
        frames = [
            json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: ")
        ]
    texts = [f["text"] for f in frames if f["type"] == "text-delta"]
    assert "resumed sess-42" in texts
    assert frames[-1]["type"] == "result" and frames[-1]["status"] == "done"


def test_sse_mode_streams_events_then_one_result(client):
    task = new_task(client, "!cost 0.25 100 50\n!ok streamed")
    refusal = client.post(
        f"/api/runtimes/{MOCK}/run",
        json={"taskId": "nope"},
        headers={"Accept": "text/event-stream"},
    )
    assert refusal.status_code == 404 and refusal.headers["content-type"].startswith(
        "application/json"
    )
    with client.stream(
        "POST",
        f"/api/runtimes/{MOCK}/run",
        json={"taskId": task["id"], "kind": "research"},
        headers={"Accept": "text/event-stream"},
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        frames = [
            json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: ")
        ]
    types = [f["type"] for f in frames]
    assert types.count("result") == 1 and types[-1] == "result"
    assert "cost" in types and "text-delta" in types
    result = dict(frames[-1])
    result.pop("type")
    assert result["summary"] == "streamed" and result["costUsd"] == 0.25
    assert result["usage"] == {"inputTokens": 100, "outputTokens": 50}
    plain_keys = set(run(client, new_task(client, "!ok x")["id"], kind="research").json())
    assert set(result) == plain_keys


def test_a_stream_starts_with_its_execution_id_so_a_client_can_abort_it(server):
    """The first frame names the execution: a browser can abort the run it is watching."""
    with server.client() as client, server.client() as other:
        task = new_task(client, "!hang")
        with client.stream(
            "POST",
            f"/api/runtimes/{MOCK}/run",
            json={"taskId": task["id"], "kind": "research"},
            headers={"Accept": "text/event-stream"},
        ) as response:
            lines = (line for line in response.iter_lines() if line.startswith("data: "))
            first = json.loads(next(lines)[6:])
            assert first == {
                "type": "status",
                "phase": "started",
                "execId": first["execId"],
                "taskId": task["id"],
            }
            [running] = detail(other, task["id"])["executions"]
            assert running["id"] == first["execId"] and running["status"] == "running"
            assert other.post(f"/api/executions/{first['execId']}/abort").status_code == 200
            frames = [json.loads(line[6:]) for line in lines]
    result = frames[-1]
    assert result["type"] == "result" and result["execId"] == first["execId"]
    assert (result["doneReason"], result["status"]) == ("aborted", "todo")


def test_token_usage_without_dollars_is_priced(client):
    task = new_task(client, "!tokens 1000000 0\n!ok priced")
    body = run(client, task["id"], kind="research").json()
    assert body["costUsd"] == pytest.approx(3.0) and body["costEstimated"] is True


def test_a_claim_storm_has_one_winner(server):
    with server.client() as client:
        task = new_task(client, "!sleep 300\n!ok won")

    def attempt(_):
        with server.client() as c:
            return run(c, task["id"], kind="research", assigneeAgentId=f"agent-{_}")

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(attempt, range(8)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] + [409] * 7
    with server.client() as client:
        after = detail(client, task["id"])
    assert len(after["executions"]) == 1 and after["task"]["status"] == "done"


def test_runs_proceed_in_parallel_and_the_api_stays_responsive(server):
    with server.client() as client:
        tasks = [new_task(client, "!sleep 1500\n!ok parallel") for _ in range(6)]

    def go(task):
        with server.client() as c:
            return run(c, task["id"], kind="research").json()

    with ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(go, t) for t in tasks]
        with server.client() as client:

            def several_in_flight() -> bool:
                assert client.get("/api/runtimes").status_code == 200
                running = client.get("/api/board/tasks?status=in_progress").json()["tasks"]
                return len(running) >= 2

            wait_until(several_in_flight, what="two runs in flight at once")
        results = [f.result() for f in futures]
    assert all(r["status"] == "done" for r in results)


def _run_in_thread(server, task_id, **body):
    out = {}

    def target():
        with server.client() as c:
            out["response"] = run(c, task_id, **body)

    thread = threading.Thread(target=target)
    thread.start()
    return thread, out


def _wait_for_execution(client, task_id, timeout=20):
    executions = wait_until(
        lambda: detail(client, task_id)["executions"], timeout, "the run to start"
    )
    return executions[0]["id"]


def test_the_abort_route(server, client):
    task = new_task(client, "!hang")
    thread, out = _run_in_thread(server, task["id"], kind="research")
    exec_id = _wait_for_execution(client, task["id"])
    assert client.post(f"/api/executions/{exec_id}/abort").json() == {"ok": True, "execId": exec_id}
    thread.join(30)
    body = out["response"].json()
    assert (body["doneReason"], body["status"]) == ("aborted", "todo")
    assert detail(client, task["id"])["executions"][0]["status"] == "cancelled"
    assert client.post(f"/api/executions/{exec_id}/abort").status_code == 409
    assert client.post("/api/executions/nope/abort").status_code == 404


def test_a_client_that_hangs_up_kills_the_process_tree(server, client):
    task = new_task(client, "!spawn 120")
    pids: list[int] = []
    with httpx.Client(base_url=server.url, timeout=30) as hangup:
        with hangup.stream(
            "POST",
            f"/api/runtimes/{MOCK}/run",
            json={"taskId": task["id"], "kind": "research"},
            headers={"Accept": "text/event-stream"},
        ) as response:
            for line in response.iter_lines():
                if line.startswith("data: ") and "PIDS" in line:
                    pids = [int(p) for p in json.loads(line[6:])["text"].split()[1:3]]
                    break
    assert pids
    assert still_running(pids, timeout=20) == []
    wait_until(lambda: detail(client, task["id"])["task"]["status"] == "todo", what="release")
    after = detail(client, task["id"])
    assert after["task"]["status"] == "todo"
    assert after["executions"][0]["status"] == "cancelled"


def test_a_cap_budget_stops_the_run_and_refuses_the_next(client):
    team_task = new_task(client, "!cost 0.50\n!sleep 5000\n!ok too late")
    assert (
        client.put("/api/budgets/agent/spender", json={"limitUsd": 0.01, "mode": "cap"}).status_code
        == 200
    )
    body = run(client, team_task["id"], kind="research", assigneeAgentId="spender").json()
    assert (body["doneReason"], body["status"], body["summary"]) == (
        "aborted",
        "todo",
        "auto-paused (budget)",
    )
    after = detail(client, team_task["id"])
    assert after["comments"][-1]["body"].startswith("Auto-paused: agent budget reached")
    assert after["executions"][0]["status"] == "cancelled"
    budgets = client.get("/api/budgets").json()["budgets"]
    assert budgets[0]["status"] == "paused" and budgets[0]["spentUsd"] == pytest.approx(0.5)
    again = run(client, team_task["id"], kind="research", assigneeAgentId="spender")
    assert (again.status_code, again.json()) == (422, {"ok": False, "reason": "budget_paused"})


def test_cost_events_faster_than_the_board_are_all_spent(client):
    # 60 cost events back to back: the board writes them while the runtime goes on (several
    # to a write when it falls behind), and every cent is on the budgets and the response.
    task = new_task(client, "!cost 0.01 10 2\n" * 60 + "!ok spent")
    client.put("/api/budgets/agent/burst", json={"limitUsd": 100, "mode": "cap"})
    body = run(client, task["id"], kind="research", assigneeAgentId="burst").json()
    assert body["status"] == "done"
    assert body["costUsd"] == pytest.approx(0.60)
    assert body["usage"] == {"inputTokens": 600, "outputTokens": 120}
    budgets = client.get("/api/budgets").json()["budgets"]
    assert budgets[0]["spentUsd"] == pytest.approx(0.60)


def test_a_cap_reached_in_a_burst_of_cost_events_stops_the_run(client):
    task = new_task(client, "!cost 0.01\n" * 60 + "!sleep 5000\n!ok too late")
    client.put("/api/budgets/agent/bursty", json={"limitUsd": 0.25, "mode": "cap"})
    body = run(client, task["id"], kind="research", assigneeAgentId="bursty").json()
    assert (body["doneReason"], body["summary"]) == ("aborted", "auto-paused (budget)")
    budget = client.get("/api/budgets").json()["budgets"][0]
    assert budget["status"] == "paused" and budget["spentUsd"] >= 0.25
    assert budget["spentUsd"] == pytest.approx(body["costUsd"])  # what was reported, all spent


def test_a_warn_budget_never_pauses(client):
    task = new_task(client, "!cost 0.50\n!ok fine")
    client.put("/api/budgets/agent/warned", json={"limitUsd": 0.01, "mode": "warn"})
    assert (
        run(client, task["id"], kind="research", assigneeAgentId="warned").json()["status"]
        == "done"
    )
    assert client.get("/api/budgets").json()["budgets"][0]["status"] != "paused"


def test_the_runtime_calls_back_over_mcp_with_its_run_token(client, server):
    task = new_task(
        client, '!mcp add_comment {"taskId": "$TASK", "body": "hello over mcp"}\n!ok called'
    )
    body = run(client, task["id"], kind="research", assigneeAgentId="mcp-agent").json()
    assert body["status"] == "done"
    comments = detail(client, task["id"])["comments"]
    mcp_comment = [c for c in comments if c["body"] == "hello over mcp"]
    assert mcp_comment and mcp_comment[0]["authorAgentId"] == "mcp-agent"
    # without a live run token the MCP server refuses
    response = httpx.post(
        f"{server.url}/api/mcp/tasks",
        json={"jsonrpc": "2.0", "id": 1, "method": "initialize"},
        headers={"Accept": "application/json, text/event-stream"},
    )
    assert response.status_code == 401


def test_a_host_killed_mid_run_leaves_no_task_stuck(tmp_path, env):
    data = tmp_path / "data"
    env = dict(env, CLAWBOO_HOME=str(data))
    with server_process(["--port", "0"], env, data) as port:
        base = f"http://127.0.0.1:{port}"
        task = httpx.post(
            f"{base}/api/board/tasks", json={"title": "t", "description": "!hang"}
        ).json()["task"]
        run_in_background(base, MOCK, task["id"], kind="research")
        wait_until(
            lambda: (
                httpx.get(f"{base}/api/board/tasks/{task['id']}").json()["task"]["status"]
                == "in_progress"
            ),
            what="the run to claim the task",
        )
        _kill_server(data, port)
    with server_process(["--port", "0"], env, data) as port:
        after = httpx.get(f"http://127.0.0.1:{port}/api/board/tasks/{task['id']}").json()
        assert after["task"]["status"] == "todo"
        assert after["executions"][0]["status"] == "failed"


def test_a_host_killed_mid_run_has_its_runs_process_trees_killed_on_restart(tmp_path, env):
    data = tmp_path / "data"
    env = dict(env, CLAWBOO_HOME=str(data))
    with server_process(["--port", "0"], env, data) as port:
        base = f"http://127.0.0.1:{port}"
        task = httpx.post(
            f"{base}/api/board/tasks", json={"title": "t", "description": "!spawn 300\n!hang"}
        ).json()["task"]
        pids = _pids_of_streamed_spawn(base, task["id"])
        _kill_server(data, port)
        # Nothing of the dead host killed them: they would live on (SIGTERM ignored).
        assert len(still_running(pids, timeout=0)) == 2
    with server_process(["--port", "0"], env, data) as port:
        # A board read waits for the start-up sweep, which killed the trees (SIGTERM, then
        # SIGKILL) before releasing the task.
        after = httpx.get(f"http://127.0.0.1:{port}/api/board/tasks/{task['id']}").json()
        assert still_running(pids, timeout=0) == []
    assert after["task"]["status"] == "todo"
    assert after["executions"][0]["status"] == "failed"


def _pids_of_streamed_spawn(base: str, task_id: str) -> list[int]:
    """Start a streamed mock run whose task does ``!spawn``; the child and grandchild pids."""
    pids: list[int] = []

    def stream_run():
        with httpx.stream(
            "POST",
            f"{base}/api/runtimes/{MOCK}/run",
            timeout=60,
            json={"taskId": task_id, "kind": "research"},
            headers={"Accept": "text/event-stream"},
        ) as response:
            for line in response.iter_lines():
                if "PIDS" in line:
                    pids.extend(int(p) for p in json.loads(line[6:])["text"].split()[1:3])

    threading.Thread(target=lambda: _swallow(stream_run), daemon=True).start()
    wait_until(lambda: pids, what="the spawned tree's pids")
    return pids


def _swallow(fn):
    try:
        fn()
    except Exception:
        pass


def _kill_server(data: Path, port: int) -> None:
    import psutil

    proc = psutil.Process(serving_pid(port))
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)


def test_sse_frames_are_redacted_and_end_with_the_result(client):
    task = new_task(client, "!ok the key is OPENROUTER_API_KEY=sk-or-v1-abcdefghijklmnop1234")
    with client.stream(
        "POST",
        f"/api/runtimes/{MOCK}/run",
        json={"taskId": task["id"], "kind": "research"},
        headers={"Accept": "text/event-stream"},
    ) as response:
        raw = response.read().decode()
    assert "abcdefghijklmnop" not in raw
    frames = [json.loads(line[6:]) for line in raw.splitlines() if line.startswith("data: ")]
    assert [f["type"] for f in frames].count("done") == 0 and frames[-1]["type"] == "result"


def test_a_silent_runtime_is_stopped(clawboo_host_factory, env):
    server = clawboo_host_factory(env=dict(env, CLAWBOO_RUN_SILENT_TIMEOUT_S="1"))
    with server.client() as client:
        task = new_task(client, "!hang")
        body = run(client, task["id"], kind="research").json()
    assert (body["doneReason"], body["status"]) == ("error", "todo")
    assert body["summary"].startswith("runtime silent: no events for")


def test_updating_a_budget_limit_keeps_its_mode(client):
    client.put("/api/budgets/team/t1", json={"limitUsd": 1, "mode": "cap"})
    budget = client.put("/api/budgets/team/t1", json={"limitUsd": 2}).json()["budget"]
    assert (budget["mode"], budget["limitUsd"]) == ("cap", 2)


def _plugin_module(runtime_id: str, run_hook, *, native_home=None):
    """A minimal runtime plugin module whose run hook is ``run_hook``."""
    import types

    from clawboo_host.plugin_api import Capabilities, Health, RuntimeDescriptor, hookimpl

    descriptor = RuntimeDescriptor(
        id=runtime_id,
        name=runtime_id,
        cli_binary=None,
        install=None,
        auth_kind="none",
        docs_url="https://example.invalid",
        headless_auth=True,
        capabilities=Capabilities(
            streaming=True,
            mcp=False,
            worktrees=True,
            resume=True,
            tool_approval=True,
            steerable=False,
            models=("m",),
            runtime_class="wrapped-oneshot",
            native_home=native_home,
        ),
    )
    module = types.ModuleType(runtime_id.replace("-", "_"))
    module.clawboo_runtime_descriptor = hookimpl(lambda: descriptor)
    module.clawboo_runtime_health = hookimpl(lambda: Health(ok=True))
    module.clawboo_runtime_run = hookimpl(run_hook)
    return module


def test_a_run_hook_that_raises_when_called_is_a_failed_run(clawboo_host_factory):
    secret = "sk-" + "rawsecret" * 3

    def clawboo_runtime_run(ctx):  # raises before it ever returns an event stream
        raise RuntimeError(f"cannot start: bad key {secret}")

    server = clawboo_host_factory(
        plugins=[("raiser", _plugin_module("raiser", clawboo_runtime_run))]
    )
    with server.client() as client:
        task = new_task(client)
        response = client.post(
            "/api/runtimes/raiser/run", json={"taskId": task["id"], "kind": "research"}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["doneReason"], body["status"]) == ("error", "todo")
        assert secret not in response.text
        after = detail(client, task["id"])
        assert after["task"]["status"] == "todo" and after["task"]["assigneeAgentId"] is None
        assert after["executions"][0]["status"] == "failed"
        # one failure: which plugin and hook, never the plugin's own text
        assert after["comments"][-1]["body"] == (
            "Run error: runtime plugin 'raiser' failed: run raised RuntimeError"
        )
        assert secret not in json.dumps(after)

        task = new_task(client)
        with client.stream(
            "POST",
            "/api/runtimes/raiser/run",
            json={"taskId": task["id"], "kind": "research"},
            headers={"Accept": "text/event-stream"},
        ) as streamed:
            frames = [json.loads(x[6:]) for x in streamed.iter_lines() if x.startswith("data: ")]
        assert frames and frames[-1]["type"] == "result" and frames[-1]["doneReason"] == "error"
        assert detail(client, task["id"])["task"]["status"] == "todo"


def test_a_worktree_deleted_mid_run_still_reports_up(server, client, repo):
    task = new_task(client, "!sleep 1500\n!ok finished")
    thread, out = _run_in_thread(server, task["id"], repoPath=str(repo))
    workspace = wait_until(lambda: detail(client, task["id"])["workspace"], what="a worktree")
    shutil.rmtree(workspace["worktreePath"])
    thread.join(30)
    response = out["response"]
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["doneReason"], body["status"]) == ("success", "todo")
    after = detail(client, task["id"])
    assert after["task"]["status"] == "todo" and after["task"]["assigneeAgentId"] is None
    assert after["executions"][0]["status"] == "succeeded"
    assert after["comments"][-1]["body"].startswith("[changes not committed]")


class _CutEmojiRuntime:
    """A runtime whose CLI cut a string mid-surrogate-pair (a JS ``slice``): the JSON it printed
    parses to a lone surrogate, which is not encodable as UTF-8."""

    @hookimpl
    def clawboo_runtime_descriptor(self):
        return RuntimeDescriptor(
            id="cut-emoji",
            name="Cut emoji",
            auth_kind="none",
            docs_url="https://x.invalid",
            capabilities=Capabilities(
                streaming=True, mcp=False, worktrees=False, resume=False, tool_approval=False
            ),
        )

    @hookimpl
    async def clawboo_runtime_run(self, ctx):
        yield TextDelta(json.loads('"cut \\ud83d"'))
        yield Done("success", summary="fine")


def test_a_streamed_frame_with_a_lone_surrogate_is_sent_not_dropped(clawboo_host_factory):
    server = clawboo_host_factory(plugins=[("cut-emoji", _CutEmojiRuntime())])
    with server.client() as client:
        task = create_task(client, "stream it", "")
        frames = run_streaming(client, "cut-emoji", task["id"], kind="research")
    deltas = [f for f in frames if f["type"] == "text-delta"]
    assert [d["text"] for d in deltas] == ["cut \ufffd"]  # replaced, so valid UTF-8
    assert frames[-1]["type"] == "result" and frames[-1]["summary"] == "fine"


def test_the_recovery_sweep_spares_a_live_run_after_a_clock_step(
    clawboo_host_factory, env, monkeypatch
):
    import psutil

    from clawboo_host.run import Executor

    env["CLAWBOO_HOST_LEASE_S"] = "0.15"  # a heartbeat and a sweep every 0.05 s
    sweeps: list[list[str]] = []
    real_recover = Executor.recover

    async def counted_recover(self, *args, **kwargs):
        closed = await real_recover(self, *args, **kwargs)
        sweeps.append(closed)
        return closed

    monkeypatch.setattr(Executor, "recover", counted_recover)
    server = clawboo_host_factory(env=env)
    with server.client() as client:
        task = new_task(client, "!hang")
        thread, out = _run_in_thread(server, task["id"], kind="research")
        exec_id = _wait_for_execution(client, task["id"])
        # The wall clock is stepped (NTP, a resume from sleep): psutil's create_time, which
        # is boot time (wall clock) plus ticks since boot, moves with it.
        real = psutil.Process.create_time
        monkeypatch.setattr(psutil.Process, "create_time", lambda self: real(self) + 7.0)
        swept = len(sweeps)
        wait_until(lambda: len(sweeps) >= swept + 3, what="three recovery sweeps")
        during = detail(client, task["id"])
        assert client.post(f"/api/executions/{exec_id}/abort").status_code == 200
        thread.join(30)
    assert during["executions"][0]["status"] == "running"
    assert during["task"]["status"] == "in_progress"
    body = out["response"].json()
    assert (body["doneReason"], body["status"]) == ("aborted", "todo")


def test_an_aborted_run_stops_waiting_for_its_identity_home(clawboo_host_factory):
    from clawboo_host.plugin_api import NativeHome, StatusEvent

    async def clawboo_runtime_run(ctx):
        yield StatusEvent("running")
        await ctx.abort.wait()
        yield Done("aborted", summary="stopped")

    module = _plugin_module("homed", clawboo_runtime_run, native_home=NativeHome())
    server = clawboo_host_factory(plugins=[("homed", module)])

    def start(task_id):
        out = {}

        def target():
            with server.client() as c:
                out["response"] = c.post(
                    "/api/runtimes/homed/run",
                    json={"taskId": task_id, "kind": "research", "assigneeAgentId": "same"},
                )

        thread = threading.Thread(target=target)
        thread.start()
        return thread, out

    with server.client() as client:
        first, second = new_task(client), new_task(client)
        holder, _ = start(first["id"])
        holder_exec = _wait_for_execution(client, first["id"])
        waiter, out = start(second["id"])  # same agent and runtime: waits for the home
        waiter_exec = _wait_for_execution(client, second["id"])
        locks = server.app.state.host.executor.homes._locks
        wait_until(
            lambda: any(lock.statistics().tasks_waiting for lock in locks.values()),
            what="the second run to wait for the identity home",
        )
        assert client.post(f"/api/executions/{waiter_exec}/abort").status_code == 200
        waiter.join(10)
        still_waiting = waiter.is_alive()
        client.post(f"/api/executions/{holder_exec}/abort")
        holder.join(30)
        waiter.join(30)
        assert not still_waiting, "the aborted run kept waiting for the identity home"
        body = out["response"].json()
        assert (body["doneReason"], body["status"]) == ("aborted", "todo")
        after = detail(client, second["id"])
        assert after["executions"][0]["status"] == "cancelled"
        assert after["task"]["status"] == "todo"


def test_stopping_the_host_mid_run_kills_the_tree_and_releases_the_task(tmp_path, env):
    data = tmp_path / "data"
    env = dict(env, CLAWBOO_HOME=str(data))
    with server_process(["--port", "0"], env, data) as port:
        base = f"http://127.0.0.1:{port}"
        task = httpx.post(
            f"{base}/api/board/tasks", json={"title": "t", "description": "!spawn 120"}
        ).json()["task"]
        pids = _pids_of_streamed_spawn(base, task["id"])
    # server_process sent SIGTERM and waited for the exit
    assert still_running(pids, timeout=15) == []
    with server_process(["--port", "0"], env, data) as port:
        after = httpx.get(f"http://127.0.0.1:{port}/api/board/tasks/{task['id']}").json()
    assert after["task"]["status"] == "todo"
    assert after["executions"][0]["status"] == "cancelled"


def test_a_lone_surrogate_in_runtime_output_is_stored_safely(clawboo_host_factory):
    from clawboo_host.plugin_api import Done, TextDelta

    async def clawboo_runtime_run(ctx):
        yield TextDelta(json.loads('"cut emoji \\ud83d"'))
        yield Done("success")

    server = clawboo_host_factory(
        plugins=[("halfemoji", _plugin_module("halfemoji", clawboo_runtime_run))]
    )
    with server.client() as client:
        task = new_task(client)
        body = client.post(
            "/api/runtimes/halfemoji/run", json={"taskId": task["id"], "kind": "research"}
        ).json()
        assert (body["status"], body["summary"]) == ("done", "cut emoji \ufffd")
        assert detail(client, task["id"])["comments"][-1]["body"] == "cut emoji \ufffd"


def test_only_the_same_agent_on_the_same_runtime_resumes_a_session(client, repo):
    task = new_task(client, "!session sess-7\n!ok paused")
    run(client, task["id"], repoPath=str(repo), keepForResume=True, assigneeAgentId="alice")
    client.patch(f"/api/board/tasks/{task['id']}", json={"description": "!ok next"})
    with client.stream(
        "POST",
        f"/api/runtimes/{MOCK}/run",
        headers={"Accept": "text/event-stream"},
        json={
            "taskId": task["id"],
            "repoPath": str(repo),
            "assigneeAgentId": "bob",
            "keepForResume": True,
        },
    ) as response:
        texts = [
            json.loads(line[6:]).get("text")
            for line in response.iter_lines()
            if line.startswith("data: ")
        ]
    assert "resumed sess-7" not in texts  # bob's home never held alice's session


def test_a_huge_description_is_shortened_to_fit_one_argv_element(clawboo_host_factory, git_repo):
    from clawboo_host.plugin_api import Done

    seen = {}

    async def clawboo_runtime_run(ctx):
        seen["prompt"] = ctx.prompt
        seen["task_md"] = (ctx.cwd / "TASK.md").read_text()
        yield Done("success", summary="ok")

    server = clawboo_host_factory(plugins=[("big", _plugin_module("big", clawboo_runtime_run))])
    description = "é" * 200_000  # 400 000 bytes
    with server.client() as client:
        task = new_task(client, description)
        body = client.post(
            "/api/runtimes/big/run", json={"taskId": task["id"], "repoPath": str(git_repo)}
        ).json()
    assert body["doneReason"] == "success"
    assert len(seen["prompt"].encode()) <= 120_000
    assert seen["prompt"].startswith("# Task: Do the thing\n\néé")
    assert "the full text is in TASK.md at the root of your worktree" in seen["prompt"]
    assert description in seen["task_md"]


def test_a_finished_run_never_touches_a_later_runs_claim(server, client):
    task = new_task(client, "!sleep 1500\n!ok first")
    first, first_out = _run_in_thread(server, task["id"], kind="research", assigneeAgentId="first")
    _wait_for_execution(client, task["id"])
    # A person takes the task back mid-run and someone else picks it up.
    client.patch(f"/api/board/tasks/{task['id']}", json={"status": "todo", "description": "!hang"})
    second, second_out = _run_in_thread(
        server, task["id"], kind="research", assigneeAgentId="second"
    )
    wait_until(
        lambda: detail(client, task["id"])["task"]["assigneeAgentId"] == "second",
        what="the second run's claim",
    )
    first.join(30)
    assert first_out["response"].json()["status"] == "in_progress"  # not ours to move
    after = detail(client, task["id"])
    assert (after["task"]["status"], after["task"]["assigneeAgentId"]) == ("in_progress", "second")
    assert after["comments"][-1]["body"].startswith("[late result — the task had been released")
    running = [e for e in after["executions"] if e["status"] == "running"]
    assert len(running) == 1
    client.post(f"/api/executions/{running[0]['id']}/abort")
    second.join(30)
    assert second_out["response"].json()["doneReason"] == "aborted"
    assert detail(client, task["id"])["task"]["status"] == "todo"
