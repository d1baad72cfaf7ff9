"""Runs under bubblewrap, against a real ``serve`` process (``scripts/test-sandbox``).

The server runs with root's full privileges here when the tests do: what hides the secrets
from a run is the sandbox itself (mount and pid namespaces), not file permissions.
"""

from __future__ import annotations

import secrets as pysecrets
import shutil
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from clawboo_host.testing.fakes import still_running
from clawboo_host.testing.helpers import git, run_in_background
from clawboo_host.testing.server import server_process, serving_pid

MOCK = "clawboo-mock"
BWRAP = shutil.which("bwrap")


@pytest.fixture
def env(clawboo_env, fake_executables, tmp_path) -> dict:
    assert BWRAP, "bubblewrap (bwrap) is not installed: run scripts/test-sandbox"
    fake_executables.path("bwrap").symlink_to(BWRAP)  # the server finds it on its PATH
    return dict(clawboo_env, CLAWBOO_HOME=str(tmp_path / "data"), CLAWBOO_ENABLE_MOCK_RUNTIME="1")


def test_a_sandboxed_run_sees_neither_the_secrets_nor_the_server(env, fake_executables, git_repo):
    data = Path(env["CLAWBOO_HOME"])
    marker = "never-granted-" + pysecrets.token_hex(12)
    env = dict(env, OPENAI_API_KEY=marker)
    fake_executables.add_secret_spy(marker)
    for path, text in {
        "secrets/master.key": "stored-master-key",
        "secrets/runtime-keys.json": "{}",
        "runtimes/codex/someone/auth.json": "another runtime's login",
        "runs/another-run/mcp.json": "another run's MCP token",
    }.items():
        (data / path).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        (data / path).write_text(text)
    with server_process(["--port", "0"], env, data) as port:
        base = f"http://127.0.0.1:{port}"
        pid = serving_pid(port)
        spy = f"!exec spy {pid} {data / 'secrets'} {data / 'runtimes'} {data / 'runs'}"
        write = "!exec sh -c 'echo made-in-the-sandbox > sandboxed.txt'"
        task = httpx.post(
            f"{base}/api/board/tasks", json={"title": "spy", "description": f"{spy}\n{write}"}
        ).json()["task"]
        body = httpx.post(
            f"{base}/api/runtimes/{MOCK}/run",
            json={"taskId": task["id"], "repoPath": str(git_repo)},
            timeout=60,
        ).json()
    assert (body["doneReason"], body["status"]) == ("success", "in_review"), body
    got = fake_executables.spied()
    assert got["secrets"] == {}  # an empty tmpfs over secrets/
    assert "server_environ" not in got  # the server is not even in its pid namespace
    assert got["environs_with_marker"] == []
    assert got["listed"][str(data / "runtimes")] == []
    assert got["listed"][str(data / "runs")] == [body["execId"]]  # its own scratch only
    assert got["cwd"].startswith(str(data / "worktrees"))
    # The run's work landed in its worktree and was committed on the task branch.
    assert git(git_repo, "show", f"clawboo/task-{task['id']}:sandboxed.txt") == (
        "made-in-the-sandbox"
    )
    assert (data / "secrets" / "master.key").read_text() == "stored-master-key"


def test_a_host_killed_mid_run_takes_its_sandboxed_processes_with_it(env):
    data = Path(env["CLAWBOO_HOME"])
    marker = "sandboxed-sleeper-" + pysecrets.token_hex(6)
    sleeper = f"!exec {sys.executable} -c 'import time; time.sleep(300)' {marker}"
    with server_process(["--port", "0"], env, data) as port:
        base = f"http://127.0.0.1:{port}"
        task = httpx.post(
            f"{base}/api/board/tasks", json={"title": "t", "description": sleeper}
        ).json()["task"]
        run_in_background(base, MOCK, task["id"], kind="research")
        pids = _wait_for_processes(marker)
        server = psutil.Process(serving_pid(port))
        server.kill()
        server.wait(10)
        assert still_running(pids, timeout=30) == []
    with server_process(["--port", "0"], env, data) as port:
        after = httpx.get(f"http://127.0.0.1:{port}/api/board/tasks/{task['id']}").json()
    assert after["task"]["status"] == "todo"
    assert after["executions"][0]["status"] == "failed"


def _wait_for_processes(marker: str) -> list[int]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = [
            p.pid
            for p in psutil.process_iter(["cmdline"])
            if marker in (p.info.get("cmdline") or [])
            and p.info["cmdline"][0] != "bwrap"
            and "bwrap" not in p.info["cmdline"][0]
        ]
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("the run's process never started")
