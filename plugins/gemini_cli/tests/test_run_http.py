"""POST /api/runtimes/gemini-cli/run end to end: a live host, a real git repo, a fake gemini."""

from __future__ import annotations

from pathlib import Path

import clawboo_gemini_cli
import pytest

from clawboo_host.testing.helpers import connect, create_task, git, run_task, task_detail

RUNTIME = "gemini-cli"
KEY = "gemini-e2e-test-key-0123456789"
GITHUB_SECRET = "ghp_should_never_reach_the_agent_0123456789"
OTHER_KEY = "sk-ant-" + "not-for-gemini-0123456789"


@pytest.fixture
def client(clawboo_host_factory, clawboo_env):
    env = dict(
        clawboo_env,
        GITHUB_TOKEN=GITHUB_SECRET,
        ANTHROPIC_API_KEY=OTHER_KEY,
        GOOGLE_GEMINI_BASE_URL="http://gateway.internal:8080",
    )
    server = clawboo_host_factory(plugins=[(RUNTIME, clawboo_gemini_cli)], env=env)
    with server.client() as c:
        yield c


def test_a_task_runs_with_the_users_gateway_its_key_only_and_priced_tokens(
    client, fake_gemini, git_repo, clawboo_env, clawboo_data_dir
):
    fake_gemini.install("plain")
    assert connect(client, RUNTIME, KEY) == {"ok": True, "connectionState": "ready"}
    task = create_task(client, "Say hi", "Reply with exactly PLAIN-OK.")
    body = run_task(client, RUNTIME, task["id"], repoPath=str(git_repo))
    assert (body["doneReason"], body["status"], body["summary"]) == (
        "success",
        "done",
        "All done: PLAIN-OK",
    )
    assert body["usage"] == {"inputTokens": 50, "outputTokens": 14}
    assert body["costEstimated"] is True and body["costUsd"] > 0  # tokens priced by the host
    assert body["degradations"] == ["resume-via-handoff (no native resume)"]

    [call] = fake_gemini.calls()
    assert call["env"]["GEMINI_API_KEY"] == KEY
    assert call["env"]["GOOGLE_GEMINI_BASE_URL"] == "http://gateway.internal:8080"
    assert "GITHUB_TOKEN" not in call["env_present"]
    assert "ANTHROPIC_API_KEY" not in call["env_present"]  # another runtime's key
    prompt = call["argv"][0].removeprefix("--prompt=")
    assert prompt.startswith("# Task: Say hi\n\nReply with exactly PLAIN-OK.")
    # the private home, with the bearer token, went with the run's scratch dir
    settings = Path(call["settings"]["path"])
    assert settings.is_relative_to(clawboo_data_dir / "runs") and not settings.exists()
    assert call["settings"]["parsed"]["mcpServers"]["clawboo-tasks"]["httpUrl"].endswith(
        "/api/mcp/tasks"
    )
    # nothing in the repo, the worktree listing or the user's HOME
    assert git(git_repo, "status", "--porcelain") == ""
    assert not [n for n in call["cwd_listing"] if n.startswith(".gemini")]
    assert list(Path(clawboo_env["HOME"]).rglob("*")) == []
    detail = task_detail(client, task["id"])
    assert detail["comments"][-1]["body"] == "All done: PLAIN-OK"
    assert KEY not in str(detail) and KEY not in str(body)


def test_a_rejected_key_fails_the_run_and_releases_the_task(client, fake_gemini, git_repo):
    fake_gemini.install("auth401")
    connect(client, RUNTIME, KEY)
    task = create_task(client, "Say hi", "hi")
    body = run_task(client, RUNTIME, task["id"], repoPath=str(git_repo))
    assert (body["doneReason"], body["status"]) == ("error", "todo")
    assert "API key not valid." in body["summary"]
    assert task_detail(client, task["id"])["executions"][0]["status"] == "failed"
