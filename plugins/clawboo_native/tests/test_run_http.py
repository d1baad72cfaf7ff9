"""POST /api/runtimes/clawboo-native/run end to end over HTTP: a live host, a real git repo, a
fake provider on loopback and the host's real MCP tasks server."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import clawboo_native
import pytest

from clawboo_host.testing.helpers import (
    connect,
    create_task,
    git,
    run_streaming,
    run_task,
    task_detail,
)

RUNTIME = "clawboo-native"
KEY = "sk-ant-" + "e2e-secret-key-7f3a9c"  # split: not a committed key
TASK = ("Add a greeting", "Create hello.txt saying hi.")


@pytest.fixture
def server_env(clawboo_env, provider):
    return dict(
        clawboo_env,
        ANTHROPIC_BASE_URL=provider.url,
        OPENAI_BASE_URL=provider.url + "/v1",
        GITHUB_TOKEN="ghp_unrelated_operator_secret",
        CLAWBOO_NATIVE_RETRIES="0",
    )


@pytest.fixture
def server(clawboo_host_factory, server_env):
    return clawboo_host_factory(plugins=[(RUNTIME, clawboo_native)], env=server_env)


@pytest.fixture
def client(server):
    with server.client() as c:
        yield c


def connect_key(client, key=KEY, **body) -> None:
    """Connect ``key`` (asserts 200), and check the answer does not echo it."""
    assert key not in json.dumps(connect(client, RUNTIME, key, **body))


def files_containing(root: Path, needle: bytes) -> list[Path]:
    return [
        p
        for p in root.rglob("*")
        if p.is_file() and not p.is_symlink() and needle in p.read_bytes()
    ]


def test_a_two_turn_run_commits_the_file_on_the_task_branch(
    client, provider, git_repo, wire, tmp_path, clawboo_data_dir
):
    connect_key(client)
    task = create_task(client, *TASK)
    provider.respond(
        "POST",
        "/v1/messages",
        200,
        wire.anthropic(
            "I'll create the file.",
            [("toolu_1", "write_file", {"path": "hello.txt", "content": "hi\n"})],
        ),
        times=1,
    )
    provider.respond(
        "POST",
        "/v1/messages",
        200,
        wire.anthropic("Created hello.txt containing a greeting."),
        times=1,
    )

    frames = run_streaming(client, RUNTIME, task["id"], repoPath=str(git_repo))
    result = frames[-1]
    assert result["type"] == "result"
    assert (result["doneReason"], result["status"]) == ("success", "in_review")
    assert result["summary"] == "Created hello.txt containing a greeting."
    assert result["usage"] == {"inputTokens": 200, "outputTokens": 40}
    assert result["costUsd"] == pytest.approx(0.0012)  # claude-sonnet-4-6, priced by the host
    assert result["costEstimated"] is True
    types = [f["type"] for f in frames]
    assert types == [
        "status",  # phase "started", with the execution id
        "cost",
        "text-delta",
        "tool-call",
        "tool-result",
        "cost",
        "text-delta",
        "result",
    ]
    assert frames[4]["output"] == "wrote hello.txt" and frames[4]["isError"] is False

    branch = f"clawboo/task-{task['id']}"
    assert git(git_repo, "show", f"{branch}:hello.txt") == "hi"
    assert git(git_repo, "show", "main:README.md") == "hello"
    assert "hello.txt" not in git(git_repo, "ls-tree", "--name-only", "main")
    board = task_detail(client, task["id"])
    assert board["task"]["status"] == "in_review"
    assert board["comments"][-1]["body"] == "Created hello.txt containing a greeting."

    # the prompt went as the user message; the key only ever travelled as a header
    first = json.loads(provider.requests[0].body)
    assert first["messages"][0]["content"][0]["text"].startswith("# Task: Add a greeting")
    for request in provider.requests:
        assert request.headers["x-api-key"] == KEY
        assert KEY.encode() not in request.body
        assert b"ghp_unrelated" not in request.body
    assert KEY not in json.dumps(frames) and KEY not in json.dumps(board)
    assert files_containing(tmp_path, KEY.encode()) == []  # no file anywhere holds it


def test_a_board_tool_call_goes_through_the_real_mcp_server(client, provider, git_repo, wire):
    connect_key(client)
    task = create_task(client, *TASK)
    provider.respond(
        "POST",
        "/v1/messages",
        200,
        wire.anthropic(
            "",
            [
                (
                    "toolu_1",
                    "add_comment",
                    {"taskId": task["id"], "body": "Started: reading the repo."},
                ),
                ("toolu_2", "get_task", {"taskId": "not-a-task"}),
            ],
        ),
        times=1,
    )
    provider.respond("POST", "/v1/messages", 200, wire.anthropic("Commented on the task."), times=1)

    frames = run_streaming(client, RUNTIME, task["id"], repoPath=str(git_repo))
    assert frames[-1]["doneReason"] == "success" and frames[-1]["status"] == "done"
    results = [f for f in frames if f["type"] == "tool-result"]
    assert results[0]["isError"] is False
    assert json.loads(results[0]["output"])["comment"]["body"] == "Started: reading the repo."
    assert (results[1]["output"], results[1]["isError"]) == ("not found: not-a-task", True)

    comments = task_detail(client, task["id"])["comments"]
    posted = [c for c in comments if c["body"] == "Started: reading the repo."]
    assert len(posted) == 1 and posted[0]["authorType"] == "agent"
    assert posted[0]["authorAgentId"] == RUNTIME

    first = json.loads(provider.requests[0].body)
    names = [t["name"] for t in first["tools"]]
    assert names == sorted(names)
    assert {
        "list_tasks",
        "get_task",
        "create_subtask",
        "add_comment",
        "update_task_status",
        "read_file",
        "write_file",
        "list_files",
    } <= set(names)
    assert task["id"] in first["system"]


def test_a_bad_key_fails_the_run_and_releases_the_task(client, provider, git_repo):
    connect_key(client, "sk-ant-revoked-0001")
    task = create_task(client, *TASK)
    provider.respond(
        "POST",
        "/v1/messages",
        401,
        {
            "type": "error",
            "error": {"type": "authentication_error", "message": "invalid x-api-key"},
        },
    )
    body = run_task(client, RUNTIME, task["id"], repoPath=str(git_repo))
    assert (body["doneReason"], body["status"]) == ("error", "todo")
    assert body["summary"] == "anthropic: 401 Invalid API key."
    assert len(provider.requests) == 1
    assert task_detail(client, task["id"])["comments"][-1]["body"] == (
        "Run error: anthropic: 401 Invalid API key."
    )


def test_no_key_connected(client, provider, git_repo):
    task = create_task(client, *TASK)
    body = run_task(client, RUNTIME, task["id"], repoPath=str(git_repo))
    assert body["doneReason"] == "error"
    assert body["summary"].startswith("no provider key connected (ANTHROPIC_API_KEY or ")
    assert provider.requests == []


def test_max_turns_over_http(clawboo_host_factory, server_env, provider, git_repo, wire):
    env = dict(server_env, CLAWBOO_NATIVE_MAX_TURNS="2")
    with clawboo_host_factory(plugins=[(RUNTIME, clawboo_native)], env=env).client() as client:
        connect_key(client)
        task = create_task(client, *TASK)
        provider.respond(
            "POST", "/v1/messages", 200, wire.anthropic("Still looking.", [("t", "list_files", {})])
        )
        body = run_task(client, RUNTIME, task["id"], repoPath=str(git_repo))
    assert (body["doneReason"], body["status"], body["summary"]) == (
        "max_turns",
        "todo",
        "Still looking.",
    )
    assert len(provider.requests) == 2


def test_the_openai_path_with_a_model_override(client, provider, git_repo, wire):
    connect_key(client, "sk-openai-e2e-0001", provider="openai")
    task = create_task(client, *TASK)
    provider.respond("POST", "/v1/chat/completions", 200, wire.openai("Nothing to change."))
    body = run_task(client, RUNTIME, task["id"], repoPath=str(git_repo), model="gpt-4o-mini")
    assert (body["doneReason"], body["status"]) == ("success", "done")
    request = provider.requests[0]
    assert request.headers["authorization"] == "Bearer sk-openai-e2e-0001"
    assert json.loads(request.body)["model"] == "gpt-4o-mini"


def test_abort_route_cancels_the_call_in_flight(server, client, provider, git_repo, wire):
    connect_key(client)
    task = create_task(client, *TASK)
    provider.respond("POST", "/v1/messages", 200, wire.anthropic("too late"), delay=60)
    out: dict = {}

    def target():
        with server.client() as c:
            out["body"] = run_task(c, RUNTIME, task["id"], repoPath=str(git_repo))

    thread = threading.Thread(target=target)
    thread.start()
    deadline = time.monotonic() + 30
    while not provider.requests and time.monotonic() < deadline:
        time.sleep(0.02)
    assert provider.requests, "the run never called the provider"
    exec_id = task_detail(client, task["id"])["executions"][0]["id"]
    assert client.post(f"/api/executions/{exec_id}/abort").json() == {"ok": True, "execId": exec_id}
    thread.join(30)
    body = out["body"]
    assert (body["doneReason"], body["status"]) == ("aborted", "todo")
    # the plugin ended the run itself (the host's own fallback would have no summary)
    assert body["summary"] == "aborted (aborted by request) before the model finished"
    assert task_detail(client, task["id"])["executions"][0]["status"] == "cancelled"
    assert len(provider.requests) == 1
