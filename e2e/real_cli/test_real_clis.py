"""The contract with the real CLIs: each one driven through ``POST /api/runtimes/:id/run``.

For every CLI runtime: a plain answer ends ``done`` with exactly that summary; the model
calls the host's ``add_comment`` and the CLI's own MCP client lands the comment on the board
with the run's token; a 401 from the model ends ``error`` quickly with the task back in
``todo``; a client that hangs up mid-turn leaves no CLI process and the task ``todo``; and
none of it writes the user's own config files. When a pinned CLI changes its flags, its
output or its config format, this suite is what turns CI red.
"""

from __future__ import annotations

import json
import socket
import time

import psutil
import pytest
from conftest import (
    CLAUDE_GATEWAY_TOKEN,
    GATEWAY_KEY,
    GEMINI_KEY,
    HERMES_DOTENV_KEY,
    snapshot,
)
from scripted_model import MCP_ANSWER, MCP_COMMENT, PLAIN_ANSWER

from clawboo_host.testing.helpers import create_task, task_detail, wait_until

#: Every CLI runtime under contract (the id the host serves it under).
RUNTIMES = ["claude-code", "codex", "hermes", "gemini-cli"]
SECRETS = (CLAUDE_GATEWAY_TOKEN, GATEWAY_KEY, GEMINI_KEY, HERMES_DOTENV_KEY)
#: Generous bounds on waits (no timing assertion: a bound only keeps a hung CLI from hanging CI).
RUN_LIMIT_S = 150


def scenario_task(client, runtime: str, scenario: str) -> dict:
    """A task whose description tells the scripted model what to do (and which task it is)."""
    task = create_task(client, f"{scenario} on {runtime}", "placeholder")
    description = f"SCENARIO:{scenario} TASK:{task['id']} Follow the instructions."
    response = client.patch(f"/api/board/tasks/{task['id']}", json={"description": description})
    assert response.status_code == 200, response.text
    return response.json()["task"]


def run(client, runtime: str, task: dict, repo) -> dict:
    response = client.post(
        f"/api/runtimes/{runtime}/run",
        json={"taskId": task["id"], "repoPath": str(repo)},
        timeout=RUN_LIMIT_S,
    )
    assert response.status_code == 200, response.text
    return response.json()


def cli_processes(cli_bin) -> list[psutil.Process]:
    """Live processes started from the CLI cache (node wrappers, native binaries, venvs)."""
    cache = str(cli_bin.parent)
    found = []
    for proc in psutil.process_iter(["cmdline", "exe"]):
        try:
            text = " ".join(proc.info["cmdline"] or []) + " " + (proc.info["exe"] or "")
        except (psutil.Error, TypeError):
            continue
        if cache in text and proc.status() != psutil.STATUS_ZOMBIE:
            found.append(proc)
    return found


@pytest.fixture(autouse=True)
def users_files_stay_untouched(user_home, user_files):
    yield
    assert snapshot(user_home) == user_files, "a run wrote the user's own config files"


@pytest.fixture
def connected(client, runtime):
    """Every runtime is ready through the user's own setup alone — nothing in our vault."""
    rows = {r["id"]: r for r in client.get("/api/runtimes").json()["runtimes"]}
    row = rows[runtime]
    assert row["installed"] is True, row
    assert row["connectionState"] == "ready", row
    assert row["hasVaultCredential"] is False
    return row


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_plain_answer_is_done_with_exactly_that_summary(client, model, repo, runtime, connected):
    task = scenario_task(client, runtime, "plain")
    body = run(client, runtime, task, repo)
    assert (body["doneReason"], body["status"], body["summary"]) == (
        "success",
        "done",
        PLAIN_ANSWER,
    ), body
    assert model.for_scenario("plain"), "the CLI never reached the scripted model"
    detail = task_detail(client, task["id"])
    assert detail["task"]["status"] == "done"
    assert [e["status"] for e in detail["executions"]] == ["succeeded"]
    assert not any(secret in str(detail) + str(body) for secret in SECRETS)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_the_model_calls_add_comment_through_the_clis_own_mcp_client(
    client, model, repo, runtime, connected
):
    before = len(model.requests)
    task = scenario_task(client, runtime, "mcp")
    body = run(client, runtime, task, repo)
    assert (body["doneReason"], body["status"], body["summary"]) == (
        "success",
        "done",
        MCP_ANSWER,
    ), body
    mine = [r for r in model.requests[before:] if task["id"] in str(r.body)]
    offered = {n for r in mine for n in _names(r)}
    assert any(n.endswith("add_comment") for n in offered), offered
    # the user's own MCP server was not offered: the run's tools are the host's
    assert not any("my-own-server" in n or "my_own_server" in n for n in offered), offered
    comments = task_detail(client, task["id"])["comments"]
    assert any(c["body"] == MCP_COMMENT and c["authorType"] == "agent" for c in comments), comments


def _names(recorded) -> list[str]:
    from scripted_model import _tool_names

    return _tool_names(recorded.protocol, recorded.body)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_rejected_key_ends_in_error_and_releases_the_task(client, repo, runtime, connected):
    task = scenario_task(client, runtime, "auth401")
    started = time.monotonic()
    body = run(client, runtime, task, repo)
    elapsed = time.monotonic() - started
    assert (body["doneReason"], body["status"]) == ("error", "todo"), body
    assert body["summary"], body
    detail = task_detail(client, task["id"])
    assert detail["task"]["status"] == "todo"
    assert [e["status"] for e in detail["executions"]] == ["failed"]
    print(f"{runtime}: 401 reported after {elapsed:.1f}s: {body['summary'][:200]}")


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_client_hang_up_mid_turn_leaves_no_cli_process(
    client, host, model, repo, runtime, cli_bin, connected
):
    task = scenario_task(client, runtime, "hang")
    model.hung.clear()
    # A raw socket, so the hang-up is exactly a closed connection mid-response.
    port = int(host["url"].rsplit(":", 1)[1])
    payload = json.dumps({"taskId": task["id"], "repoPath": str(repo)}).encode()
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(
        (
            f"POST /api/runtimes/{runtime}/run HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Content-Type: application/json\r\nAccept: text/event-stream\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n"
        ).encode()
        + payload
    )
    try:
        wait_until(model.hung.is_set, RUN_LIMIT_S, what=f"{runtime} to reach the model mid-turn")
        assert cli_processes(cli_bin), "no CLI process while the model is mid-turn"
    finally:
        sock.close()

    def released():
        detail = task_detail(client, task["id"])
        return detail["task"]["status"] == "todo" and detail

    detail = wait_until(released, 60, what="the task to go back to todo")
    assert [e["status"] for e in detail["executions"]] == ["cancelled"]
    wait_until(lambda: not cli_processes(cli_bin), 30, what=f"every {runtime} process to be gone")
