"""POST /api/runtimes/claude-code/run end to end: a live host, a real git repo, a fake claude."""

from __future__ import annotations

import subprocess
from pathlib import Path

import clawboo_claude_code
import pytest

KEY = "sk-ant-api03-e2e-test-key-0123456789"
GITHUB_SECRET = "ghp_should_never_reach_the_agent_0123456789"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args],
        check=True, capture_output=True, text=True,
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "README.md").write_text("hello\n")
    git(path, "add", "README.md")
    git(path, "commit", "-q", "-m", "init")
    return path


@pytest.fixture
def server(clawboo_host_factory, clawboo_env):
    env = dict(clawboo_env, GITHUB_TOKEN=GITHUB_SECRET, CLAWBOO_TEST_MARKER="kept")
    return clawboo_host_factory(plugins=[("claude-code", clawboo_claude_code)], env=env)


@pytest.fixture
def client(server):
    with server.client() as c:
        yield c


def new_task(client, title: str, description: str) -> dict:
    response = client.post("/api/board/tasks", json={"title": title, "description": description})
    assert response.status_code == 201, response.text
    return response.json()["task"]


def connect(client) -> None:
    response = client.post("/api/runtimes/claude-code/connect", json={"apiKey": KEY})
    assert response.json() == {"ok": True, "connectionState": "ready"}, response.text


def test_a_task_runs_end_to_end_with_mcp(client, server, fake_claude, repo, clawboo_env,
                                         clawboo_data_dir):
    fake_claude.install("plain")  # installed before connect: "ready" needs the binary
    connect(client)
    task = new_task(client, "Comment on the task", "Use add_comment, then say DONE-123.")
    # The fake replays the real MCP transcript and really calls add_comment on this task
    # through the MCP config the plugin wrote.
    fake_claude.install("mcp", task_id=task["id"], real_mcp_task=task["id"])

    response = client.post("/api/runtimes/claude-code/run",
                           json={"taskId": task["id"], "repoPath": str(repo)})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["doneReason"], body["status"], body["summary"]) == ("success", "done", "DONE-123")
    assert body["costUsd"] == pytest.approx(0.00047) and body["costEstimated"] is False
    assert body["usage"] == {"inputTokens": 24, "outputTokens": 14}
    assert body["usedWorktree"] is True and body["degradations"] == []

    [call] = fake_claude.calls()
    # The prompt is one argv element, right after -p.
    prompt = call["argv"][call["argv"].index("-p") + 1]
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
    comments = client.get(f"/api/board/tasks/{task['id']}").json()["comments"]
    assert "hello from the fake claude" in [c["body"] for c in comments]
    assert comments[-1]["body"] == "DONE-123"
    # Nothing in the worktree, the repo or the user's HOME.
    worktree = Path(call["cwd"])
    assert worktree != repo and not worktree.is_relative_to(repo)
    listing = call["cwd_listing"]
    assert "README.md" in listing
    assert not [n for n in listing if "mcp" in n.lower() or n.startswith(".claude")], listing
    assert git(repo, "status", "--porcelain") == ""
    assert list(user_home.rglob("*")) == []
    assert not (user_home / ".claude.json").exists()
    assert token not in response.text and KEY not in response.text


def test_a_rejected_key_fails_the_run_and_releases_the_task(client, fake_claude, repo):
    fake_claude.install("auth401")
    connect(client)
    task = new_task(client, "Say hi", "Reply with exactly PLAIN-OK and nothing else.")
    body = client.post("/api/runtimes/claude-code/run",
                       json={"taskId": task["id"], "repoPath": str(repo)}).json()
    assert (body["doneReason"], body["status"]) == ("error", "todo")
    assert body["summary"] == "Invalid API key · Fix external API key"
    detail = client.get(f"/api/board/tasks/{task['id']}").json()
    assert detail["executions"][0]["status"] == "failed"
    assert detail["comments"][-1]["body"] == "Run error: Invalid API key · Fix external API key"


def test_max_turns_over_http(client, fake_claude, repo):
    fake_claude.install("maxturns")
    connect(client)
    task = new_task(client, "Loop", "Use add_comment, then say DONE-123.")
    body = client.post("/api/runtimes/claude-code/run",
                       json={"taskId": task["id"], "repoPath": str(repo)}).json()
    assert (body["doneReason"], body["status"]) == ("max_turns", "todo")
    assert body["summary"] == "Reached maximum number of turns (1)"


def test_without_claude_the_run_fails_cleanly(client, repo, fake_claude):
    task = new_task(client, "Say hi", "hi")
    body = client.post("/api/runtimes/claude-code/run",
                       json={"taskId": task["id"], "repoPath": str(repo)}).json()
    assert (body["doneReason"], body["status"]) == ("error", "todo")
    assert body["summary"] == "claude not found on PATH or user-install dirs"
    assert fake_claude.calls() == []
