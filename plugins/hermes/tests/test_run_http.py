"""POST /api/runtimes/hermes/run end to end: a live host, a real git repo, a fake hermes."""

from __future__ import annotations

from pathlib import Path

import clawboo_hermes
import pytest

from clawboo_host.testing.helpers import (
    connect,
    create_task,
    git,
    run_task,
    task_detail,
    wait_until,
)

RUNTIME = "hermes"
KEY = "sk-or-v1-e2e-test-key-0123456789abcdef"
GITHUB_SECRET = "ghp_should_never_reach_the_agent_0123456789"
READY = {"ok": True, "connectionState": "ready"}


@pytest.fixture
def server(clawboo_host_factory, clawboo_env):
    # a short status TTL: a login made outside the host shows up once the snapshot refreshes
    env = dict(
        clawboo_env,
        GITHUB_TOKEN=GITHUB_SECRET,
        CLAWBOO_TEST_MARKER="kept",
        CLAWBOO_STATUS_TTL_S="0.2",
    )
    return clawboo_host_factory(plugins=[(RUNTIME, clawboo_hermes)], env=env)


@pytest.fixture
def client(server):
    with server.client() as c:
        yield c


def test_a_task_runs_end_to_end_with_mcp(
    client, server, fake_hermes, git_repo, clawboo_env, clawboo_data_dir
):
    fake_hermes.install("plain")  # installed before connect: "ready" needs the binary
    assert connect(client, RUNTIME, KEY) == READY
    task = create_task(client, "Comment on the task", "Use add_comment, then say DONE-123.")
    # The fake replays the real MCP transcript and really calls add_comment on this task
    # with the url and token it found in $HERMES_HOME/config.yaml.
    fake_hermes.install("mcp", real_mcp_task=task["id"])

    response = client.post(
        f"/api/runtimes/{RUNTIME}/run", json={"taskId": task["id"], "repoPath": str(git_repo)}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["doneReason"], body["status"], body["summary"]) == ("success", "done", "DONE-123")
    assert body["costUsd"] is None  # Hermes reports no usage
    assert body["usedWorktree"] is True

    [call] = fake_hermes.calls()
    # The prompt is one argv element, attached to --query (so a leading "-" stays text).
    argv = call["argv"]
    assert argv[0] == "chat" and argv[1].startswith("--query=") and argv[2:4] == ["-Q", "--yolo"]
    prompt = argv[1].removeprefix("--query=")
    assert prompt.startswith("# Task: Comment on the task\n\nUse add_comment, then say DONE-123.")
    assert "clawboo-tasks" in prompt
    assert argv[4:] == ["--provider", "openrouter", "-m", "openai/gpt-4o-mini"]
    # Env: the granted key, our additions, not the operator's unrelated secrets.
    assert call["env"]["OPENROUTER_API_KEY"] == KEY
    assert "GITHUB_TOKEN" not in call["env_present"]
    assert call["env"]["CLAWBOO_TEST_MARKER"] == "kept"
    assert call["env"]["PYTHONUNBUFFERED"] == "1"
    # HERMES_HOME is the agent's private home under the data dir, not ~/.hermes nor the
    # server's own HERMES_HOME.
    hermes_home = Path(call["env"]["HERMES_HOME"])
    assert hermes_home.is_relative_to(clawboo_data_dir)
    assert hermes_home != Path(clawboo_env["HERMES_HOME"])
    assert oct(hermes_home.stat().st_mode & 0o777) == "0o700"
    # The MCP config: the host's tasks server with a bearer token, in a 0600 config.yaml.
    config = call["config"]
    assert config["mode"] == "0o600"
    assert config["clawboo_tasks"]["url"] == f"http://127.0.0.1:{server.port}/api/mcp/tasks"
    scheme, token = config["clawboo_tasks"]["Authorization"].split(" ", 1)
    assert scheme == "Bearer" and len(token) >= 16
    assert token not in (hermes_home / "config.yaml").read_text()  # taken back out after the run
    assert call["update_check"]["ts"] > 0
    # The token worked: the real add_comment landed on the task.
    assert call["mcp_results"] and call["mcp_results"][0]["is_error"] is False
    comments = task_detail(client, task["id"])["comments"]
    assert "hello from the fake hermes" in [c["body"] for c in comments]
    assert comments[-1]["body"] == "DONE-123"
    # Nothing in the worktree, the repo, the user's HOME or the server's HERMES_HOME.
    worktree = Path(call["cwd"])
    assert worktree != git_repo and not worktree.is_relative_to(git_repo)
    assert "README.md" in call["cwd_listing"]
    assert not [
        n
        for n in call["cwd_listing"]
        if any(w in n.lower() for w in ("config", "hermes", "mcp", "update_check"))
    ]
    assert git(git_repo, "status", "--porcelain") == ""
    user_home = Path(clawboo_env["HOME"])
    assert list(user_home.rglob("*")) == []
    assert not Path(clawboo_env["HERMES_HOME"]).exists()
    assert token not in response.text and KEY not in response.text


def test_the_session_is_resumed_on_the_next_run(client, fake_hermes, git_repo):
    fake_hermes.install("plain")
    assert connect(client, RUNTIME, KEY) == READY
    task = create_task(client, "Say hi", "Reply with exactly PLAIN-OK and nothing else.")
    first = run_task(client, RUNTIME, task["id"], repoPath=str(git_repo), keepForResume=True)
    assert (first["doneReason"], first["status"], first["summary"]) == (
        "success",
        "todo",
        "PLAIN-OK",
    )
    second = run_task(client, RUNTIME, task["id"], repoPath=str(git_repo))
    assert (second["doneReason"], second["summary"]) == ("success", "PLAIN-OK")
    one, two = fake_hermes.calls()
    assert "--resume" not in one["argv"]
    # Same agent, same persistent home: Hermes's own session is picked up again.
    assert two["argv"][-2:] == ["--resume", "20261128_223818_f31aae"]
    assert two["env"]["HERMES_HOME"] == one["env"]["HERMES_HOME"]


def test_a_rejected_key_fails_the_run_and_releases_the_task(client, fake_hermes, git_repo):
    fake_hermes.install("auth401")
    assert connect(client, RUNTIME, KEY) == READY
    task = create_task(client, "Say hi", "Reply with exactly PLAIN-OK and nothing else.")
    body = run_task(client, RUNTIME, task["id"], repoPath=str(git_repo))
    assert (body["doneReason"], body["status"]) == ("error", "todo")
    assert body["summary"] == "HTTP 401: mock: invalid x-api-key"
    detail = task_detail(client, task["id"])
    assert detail["executions"][0]["status"] == "failed"


def test_a_user_set_up_with_their_own_gateway_is_ready_and_runs_as_configured(
    client, fake_hermes, git_repo, clawboo_env
):
    fake_hermes.install("plain")
    row = lambda: next(  # noqa: E731
        r for r in client.get("/api/runtimes").json()["runtimes"] if r["id"] == RUNTIME
    )
    assert row()["connectionState"] == "needs-auth"
    user_home = Path(clawboo_env["HERMES_HOME"])
    user_home.mkdir(parents=True, exist_ok=True)
    (user_home / "config.yaml").write_text(
        "model:\n  provider: custom\n  base_url: http://127.0.0.1:9/v1\n  default: gw-model\n"
    )
    (user_home / ".env").write_text("OPENAI_API_KEY=sk-user-gateway-key-0001\n")
    # made outside the host: seen once the status snapshot's TTL has passed
    ready = wait_until(lambda: (r := row())["connectionState"] == "ready" and r, what="ready")
    assert ready["hasVaultCredential"] is False

    task = create_task(client, "Say hi", "Reply with exactly PLAIN-OK and nothing else.")
    body = run_task(client, RUNTIME, task["id"], repoPath=str(git_repo))
    assert (body["doneReason"], body["status"], body["summary"]) == ("success", "done", "PLAIN-OK")
    [call] = fake_hermes.calls()
    assert call["argv"][4:] == []  # no --provider / -m over the user's choice
    assert "base_url: http://127.0.0.1:9/v1" in call["config"]["text"]
