"""The plugin boundary: every hook call goes through the registry, which bounds it in time
(sync hooks included), checks what it returns, and turns a failure into one answer — a
health row, a 502 naming the plugin, or a run that ends ``error``."""

from __future__ import annotations

import json
import threading

import pytest

from clawboo_host.plugin_api import (
    Capabilities,
    Health,
    InstallSpec,
    RuntimeDescriptor,
    hookimpl,
)
from clawboo_host.registry import PluginFailure, build_registry
from clawboo_host.testing.helpers import create_task

SECRET_TEXT = "sk-proj-leakedleakedleaked123"


def descriptor(runtime_id: str, **extra) -> RuntimeDescriptor:
    return RuntimeDescriptor(
        id=runtime_id,
        name=runtime_id.title(),
        auth_kind="api-key",
        docs_url="https://example.com",
        cli_binary="sh",
        install=InstallSpec(method="pip", package=f"{runtime_id}<1"),
        env_var="ACME_API_KEY",
        capabilities=Capabilities(
            streaming=True, mcp=False, worktrees=False, resume=False, tool_approval=False
        ),
        **extra,
    )


class Hung:
    """Sync hooks that block until the test ends (then they are released)."""

    def __init__(self, runtime_id: str) -> None:
        self.id = runtime_id
        self.release = threading.Event()

    @hookimpl
    def clawboo_runtime_descriptor(self):
        return descriptor(self.id)

    @hookimpl
    def clawboo_runtime_health(self, probe):
        self.release.wait()
        return Health(ok=True)

    @hookimpl
    def clawboo_runtime_key_names(self, env):
        self.release.wait()
        return ("NEVER_SEEN_KEY",)


class Broken:
    """Hooks that raise with a secret in their message, or return the wrong type."""

    def __init__(self, runtime_id: str, *, wrong_type: bool = False) -> None:
        self.id = runtime_id
        self.wrong_type = wrong_type

    @hookimpl
    def clawboo_runtime_descriptor(self):
        return descriptor(self.id)

    @hookimpl
    def clawboo_runtime_health(self, probe):
        if self.wrong_type:
            return "healthy"
        raise RuntimeError(f"health exploded with {SECRET_TEXT}")

    @hookimpl
    def clawboo_runtime_connect(self, request):
        if self.wrong_type:
            return {"slot": "ACME_API_KEY"}
        raise RuntimeError(f"connect exploded with {SECRET_TEXT}")

    @hookimpl
    async def clawboo_runtime_healthcheck(self, request):
        if self.wrong_type:
            return {"ok": True}
        raise RuntimeError(f"healthcheck exploded with {SECRET_TEXT}")

    @hookimpl
    def clawboo_seed_team(self, request):
        if self.wrong_type:
            return None
        raise RuntimeError(f"seed exploded with {SECRET_TEXT}")

    @hookimpl
    def clawboo_runtime_run(self, ctx):
        if self.wrong_type:
            return ["not", "a", "stream"]
        raise RuntimeError(f"run exploded with {SECRET_TEXT}")


@pytest.fixture
def hung():
    plugin = Hung("hung-agent")
    yield plugin
    plugin.release.set()


def test_a_hung_sync_health_hook_holds_neither_a_fresh_server_nor_the_list(
    clawboo_host_factory, hung
):
    server = clawboo_host_factory(plugins=[("hung-agent", hung), ("codex", _codex())])
    # The hook never returns while the test runs: without a deadline these would hang.
    with server.client(timeout=20) as client:
        for _ in range(2):  # the first answer of a fresh server, then another
            rows = {r["id"]: r for r in client.get("/api/runtimes").json()["runtimes"]}
            assert rows["hung-agent"]["health"] == {
                "ok": False,
                "message": "health check timed out",
            }
            assert rows["codex"]["id"] == "codex"  # the others still answer


def test_a_hung_key_names_hook_is_abandoned_and_adds_nothing(hung):
    registry = build_registry(env={}, plugins=[("hung-agent", hung)])
    answer: list = []
    worker = threading.Thread(target=lambda: answer.append(registry.key_names("hung-agent", {})))
    worker.start()
    worker.join(timeout=20)
    assert not worker.is_alive(), "key_names waited on a hung hook"
    assert answer == [("ACME_API_KEY",)]


@pytest.mark.parametrize("wrong_type", [False, True], ids=["raises", "wrong-type"])
def test_a_failing_hook_is_one_failure_everywhere(
    clawboo_host_factory, clawboo_data_dir, wrong_type, caplog
):
    plugin = Broken("broken-agent", wrong_type=wrong_type)
    server = clawboo_host_factory(plugins=[("broken-agent", plugin)])
    failed = {"error": "runtime plugin 'broken-agent' failed"}
    with server.client() as client:
        row = client.get("/api/runtimes").json()["runtimes"][0]
        assert row["health"]["ok"] is False
        assert SECRET_TEXT not in json.dumps(row)
        expected = "returned str, not Health" if wrong_type else "raised RuntimeError"
        assert row["health"]["message"] == f"health check {expected}"

        connect = client.post(
            "/api/runtimes/broken-agent/connect", json={"apiKey": "acme-key-123456"}
        )
        assert (connect.status_code, connect.json()) == (502, failed)
        # never stored in a guessed (default) slot
        assert not (clawboo_data_dir / "secrets" / "runtime-keys.json").exists() or (
            "ACME_API_KEY"
            not in json.loads((clawboo_data_dir / "secrets" / "runtime-keys.json").read_text())
        )

        check = client.post("/api/runtimes/broken-agent/healthcheck", json={"apiKey": "k" * 10})
        assert (check.status_code, check.json()) == (502, failed)

        seed = client.post(
            "/api/onboarding/seed-native-team", json={"provider": "openai", "model": "gpt-4o"}
        )
        assert (seed.status_code, seed.json()) == (502, failed)

        task = create_task(client, "Try it")
        run = client.post(
            "/api/runtimes/broken-agent/run", json={"taskId": task["id"], "kind": "research"}
        )
        body = run.json()
        assert (run.status_code, body["doneReason"], body["status"]) == (200, "error", "todo")
        assert SECRET_TEXT not in run.text
    if not wrong_type:  # the plugin's own text went to the log, redacted
        logged = "\n".join(r.getMessage() for r in caplog.records)
        assert "runtime plugin 'broken-agent' failed: connect raised RuntimeError" in logged


@pytest.mark.anyio
async def test_a_sync_hook_is_awaited_in_its_own_thread_and_typed():
    plugin = Broken("broken-agent", wrong_type=True)
    registry = build_registry(env={}, plugins=[("broken-agent", plugin)])
    with pytest.raises(PluginFailure) as failure:
        await registry.call("broken-agent", "clawboo_runtime_connect", request=None)
    assert failure.value.reason == "returned dict, not ConnectPlan"
    assert failure.value.public_message == "runtime plugin 'broken-agent' failed"


def _codex():
    import clawboo_codex

    return clawboo_codex


@pytest.fixture
def anyio_backend():
    return "asyncio"


def test_every_refusal_reason_the_contract_names_has_a_status():
    from typing import get_args

    from clawboo_host.api.contract import RunRefusal
    from clawboo_host.api.errors import REFUSAL_STATUS

    reasons = set(get_args(RunRefusal.model_fields["reason"].annotation))
    assert reasons == set(REFUSAL_STATUS)


class CrashesMidStream(Broken):
    @hookimpl
    async def clawboo_runtime_run(self, ctx):
        from clawboo_host.plugin_api import TextDelta

        yield TextDelta("starting")
        raise RuntimeError(f"mid-stream with {SECRET_TEXT}")


def test_a_run_that_crashes_mid_stream_is_the_same_one_failure(clawboo_host_factory):
    server = clawboo_host_factory(plugins=[("broken-agent", CrashesMidStream("broken-agent"))])
    with server.client() as client:
        task = create_task(client, "Try it")
        body = client.post(
            "/api/runtimes/broken-agent/run", json={"taskId": task["id"], "kind": "research"}
        ).json()
        comments = client.get(f"/api/board/tasks/{task['id']}").json()["comments"]
    assert (body["doneReason"], body["status"]) == ("error", "todo")
    assert body["summary"] == "runtime plugin 'broken-agent' failed: run raised RuntimeError"
    assert "mid-stream" not in json.dumps(comments)
