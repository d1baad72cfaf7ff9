"""Every registered runtime's keys are secrets: a third-party plugin's ``ACME_API_KEY``,
exported in the server's environment, never reaches another runtime's processes, and its
value is redacted from what a run writes (comments, summaries, MCP tool text) and logs."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from clawboo_host.plugin_api import (
    AbortSignal,
    Capabilities,
    Done,
    InstallSpec,
    RunContext,
    RuntimeDescriptor,
    hookimpl,
)
from clawboo_host.plugin_api.childenv import build_child_env
from clawboo_host.redaction import LIVE_SECRETS, RedactingFilter
from clawboo_host.testing.helpers import create_task, task_detail

ACME_SECRET = "acme-exported-secret-0001"
GATEWAY_SECRET = "gateway-exported-secret-0002"


class Acme:
    """A third-party runtime: one declared key and one its key-names hook adds."""

    @hookimpl
    def clawboo_runtime_descriptor(self):
        return RuntimeDescriptor(
            id="acme-agent",
            name="Acme Agent",
            auth_kind="api-key",
            docs_url="https://example.com",
            cli_binary="acme",
            install=InstallSpec(method="pip", package="acme-agent<1"),
            env_var="ACME_API_KEY",
            capabilities=Capabilities(
                streaming=True, mcp=False, worktrees=False, resume=False, tool_approval=False
            ),
        )

    @hookimpl
    def clawboo_runtime_key_names(self, env):
        return ("ACME_GATEWAY_TOKEN",)

    @hookimpl
    async def clawboo_runtime_run(self, ctx):
        yield Done("success", summary="acme done")


@pytest.fixture
def server(clawboo_host_factory, clawboo_env, fake_executables):
    import clawboo_codex

    fake_executables.add_recording(
        "peek",
        stdout_lines=["peeked"],
        record_env_values=["ACME_API_KEY", "ACME_GATEWAY_TOKEN", "OPENAI_API_KEY", "PATH"],
    )
    env = dict(
        clawboo_env,
        CLAWBOO_ENABLE_MOCK_RUNTIME="1",
        ACME_API_KEY=ACME_SECRET,
        ACME_GATEWAY_TOKEN=GATEWAY_SECRET,
    )
    return clawboo_host_factory(plugins=[("acme-agent", Acme()), ("codex", clawboo_codex)], env=env)


def test_a_third_party_key_never_reaches_another_runtimes_process(server, fake_executables):
    with server.client() as client:
        task = create_task(
            client,
            "Peek",
            f"!exec peek\n!ok the keys are {ACME_SECRET} and {GATEWAY_SECRET}",
        )
        body = client.post(
            "/api/runtimes/clawboo-mock/run", json={"taskId": task["id"], "kind": "research"}
        ).json()
        detail = task_detail(client, task["id"])
    [call] = fake_executables.calls("peek")
    seen = call["env_values"]
    assert seen["ACME_API_KEY"] is None and seen["ACME_GATEWAY_TOKEN"] is None
    assert seen["OPENAI_API_KEY"] is None
    assert seen["PATH"]  # the rest of the environment passes
    # ...and the values are redacted from the result and the board
    assert body["doneReason"] == "success"
    written = (body, detail["comments"], detail["executions"])  # the description is the user's
    for text in map(json.dumps, written):
        assert ACME_SECRET not in text and GATEWAY_SECRET not in text
    assert "the keys are [REDACTED] and [REDACTED]" in body["summary"]


def test_the_runtime_that_declares_a_key_still_gets_it():
    env = build_child_env(
        {"ACME_API_KEY": ACME_SECRET, "KEEP": "1"},
        {"ACME_API_KEY": ACME_SECRET},
        secret_names={"acme_api_key"},
    )
    assert env == {"ACME_API_KEY": ACME_SECRET, "KEEP": "1"}
    assert build_child_env({"ACME_API_KEY": ACME_SECRET}, secret_names={"ACME_API_KEY"}) == {}


def test_ctx_scrub_hides_every_secret_the_run_carries(tmp_path: Path):
    ctx = RunContext(
        run_id="r",
        task_id="t",
        agent_id="a",
        prompt="p",
        cwd=None,
        env={},
        home_dir=None,
        scratch_dir=tmp_path,
        abort=AbortSignal(),
        secrets=(ACME_SECRET,),
    )
    assert ctx.scrub(f"stderr: bad key {ACME_SECRET}") == "stderr: bad key [REDACTED]"


def test_the_log_filter_hides_live_runs_secrets():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "key %s", (ACME_SECRET,), None)
    LIVE_SECRETS.hold("run-log-test", (ACME_SECRET,))
    try:
        RedactingFilter(LIVE_SECRETS.all).filter(record)
    finally:
        LIVE_SECRETS.drop("run-log-test")
    assert record.getMessage() == "key [REDACTED]"
