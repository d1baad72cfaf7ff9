"""A run on a CLI runtime whose binary is missing is refused before the claim (422
``not_installed``, the board untouched); a found binary is resolved once and handed to the
plugin as ``ctx.bin_path``."""

from __future__ import annotations

import pytest

from clawboo_host.plugin_api import (
    Capabilities,
    Done,
    InstallSpec,
    RuntimeDescriptor,
    TextDelta,
    hookimpl,
)
from clawboo_host.testing.helpers import create_task, task_detail


class Acme:
    def __init__(self) -> None:
        self.contexts: list = []

    @hookimpl
    def clawboo_runtime_descriptor(self):
        return RuntimeDescriptor(
            id="acme-agent",
            name="Acme Agent",
            auth_kind="none",
            docs_url="https://example.com",
            cli_binary="acme",
            install=InstallSpec(method="pip", package="acme-agent<1"),
            capabilities=Capabilities(
                streaming=True, mcp=False, worktrees=False, resume=False, tool_approval=False
            ),
        )

    @hookimpl
    async def clawboo_runtime_run(self, ctx):
        self.contexts.append(ctx)
        yield TextDelta(f"would spawn {ctx.bin_path}")
        yield Done("success", summary="ran")


@pytest.fixture
def acme():
    return Acme()


@pytest.fixture
def server(clawboo_host_factory, acme):
    return clawboo_host_factory(plugins=[("acme-agent", acme)])


def test_a_missing_cli_is_refused_before_the_claim(server, acme):
    with server.client() as client:
        task = create_task(client, "Try", "hi")
        response = client.post(
            "/api/runtimes/acme-agent/run", json={"taskId": task["id"], "kind": "research"}
        )
        assert response.status_code == 422, response.text
        assert response.json() == {
            "ok": False,
            "reason": "not_installed",
            "error": "acme not found on PATH or user-install dirs",
        }
        detail = task_detail(client, task["id"])
    assert detail["task"]["status"] == "todo" and detail["task"]["assigneeAgentId"] is None
    assert detail["executions"] == [] and detail["comments"] == []
    assert acme.contexts == []  # the plugin never ran


def test_the_resolved_cli_rides_on_the_run_context(server, acme, fake_executables):
    path = fake_executables.add("acme", "exit 0", shebang="#!/bin/sh")
    with server.client() as client:
        task = create_task(client, "Try", "hi")
        response = client.post(
            "/api/runtimes/acme-agent/run", json={"taskId": task["id"], "kind": "research"}
        )
        assert response.status_code == 200, response.text
    [ctx] = acme.contexts
    assert ctx.bin_path == str(path)
    with pytest.raises(AttributeError):  # frozen: what the host resolved stays resolved
        ctx.bin_path = "/elsewhere/acme"
