"""POST /api/runtimes/codex/run end to end: a live host, a real git repo, a fake codex."""

from __future__ import annotations

import json
from pathlib import Path

import clawboo_codex
import pytest

from clawboo_host.testing.helpers import create_task, git, run_task, task_detail

RUNTIME = "codex"
GITHUB_SECRET = "ghp_should_never_reach_the_agent_0123456789"
AMBIENT_OPENAI = "sk-ambient-openai-key-not-granted-to-codex"
AUTH = {"tokens": {"access_token": "at-user-chatgpt-login", "refresh_token": "rt-user"}}


@pytest.fixture
def server(clawboo_host_factory, clawboo_env):
    env = dict(
        clawboo_env,
        GITHUB_TOKEN=GITHUB_SECRET,
        OPENAI_API_KEY=AMBIENT_OPENAI,
        CLAWBOO_TEST_MARKER="kept",
    )
    return clawboo_host_factory(plugins=[(RUNTIME, clawboo_codex)], env=env)


@pytest.fixture
def client(server):
    with server.client() as c:
        yield c


@pytest.fixture
def user_login(clawboo_env) -> Path:
    """The user's ``codex login``: ``$CODEX_HOME/auth.json`` of the server env."""
    home = Path(clawboo_env["CODEX_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    path = home / "auth.json"
    path.write_text(json.dumps(AUTH))
    path.chmod(0o600)
    return path


def test_a_task_runs_end_to_end_with_mcp(
    client, server, fake_codex, git_repo, clawboo_env, clawboo_data_dir, user_login
):
    task = create_task(client, "Comment on the task", "Use add_comment, then say DONE-123.")
    # The fake replays the real MCP transcript and really calls add_comment on this task
    # through the config.toml entry and the token env var the plugin gave it.
    fake_codex.install("mcp", task_id=task["id"], real_mcp_task=task["id"])

    response = client.post(
        f"/api/runtimes/{RUNTIME}/run", json={"taskId": task["id"], "repoPath": str(git_repo)}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["doneReason"], body["status"], body["summary"]) == ("success", "done", "DONE-123")
    assert body["usage"] == {"inputTokens": 36, "outputTokens": 21}
    assert body["costEstimated"] is True and body["costUsd"] > 0
    assert body["usedWorktree"] is True and body["degradations"] == []

    [call] = fake_codex.calls()
    argv = call["argv"]
    assert argv[:6] == [
        "exec",
        "--json",
        "--dangerously-bypass-approvals-and-sandbox",
        "--skip-git-repo-check",
        "-C",
        call["cwd"],
    ]
    # The prompt is one argv element, the last, after "--".
    assert argv[-2] == "--"
    prompt = argv[-1]
    assert prompt.startswith("# Task: Comment on the task\n\nUse add_comment, then say DONE-123.")
    assert "clawboo-tasks" in prompt
    assert call["stdin_devnull"] is True
    # Env: codex gets no vault key; neither the ambient provider key nor unrelated secrets.
    assert "GITHUB_TOKEN" not in call["env_present"]
    assert "OPENAI_API_KEY" not in call["env_present"]
    assert call["env"]["CLAWBOO_TEST_MARKER"] == "kept"
    assert call["env"]["HOME"] == clawboo_env["HOME"]
    identity_home = clawboo_data_dir / "runtimes" / "codex"
    codex_home = Path(call["env"]["CODEX_HOME"])
    assert codex_home.parent == identity_home and codex_home.is_dir()
    assert oct(codex_home.stat().st_mode & 0o777) == "0o700"
    # The user's login was seeded into the identity home.
    assert call["auth"]["parsed"] == AUTH and call["auth"]["mode"] == "0o600"
    # config.toml: the host's tasks server, token by env var name only.
    server_cfg = call["config"]["parsed"]["mcp_servers"]["clawboo-tasks"]
    assert server_cfg == {
        "url": f"http://127.0.0.1:{server.port}/api/mcp/tasks",
        "bearer_token_env_var": "CLAWBOO_MCP_TOKEN",
    }
    token = call["env"]["CLAWBOO_MCP_TOKEN"]
    assert token and len(token) >= 16 and token not in call["config"]["text"]
    assert call["config"]["mode"] == "0o600"
    assert Path(call["config"]["path"]).parent == codex_home
    # The token worked: the real add_comment landed on the task.
    assert call["mcp_results"] and call["mcp_results"][0]["is_error"] is False
    comments = task_detail(client, task["id"])["comments"]
    assert "hello from the fake codex" in [c["body"] for c in comments]
    assert comments[-1]["body"] == "DONE-123"
    # Nothing in the worktree, the repo, the user's HOME or the user's CODEX_HOME.
    worktree = Path(call["cwd"])
    assert worktree != git_repo and not worktree.is_relative_to(git_repo)
    listing = call["cwd_listing"]
    assert "README.md" in listing
    assert not [
        n for n in listing if n in ("config.toml", "auth.json", ".codex") or "mcp" in n.lower()
    ], listing
    assert git(git_repo, "status", "--porcelain") == ""
    assert list(Path(clawboo_env["HOME"]).rglob("*")) == []
    assert sorted(p.name for p in Path(clawboo_env["CODEX_HOME"]).iterdir()) == ["auth.json"]
    assert json.loads(user_login.read_text()) == AUTH
    assert token not in response.text


def test_without_a_codex_login_the_run_fails_and_releases_the_task(client, fake_codex, git_repo):
    fake_codex.install("plain")
    task = create_task(client, "Say hi", "Reply with exactly PLAIN-OK and nothing else.")
    body = run_task(client, RUNTIME, task["id"], repoPath=str(git_repo))
    assert (body["doneReason"], body["status"]) == ("error", "todo")
    assert body["summary"] == "no Codex credentials: run `codex login` on this machine"
    assert fake_codex.calls() == []


def test_a_rejected_login_fails_the_run(client, fake_codex, git_repo, user_login):
    fake_codex.install("auth401")
    task = create_task(client, "Say hi", "Reply with exactly PLAIN-OK and nothing else.")
    body = run_task(client, RUNTIME, task["id"], repoPath=str(git_repo))
    assert (body["doneReason"], body["status"]) == ("error", "todo")
    assert body["summary"].startswith("unexpected status 401 Unauthorized")
    detail = task_detail(client, task["id"])
    assert detail["executions"][0]["status"] == "failed"


GATEWAY = """\
model = "gw-model"
model_provider = "gateway"

[model_providers.gateway]
name = "Company gateway"
base_url = "https://gateway.example/v1"
env_key = "GATEWAY_KEY"
"""


@pytest.fixture
def gateway_config(clawboo_env) -> Path:
    """The user's own ``config.toml`` selecting a gateway whose key is in ``GATEWAY_KEY``."""
    home = Path(clawboo_env["CODEX_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    path = home / "config.toml"
    path.write_text(GATEWAY)
    return path


def codex_row(client) -> dict:
    rows = client.get("/api/runtimes").json()["runtimes"]
    return next(r for r in rows if r["id"] == RUNTIME)


def test_a_gateway_key_in_the_server_env_makes_codex_ready_and_reaches_the_run(
    clawboo_host_factory, clawboo_env, fake_codex, git_repo, gateway_config
):
    fake_codex.install("plain")
    fake_codex.fakes.add_recording("codex", stdout_lines=["Not logged in"])  # no codex login
    server = clawboo_host_factory(
        plugins=[(RUNTIME, clawboo_codex)], env=dict(clawboo_env, GATEWAY_KEY="gw-env-key-123")
    )
    with server.client() as client:
        row = codex_row(client)
        assert (row["connectionState"], row["hasCredential"]) == ("ready", True)
        fake_codex.install("plain")
        task = create_task(client, "Say hi", "Reply with exactly PLAIN-OK and nothing else.")
        body = run_task(client, RUNTIME, task["id"], repoPath=str(git_repo))
    assert (body["doneReason"], body["status"]) == ("success", "done")
    [call] = [c for c in fake_codex.calls() if c["argv"][:1] == ["exec"]]
    assert call["env"]["GATEWAY_KEY"] == "gw-env-key-123"
    assert call["config"]["parsed"]["model_provider"] == "gateway"
    assert "gw-env-key-123" not in json.dumps(body)


def test_connect_stores_a_key_under_the_gateways_env_key_and_runs_are_granted_it(
    client, fake_codex, git_repo, gateway_config, clawboo_data_dir
):
    fake_codex.fakes.add_recording("codex", stdout_lines=["Not logged in"])
    assert codex_row(client)["connectionState"] == "needs-login"
    response = client.post(f"/api/runtimes/{RUNTIME}/connect", json={"apiKey": "gw-vault-key-456"})
    assert response.status_code == 200, response.text
    assert response.json() == {"ok": True, "connectionState": "ready"}
    assert codex_row(client)["hasVaultCredential"] is True

    fake_codex.install("plain")
    task = create_task(client, "Say hi", "Reply with exactly PLAIN-OK and nothing else.")
    body = run_task(client, RUNTIME, task["id"], repoPath=str(git_repo))
    assert (body["doneReason"], body["status"]) == ("success", "done")
    [call] = [c for c in fake_codex.calls() if c["argv"][:1] == ["exec"]]
    assert call["env"]["GATEWAY_KEY"] == "gw-vault-key-456"

    # disconnect wipes that slot too
    client.post(f"/api/runtimes/{RUNTIME}/disconnect")
    fake_codex.fakes.add_recording("codex", stdout_lines=["Not logged in"])
    row = codex_row(client)
    assert (row["connectionState"], row["hasVaultCredential"]) == ("needs-login", False)


def test_without_a_gateway_connect_still_answers_the_login_command(client, fake_codex):
    fake_codex.fakes.add_recording("codex", stdout_lines=["Not logged in"])
    body = client.post(f"/api/runtimes/{RUNTIME}/connect", json={}).json()
    assert body["loginCommand"] == "codex login"
