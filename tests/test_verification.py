"""Verify before done (SPEC §7.2), black box: clawboo-mock over real HTTP, real git worktrees,
real ``bash -c`` verify commands in their own process groups."""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path

import httpx
import pytest

from clawboo_host.board.store import BoardStore, process_groups
from clawboo_host.testing.fakes import still_running
from clawboo_host.testing.helpers import (
    create_task,
    git,
    run_streaming,
    run_task,
    task_detail,
    wait_until,
)
from clawboo_host.testing.server import server_process

MOCK = "clawboo-mock"
#: A run that changes a file; with no ``!ok`` the mock goes on to the directives that follow,
#: including any a failed verification's output puts in the fix prompt.
WRITES = "!write src/feature.txt implemented"


@pytest.fixture
def env(clawboo_env):
    return dict(clawboo_env, CLAWBOO_ENABLE_MOCK_RUNTIME="1")


@pytest.fixture
def client(clawboo_host_factory, env):
    with clawboo_host_factory(env=env).client() as c:
        yield c


def comments(client, task_id) -> list[str]:
    return [c["body"] for c in task_detail(client, task_id)["comments"]]


def branch_file(repo: Path, task_id: str, name: str) -> str:
    return git(repo, "show", f"clawboo/task-{task_id}:{name}")


# --------------------------------------------------------------------------- the field


def test_verify_command_is_a_task_field_set_by_post_and_patch(client):
    task = create_task(client, "t", verifyCommand="pytest -q")
    assert task["verifyCommand"] == "pytest -q"
    path = f"/api/board/tasks/{task['id']}"
    assert client.get(path).json()["task"]["verifyCommand"] == "pytest -q"
    # a PATCH without the field keeps it; null (or blank) clears it
    assert client.patch(path, json={"title": "t2"}).json()["task"]["verifyCommand"] == "pytest -q"
    assert client.patch(path, json={"verifyCommand": None}).json()["task"]["verifyCommand"] is None
    assert client.patch(path, json={"verifyCommand": "make test"}).json()["task"][
        "verifyCommand"
    ] == ("make test")
    assert client.patch(path, json={"verifyCommand": "  "}).json()["task"]["verifyCommand"] is None
    bad = client.patch(path, json={"verifyCommand": 7, "title": "changed"})
    assert (bad.status_code, bad.json()) == (400, {"error": "verifyCommand must be a string"})
    assert client.get(path).json()["task"]["title"] == "t2"  # bad input changed nothing
    bad = client.post("/api/board/tasks", json={"title": "x", "verifyCommand": ["ls"]})
    assert (bad.status_code, bad.json()) == (400, {"error": "verifyCommand must be a string"})


def test_mcp_tools_cannot_set_a_verify_command(client):
    task = create_task(
        client,
        "parent",
        '!mcp create_subtask {"parentTaskId": "$TASK", "title": "sub", "verifyCommand": "true"}\n'
        "!ok tried",
    )
    body = run_task(client, MOCK, task["id"], kind="research")
    assert body["status"] == "done"
    tasks = client.get("/api/board/tasks").json()["tasks"]
    assert [t["id"] for t in tasks] == [task["id"]]  # the subtask was refused outright
    assert all(t["verifyCommand"] is None for t in tasks)


# --------------------------------------------------------------------------- the gate


def test_no_command_leaves_the_task_in_review(client, git_repo):
    task = create_task(client, "t", f"{WRITES}\n!ok wrote it")
    body = run_task(client, MOCK, task["id"], repoPath=str(git_repo))
    assert (body["status"], body["verification"]) == ("in_review", None)
    assert len(task_detail(client, task["id"])["executions"]) == 1


def test_a_passing_command_is_done_after_one_execution(client, git_repo):
    task = create_task(
        client,
        "t",
        f"{WRITES}\n!ok wrote it",
        verifyCommand="test -f src/feature.txt && echo all 12 tests passed && touch .cache",
    )
    body = run_task(client, MOCK, task["id"], repoPath=str(git_repo))
    assert (body["doneReason"], body["status"]) == ("success", "done")
    assert body["verification"] == {
        "command": "test -f src/feature.txt && echo all 12 tests passed && touch .cache",
        "attempts": 1,
        "passed": True,
        "exitCode": 0,
        "outputTail": "all 12 tests passed",
    }
    after = task_detail(client, task["id"])
    assert [e["status"] for e in after["executions"]] == ["succeeded"]
    assert after["comments"][-1]["body"].startswith("Verification passed (attempt 1): ")
    assert after["comments"][-1]["authorType"] == "system"
    # the evidence is committed on the task branch, next to the work
    evidence = branch_file(git_repo, task["id"], "VERIFICATION.md")
    assert "Attempt 1 — passed" in evidence and "all 12 tests passed" in evidence
    assert branch_file(git_repo, task["id"], "src/feature.txt") == "implemented"
    # the evidence commit carries the evidence only, not what the command left behind
    files = git(git_repo, "ls-tree", "-r", "--name-only", f"clawboo/task-{task['id']}")
    assert ".cache" not in files.split()
    worktree = Path(after["workspace"]["worktreePath"])
    assert git(worktree, "status", "--porcelain") == "?? .cache"


def test_a_failing_command_gets_a_fix_run_then_blocks(client, git_repo):
    command = "echo 'FAILED test_feature - assert 1 == 2'; exit 3"
    task = create_task(
        client, "t", f"!cost 0.25 100 50\n{WRITES}\n!ok wrote it", verifyCommand=command
    )
    body = run_task(client, MOCK, task["id"], repoPath=str(git_repo))
    assert (body["doneReason"], body["status"]) == ("success", "blocked")
    assert body["verification"] == {
        "command": command,
        "attempts": 2,
        "passed": False,
        "exitCode": 3,
        "outputTail": "FAILED test_feature - assert 1 == 2",
    }
    # cost and usage cover both executions of the chain
    assert body["costUsd"] == pytest.approx(0.5)
    assert body["usage"] == {"inputTokens": 200, "outputTokens": 100}
    after = task_detail(client, task["id"])
    assert after["task"]["status"] == "blocked"
    executions = after["executions"]
    assert [e["status"] for e in executions] == ["succeeded", "succeeded"]
    assert [e["costUsd"] for e in executions] == [0.25, 0.25]
    assert body["execId"] == executions[-1]["id"]
    bodies = [c["body"] for c in after["comments"]]
    failed = [b for b in bodies if b.startswith("Verification failed (attempt")]
    assert len(failed) == 2 and all("FAILED test_feature - assert 1 == 2" in b for b in failed)
    assert "exited 3" in failed[0]
    assert bodies[-1] == "Verification failed 2× — routed to blocked for human review."
    evidence = branch_file(git_repo, task["id"], "VERIFICATION.md")
    assert "Attempt 1 — failed" in evidence and "Attempt 2 — failed" in evidence


def test_failing_once_then_passing_is_done_after_two_executions(client, git_repo):
    # The failure's output tail reaches the fix run's prompt; the mock acts on the
    # ``!write`` line in it, which is the fix.
    command = "test -f fixed.txt || { echo '!write fixed.txt repaired'; exit 1; }"
    task = create_task(client, "t", WRITES, verifyCommand=command)
    frames = run_streaming(client, MOCK, task["id"], repoPath=str(git_repo))
    result = frames[-1]
    assert result["type"] == "result" and [f["type"] for f in frames].count("result") == 1
    assert (result["status"], result["verification"]["attempts"]) == ("done", 2)
    assert result["verification"]["passed"] is True
    phases = [(f["phase"], f["attempt"]) for f in frames if f["type"] == "verification"]
    assert phases == [("start", 1), ("end", 1), ("start", 2), ("end", 2)]
    ends = [f for f in frames if f["type"] == "verification" and f["phase"] == "end"]
    assert (ends[0]["passed"], ends[0]["exitCode"]) == (False, 1)
    assert ends[0]["outputTail"] == "!write fixed.txt repaired"
    assert (ends[1]["passed"], ends[1]["exitCode"]) == (True, 0)
    assert all(f["command"] == command for f in frames if f["type"] == "verification")
    after = task_detail(client, task["id"])
    assert [e["status"] for e in after["executions"]] == ["succeeded", "succeeded"]
    assert branch_file(git_repo, task["id"], "fixed.txt") == "repaired"
    bodies = [c["body"] for c in after["comments"]]
    assert any(b.startswith("Verification failed (attempt 1)") for b in bodies)
    assert bodies[-1].startswith("Verification passed (attempt 2)")


def test_verify_cmd_in_init_sh_is_used_but_not_one_the_agent_sets_mid_run(client, git_repo):
    # The agent writes its own exam into init.sh: it does not count for its own run.
    task = create_task(
        client, "t", f"!write init.sh VERIFY_CMD='exit 0'\n{WRITES}\n!ok set my own exam"
    )
    body = run_task(client, MOCK, task["id"], repoPath=str(git_repo), keepForResume=True)
    assert (body["status"], body["verification"]) == ("todo", None)
    # A person sets VERIFY_CMD in the worktree's init.sh; the next run is verified by it.
    worktree = Path(task_detail(client, task["id"])["workspace"]["worktreePath"])
    (worktree / "init.sh").write_text("#!/usr/bin/env bash\nVERIFY_CMD='echo from init.sh'\n")
    client.patch(f"/api/board/tasks/{task['id']}", json={"description": f"{WRITES}\n!ok again"})
    body = run_task(client, MOCK, task["id"], repoPath=str(git_repo))
    assert body["status"] == "done"
    assert body["verification"]["command"] == "echo from init.sh"
    assert body["verification"]["outputTail"] == "from init.sh"


def test_the_scaffold_placeholder_counts_as_unset(client, git_repo):
    task = create_task(client, "t", f"{WRITES}\n!ok wrote it")
    body = run_task(client, MOCK, task["id"], repoPath=str(git_repo))
    worktree = Path(task_detail(client, task["id"])["workspace"]["worktreePath"])
    assert "configure VERIFY_CMD" in (worktree / "init.sh").read_text()
    assert (body["status"], body["verification"]) == ("in_review", None)


# --------------------------------------------------------------------------- containment


def test_the_verify_environment_carries_no_provider_key(
    clawboo_host_factory, env, git_repo, tmp_path
):
    key = "sk-ant-api03-" + "k" * 40
    dump = tmp_path / "verify-env.txt"
    server = clawboo_host_factory(
        env=dict(env, ANTHROPIC_API_KEY=key, OPENAI_API_KEY="sk-proj-" + "o" * 40)
    )
    with server.client() as client:
        task = create_task(client, "t", f"{WRITES}\n!ok wrote", verifyCommand=f"env > {dump}")
        body = run_task(client, MOCK, task["id"], repoPath=str(git_repo))
        assert body["status"] == "done"
        seen = dict(line.split("=", 1) for line in dump.read_text().splitlines() if "=" in line)
        assert "PATH" in seen  # the dump is a real environment
        assert not {"ANTHROPIC_API_KEY", "OPENAI_API_KEY"} & set(seen)
        assert key not in dump.read_text() and "o" * 40 not in dump.read_text()
        assert not [name for name in seen if "CLAWBOO_MCP" in name or "TOKEN" in name]


def test_a_command_past_its_time_limit_has_its_whole_tree_killed(
    clawboo_host_factory, env, git_repo, tmp_path
):
    pids = tmp_path / "pids"
    server = clawboo_host_factory(
        env=dict(env, CLAWBOO_VERIFY_TIMEOUT_S="1", CLAWBOO_VERIFY_MAX_ATTEMPTS="1")
    )
    # a shell with a grandchild that ignores SIGTERM
    command = f"( trap '' TERM; sleep 300 ) & echo $$ $! > {pids}; wait"
    with server.client() as client:
        task = create_task(client, "t", f"{WRITES}\n!ok wrote", verifyCommand=command)
        body = run_task(client, MOCK, task["id"], repoPath=str(git_repo))
    assert body["status"] == "blocked"
    verification = body["verification"]
    assert (verification["passed"], verification["exitCode"]) == (False, None)
    assert "killed after 1 s (CLAWBOO_VERIFY_TIMEOUT_S)" in verification["outputTail"]
    started = [int(p) for p in pids.read_text().split()]
    assert len(started) == 2 and still_running(started, timeout=60) == []


def test_a_client_hang_up_during_verification_kills_it_and_releases_the_task(
    clawboo_host_factory, env, git_repo, tmp_path
):
    pids = tmp_path / "pids"
    server = clawboo_host_factory(env=env)
    command = f"( trap '' TERM; sleep 300 ) & echo $$ $! > {pids}; wait"
    with server.client() as client:
        task = create_task(client, "t", f"{WRITES}\n!ok wrote", verifyCommand=command)
        with httpx.Client(base_url=server.url, timeout=30) as hangup:
            with hangup.stream(
                "POST",
                f"/api/runtimes/{MOCK}/run",
                json={"taskId": task["id"], "repoPath": str(git_repo)},
                headers={"Accept": "text/event-stream"},
            ) as response:
                # Keep the iterator referenced: a dropped one is closed, and httpx then
                # closes the connection — hanging up before the command has even started.
                frames = response.iter_lines()
                for line in frames:
                    if line.startswith("data: ") and '"verification"' in line:
                        break
                wait_until(
                    lambda: pids.exists() and len(pids.read_text().split()) == 2,
                    timeout=60,
                    what="the verify command to start its tree",
                )
        started = [int(p) for p in pids.read_text().split()]
        assert still_running(started, timeout=60) == []
        wait_until(
            lambda: task_detail(client, task["id"])["task"]["status"] == "todo",
            timeout=60,
            what="the hung-up run to release its task",
        )
        after = task_detail(client, task["id"])
        assert after["task"]["assigneeAgentId"] is None
        assert [e["status"] for e in after["executions"]] == ["cancelled"]
        assert after["comments"][-1]["body"].startswith("Run aborted: verification stopped")


def test_the_abort_route_stops_a_fix_run_chain(clawboo_host_factory, env, git_repo, tmp_path):
    marker = tmp_path / "verifying"
    server = clawboo_host_factory(env=env)
    command = f"touch {marker}; sleep 300"
    with server.client() as client:
        task = create_task(client, "t", f"{WRITES}\n!ok wrote", verifyCommand=command)
        out: dict = {}

        def target():
            with server.client() as c:
                out["body"] = run_task(c, MOCK, task["id"], repoPath=str(git_repo))

        thread = threading.Thread(target=target)
        thread.start()
        wait_until(marker.exists, timeout=60, what="the verification to start")
        exec_id = task_detail(client, task["id"])["executions"][0]["id"]
        assert client.post(f"/api/executions/{exec_id}/abort").status_code == 200
        thread.join(30)
        assert (out["body"]["doneReason"], out["body"]["status"]) == ("aborted", "todo")
        assert out["body"]["verification"]["passed"] is False
        assert task_detail(client, task["id"])["task"]["status"] == "todo"


def _recorded_groups(data: Path) -> list:
    """The process groups the running executions on the board at ``data`` have recorded."""
    store = BoardStore(data / "clawboo.db")
    store.open()
    try:
        return [g for row in store.running_executions() for g in process_groups(row)]
    finally:
        store.close()


def test_a_host_crash_during_verification_is_recovered(tmp_path, env, git_repo):
    data = tmp_path / "data"
    pid_file = tmp_path / "verify.pid"
    env = dict(env, CLAWBOO_HOME=str(data))
    with server_process(["--port", "0"], env, data) as port:
        base = f"http://127.0.0.1:{port}"
        task = httpx.post(
            f"{base}/api/board/tasks",
            json={
                "title": "t",
                "description": f"{WRITES}\n!ok wrote",
                "verifyCommand": f"echo $$ > {pid_file}; exec sleep 300",
            },
        ).json()["task"]

        def start_run():
            try:
                httpx.post(
                    f"{base}/api/runtimes/{MOCK}/run",
                    json={"taskId": task["id"], "repoPath": str(git_repo)},
                    timeout=60,
                )
            except httpx.HTTPError:
                pass

        threading.Thread(target=start_run, daemon=True).start()
        wait_until(
            lambda: pid_file.exists() and pid_file.read_text().strip(),
            timeout=60,
            what="the verify command to start",
        )
        # The child runs before the host has written its group down: kill only after that.
        wait_until(
            lambda: _recorded_groups(data),
            timeout=60,
            what="the verify command's process group on the execution",
        )
        _kill_server(port)
    verify_pid = int(pid_file.read_text())
    try:
        with server_process(["--port", "0"], env, data) as port:
            after = httpx.get(f"http://127.0.0.1:{port}/api/board/tasks/{task['id']}").json()
        assert after["task"]["status"] == "todo"
        assert [e["status"] for e in after["executions"]] == ["failed"]
        assert after["executions"][0]["error"].startswith("interrupted")
        # its process group was recorded on the execution: the recovery sweep killed it
        assert still_running([verify_pid], timeout=30) == []
    finally:  # never leave a stray behind, even when the test fails
        try:
            os.kill(verify_pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _kill_server(port: int) -> None:
    import psutil

    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info.get("cmdline") or []
        if "clawboo_host.cli" in cmd and "serve" in cmd and proc.pid != os.getpid():
            for conn in proc.net_connections(kind="tcp"):
                if conn.laddr and conn.laddr.port == port:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait(10)
                    return
    raise AssertionError("server process not found")


def test_secrets_in_verify_output_are_redacted(client, git_repo):
    task = create_task(
        client,
        "t",
        f"{WRITES}\n!ok wrote",
        # printed, never written in the command (which is itself stored redacted)
        verifyCommand="echo \"OPENROUTER_API_KEY=sk-or-v1-$(printf 'z%.0s' {1..30})\"",
    )
    body = run_task(client, MOCK, task["id"], repoPath=str(git_repo))
    assert body["status"] == "done"
    text = json.dumps([body, task_detail(client, task["id"])])
    assert "z" * 30 not in text and "[REDACTED]" in body["verification"]["outputTail"]
    assert "z" * 30 not in branch_file(git_repo, task["id"], "VERIFICATION.md")


def test_a_cap_budget_paused_during_verification_stops_the_chain(client, git_repo, tmp_path):
    started, go = tmp_path / "started", tmp_path / "go"
    command = f"touch {started}; while [ ! -f {go} ]; do sleep 0.05; done; exit 1"
    put = client.put("/api/budgets/agent/spender", json={"limitUsd": 100, "mode": "cap"})
    assert put.status_code == 200
    task = create_task(client, "t", f"!cost 0.50\n{WRITES}\n!ok wrote", verifyCommand=command)
    out: dict = {}

    def target():
        out["body"] = run_task(
            client, MOCK, task["id"], repoPath=str(git_repo), assigneeAgentId="spender"
        )

    thread = threading.Thread(target=target)
    thread.start()
    wait_until(started.exists, timeout=60, what="the verification to start")
    with httpx.Client(base_url=str(client.base_url), timeout=30) as other:
        other.put("/api/budgets/agent/spender", json={"limitUsd": 0.01})
    go.touch()
    thread.join(60)
    body = out["body"]
    assert (body["doneReason"], body["status"], body["summary"]) == (
        "aborted",
        "todo",
        "auto-paused (budget)",
    )
    after = task_detail(client, task["id"])
    assert [e["status"] for e in after["executions"]] == ["cancelled"]  # no fix run started
    assert after["comments"][-1]["body"].startswith("Auto-paused: agent budget reached")


def test_the_fix_run_is_told_the_command_its_exit_code_and_output(clawboo_host_factory, git_repo):
    """A runtime plugin that records its prompts: the fix run's carries the failure."""
    import types

    from clawboo_host.plugin_api import Capabilities, Done, Health, RuntimeDescriptor, hookimpl

    prompts: list[str] = []

    async def clawboo_runtime_run(ctx):
        prompts.append(ctx.prompt)
        (ctx.cwd / f"change-{len(prompts)}.txt").write_text("work\n")
        yield Done("success", summary=f"attempt {len(prompts)}")

    descriptor = RuntimeDescriptor(
        id="recorder",
        name="recorder",
        auth_kind="none",
        docs_url="https://example.invalid",
        capabilities=Capabilities(
            streaming=True, mcp=False, worktrees=True, resume=False, tool_approval=False
        ),
    )
    module = types.ModuleType("recorder")
    module.clawboo_runtime_descriptor = hookimpl(lambda: descriptor)
    module.clawboo_runtime_health = hookimpl(lambda: Health(ok=True))
    module.clawboo_runtime_run = hookimpl(clawboo_runtime_run)
    server = clawboo_host_factory(plugins=[("recorder", module)])
    with server.client() as client:
        task = create_task(client, "t", "do it", verifyCommand="echo 'E   assert 3 == 4'; exit 4")
        body = run_task(client, "recorder", task["id"], repoPath=str(git_repo))
    assert (body["status"], body["summary"]) == ("blocked", "attempt 2")
    assert len(prompts) == 2
    assert "Verification failed" not in prompts[0]
    fix = prompts[1]
    assert fix.startswith(
        "# Task: t\n\ndo it\n\n## Verification failed — fix this before finishing"
    )
    assert "`echo 'E   assert 3 == 4'; exit 4` exited 4 (verification attempt 1 of 2)" in fix
    assert "```text\nE   assert 3 == 4\n```" in fix
    # the fix run's work is committed on the task branch too
    files = git(git_repo, "ls-tree", "-r", "--name-only", f"clawboo/task-{task['id']}").split()
    assert {"change-1.txt", "change-2.txt"} <= set(files)
