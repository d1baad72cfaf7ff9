"""POST /api/runtimes/claude-code/run end to end: a live host, a real git repo, a fake claude."""

from __future__ import annotations

from pathlib import Path

import clawboo_claude_code
import pytest

from clawboo_host.testing.helpers import connect, create_task, git, run_task, task_detail

RUNTIME = "claude-code"
KEY = "sk-ant-" + "api03-e2e-test-key-0123456789"  # split: not a committed key
GITHUB_SECRET = "ghp_should_never_reach_the_agent_0123456789"
READY = {"ok": True, "connectionState": "ready"}


@pytest.fixture
def server(clawboo_host_factory, clawboo_env):
    env = dict(clawboo_env, GITHUB_TOKEN=GITHUB_SECRET, CLAWBOO_TEST_MARKER="kept")
    return clawboo_host_factory(plugins=[(RUNTIME, clawboo_claude_code)], env=env)


@pytest.fixture
def client(server):
    with server.client() as c:
        yield c


def test_a_task_runs_end_to_end_with_mcp(
    client, server, fake_claude, git_repo, clawboo_env, clawboo_data_dir
):
    fake_claude.install("plain")  # installed before connect: "ready" needs the binary
    assert connect(client, RUNTIME, KEY) == READY
    task = create_task(client, "Comment on the task", "Use add_comment, then say DONE-123.")
    # The fake replays the real MCP transcript and really calls add_comment on this task
    # through the MCP config the plugin wrote.
    fake_claude.install("mcp", task_id=task["id"], real_mcp_task=task["id"])

    response = client.post(
        f"/api/runtimes/{RUNTIME}/run", json={"taskId": task["id"], "repoPath": str(git_repo)}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["doneReason"], body["status"], body["summary"]) == ("success", "done", "DONE-123")
    assert body["costUsd"] == pytest.approx(0.00047) and body["costEstimated"] is False
    assert body["usage"] == {"inputTokens": 24, "outputTokens": 14}
    assert body["usedWorktree"] is True and body["degradations"] == []

    [call] = fake_claude.calls()
    # The prompt is one argv element, last, after "--".
    prompt = call["argv"][call["argv"].index("--") + 1]
    assert prompt.startswith("# Task: Comment on the task\n\nUse add_comment, then say DONE-123.")
    assert "clawboo-tasks" in prompt
    # Env: the granted key, our additions, not the operator's unrelated secrets.
    assert call["env"]["ANTHROPIC_API_KEY"] == KEY
    assert "GITHUB_TOKEN" not in call["env_present"]
    assert call["env"]["CLAWBOO_TEST_MARKER"] == "kept"
    assert call["env"]["IS_SANDBOX"] == "1"
    user_home = Path(clawboo_env["HOME"])
    assert call["env"]["HOME"] != str(user_home)
    # The MCP config: the host's tasks server with a bearer token, 0600, in the run's scratch.
    server_cfg = call["mcp"]["config"]["mcpServers"]["clawboo-tasks"]
    assert server_cfg["type"] == "http"
    assert server_cfg["url"] == f"http://127.0.0.1:{server.port}/api/mcp/tasks"
    scheme, token = server_cfg["headers"]["Authorization"].split(" ", 1)
    assert scheme == "Bearer" and len(token) >= 16
    assert call["mcp"]["mode"] == "0o600"
    mcp_path = Path(call["mcp"]["path"])
    assert mcp_path.is_relative_to(clawboo_data_dir / "runs")
    assert not mcp_path.exists()  # the scratch dir went with the run
    # The token worked: the real add_comment landed on the task.
    assert call["mcp_results"] and call["mcp_results"][0]["is_error"] is False
    comments = task_detail(client, task["id"])["comments"]
    assert "hello from the fake claude" in [c["body"] for c in comments]
    assert comments[-1]["body"] == "DONE-123"
    # Nothing in the worktree, the repo or the user's HOME.
    worktree = Path(call["cwd"])
    assert worktree != git_repo and not worktree.is_relative_to(git_repo)
    listing = call["cwd_listing"]
    assert "README.md" in listing
    assert not [n for n in listing if "mcp" in n.lower() or n.startswith(".claude")], listing
    assert git(git_repo, "status", "--porcelain") == ""
    assert list(user_home.rglob("*")) == []
    assert not (user_home / ".claude.json").exists()
    assert token not in response.text and KEY not in response.text


def test_a_rejected_key_fails_the_run_and_releases_the_task(client, fake_claude, git_repo):
    fake_claude.install("auth401")
    assert connect(client, RUNTIME, KEY) == READY
    task = create_task(client, "Say hi", "Reply with exactly PLAIN-OK and nothing else.")
    body = run_task(client, RUNTIME, task["id"], repoPath=str(git_repo))
    assert (body["doneReason"], body["status"]) == ("error", "todo")
    assert body["summary"] == "Invalid API key · Fix external API key"
    detail = task_detail(client, task["id"])
    assert detail["executions"][0]["status"] == "failed"
    assert detail["comments"][-1]["body"] == "Run error: Invalid API key · Fix external API key"


@pytest.mark.parametrize("credential", ["ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN"])
def test_a_gateway_setup_in_the_server_env_is_ready_and_reaches_the_cli(
    clawboo_host_factory, clawboo_env, fake_claude, git_repo, credential
):
    fake_claude.install("plain")
    env = dict(
        clawboo_env,
        ANTHROPIC_BASE_URL="http://gateway.internal:8080",
        CLAUDE_CODE_MAX_RETRIES="5",
        CLAUDE_CODE_USE_VERTEX="0",
        DISABLE_TELEMETRY="1",
        **{credential: "gateway-token-0123456789"},
    )
    server = clawboo_host_factory(plugins=[(RUNTIME, clawboo_claude_code)], env=env)
    with server.client() as client:
        row = next(r for r in client.get("/api/runtimes").json()["runtimes"] if r["id"] == RUNTIME)
        assert (row["connectionState"], row["hasCredential"]) == ("ready", True)
        task = create_task(client, "Say hi", "Reply with exactly PLAIN-OK and nothing else.")
        body = run_task(client, RUNTIME, task["id"], repoPath=str(git_repo))
    assert (body["doneReason"], body["status"]) == ("success", "done")
    [call] = fake_claude.calls()
    assert call["env"][credential] == "gateway-token-0123456789"
    assert call["env"]["ANTHROPIC_BASE_URL"] == "http://gateway.internal:8080"
    assert call["env"]["CLAUDE_CODE_MAX_RETRIES"] == "5"  # the user's setting wins over ours
    assert call["env"]["CLAUDE_CODE_USE_VERTEX"] == "0"
    assert call["env"]["DISABLE_TELEMETRY"] == "1"
    assert "ANTHROPIC_API_KEY" not in call["env_present"]


def test_claudes_credentials_never_reach_another_runtime():
    from clawboo_host.plugin_api.childenv import build_child_env

    env = build_child_env({"CLAUDE_CODE_OAUTH_TOKEN": "x", "ANTHROPIC_AUTH_TOKEN": "y", "P": "1"})
    assert env == {"P": "1"}
