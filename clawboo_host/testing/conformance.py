"""The conformance suite every runtime plugin runs, by subclassing it in ten lines::

    import my_runtime
    from clawboo_host.testing.conformance import RuntimeConformanceTests

    class TestMyRuntime(RuntimeConformanceTests):
        plugin = my_runtime          # the module your entry point names
        runtime_id = "my-runtime"    # your entry-point name

Each test starts a real host on a loopback port with only your plugin loaded, in an isolated
environment (see the ``clawboo_env`` fixture), and talks to it over HTTP.
"""

from __future__ import annotations

import json
from types import ModuleType

import pytest

from ..plugin_api import HOOK_NAMES, RuntimeDescriptor
from ..registry import MOCK_RUNTIME_ID

ROW_KEYS = [
    "id",
    "participantKind",
    "capabilities",
    "health",
    "name",
    "installed",
    "binPath",
    "builtIn",
    "authKind",
    "envVar",
    "hasCredential",
    "hasVaultCredential",
    "loggedIn",
    "codexAuth",
    "installCommand",
    "docsUrl",
    "connectionState",
]
PUBLIC_KEYS = [
    "id",
    "name",
    "healthBin",
    "packageManager",
    "installCommand",
    "builtIn",
    "authKind",
    "envVar",
    "docsUrl",
    "headlessAuth",
]
FAKE_KEY = "conformance-test-key-0001"


class RuntimeConformanceTests:
    plugin: ModuleType
    runtime_id: str

    # ------------------------------------------------------------------ helpers

    @property
    def descriptor(self) -> RuntimeDescriptor:
        return self.plugin.clawboo_runtime_descriptor()

    @pytest.fixture
    def host(self, clawboo_host_factory):
        server = clawboo_host_factory(plugins=[(self.runtime_id, self.plugin)])
        with server.client() as client:
            yield client

    def row(self, client) -> dict:
        body = client.get("/api/runtimes").json()
        rows = [r for r in body["runtimes"] if r["id"] == self.runtime_id]
        assert len(rows) == 1, body
        return rows[0]

    def install_fake_cli(self, fake_executables) -> None:
        if self.descriptor.cli_binary:
            fake_executables.add(self.descriptor.cli_binary, "import sys\nsys.exit(0)\n")

    # ------------------------------------------------------------------ contract

    def test_descriptor_is_valid_and_named_after_the_entry_point(self):
        descriptor = self.descriptor
        assert isinstance(descriptor, RuntimeDescriptor)
        descriptor.validate()
        assert descriptor.id == self.runtime_id

    def test_only_known_hooks_are_implemented(self):
        marked = [
            name
            for name in dir(self.plugin)
            if name.startswith("clawboo_") and hasattr(getattr(self.plugin, name), "clawboo_impl")
        ]
        assert "clawboo_runtime_descriptor" in marked
        assert set(marked) <= set(HOOK_NAMES), set(marked) - set(HOOK_NAMES)

    def test_listed_with_every_field_in_order(self, host):
        body = host.get("/api/runtimes").json()
        row = self.row(host)
        assert list(row) == ROW_KEYS
        assert row["capabilities"] == self.descriptor.capabilities.to_json()
        assert set(row["health"]) <= {"ok", "message"}
        available = {d["id"]: d for d in body["available"]}
        if self.runtime_id == MOCK_RUNTIME_ID:  # fault injection is never advertised
            assert self.runtime_id not in available
        else:
            assert list(available[self.runtime_id]) == PUBLIC_KEYS

    def test_not_installed_until_the_cli_appears(self, host, fake_executables):
        if self.descriptor.built_in:
            assert self.row(host)["installed"] is True
            return
        row = self.row(host)
        assert row["installed"] is False and row["binPath"] is None
        assert row["connectionState"] == "not-installed"
        self.install_fake_cli(fake_executables)
        row = self.row(host)
        assert row["installed"] is True
        assert row["binPath"] == str(fake_executables.bin_dir / self.descriptor.cli_binary)
        assert row["connectionState"] != "not-installed"

    def test_connect_never_echoes_the_key(self, host, fake_executables, clawboo_data_dir):
        self.install_fake_cli(fake_executables)
        response = host.post(f"/api/runtimes/{self.runtime_id}/connect", json={"apiKey": FAKE_KEY})
        assert response.status_code == 200, response.text
        assert FAKE_KEY not in response.text
        assert response.json()["ok"] is True
        for path in clawboo_data_dir.rglob("*"):
            if path.is_file():
                assert FAKE_KEY.encode() not in path.read_bytes(), path

    def test_connect_without_a_key(self, host, fake_executables):
        self.install_fake_cli(fake_executables)
        response = host.post(f"/api/runtimes/{self.runtime_id}/connect", json={})
        kind = self.descriptor.auth_kind
        if kind == "api-key":
            assert response.status_code == 400
            assert response.json() == {"error": "apiKey is required"}
        else:
            assert response.status_code == 200
            if kind == "oauth":
                assert response.json()["loginCommand"]

    def test_disconnect_forgets_the_stored_key(self, host, fake_executables):
        self.install_fake_cli(fake_executables)
        host.post(f"/api/runtimes/{self.runtime_id}/connect", json={"apiKey": FAKE_KEY})
        response = host.post(f"/api/runtimes/{self.runtime_id}/disconnect")
        assert response.status_code == 200
        assert response.json()["ok"] is True
        assert self.row(host)["hasVaultCredential"] is False

    def test_unknown_ids_are_404_beside_this_plugin(self, host):
        for rid in ("openclaw", self.runtime_id.upper(), "no-such-runtime"):
            response = host.post(f"/api/runtimes/{rid}/connect", json={"apiKey": FAKE_KEY})
            assert response.status_code == 404
            assert response.json() == {"error": f"unknown runtime '{rid}'"}

    def test_public_descriptor_is_json(self):
        json.dumps(self.descriptor.public_json())
        json.dumps(self.descriptor.capabilities.to_json())

    # ------------------------------------------------------------------ run

    def _run_context(self, tmp_path, env: dict, abort=None):
        from ..plugin_api import AbortSignal, RunContext

        scratch = tmp_path / "scratch"
        scratch.mkdir(exist_ok=True)
        return RunContext(
            run_id="conformance-run",
            task_id="conformance-task",
            agent_id=self.runtime_id,
            prompt="# Task: conformance\n\nSay hello.",
            cwd=None,
            env=env,
            home_dir=None,
            scratch_dir=scratch,
            abort=abort or AbortSignal(),
        )

    async def _collect(self, ctx) -> list:
        events = self.plugin.clawboo_runtime_run(ctx)
        try:
            return [event async for event in events]
        finally:
            await events.aclose()

    def _assert_one_done_last(self, events) -> None:
        from ..plugin_api import Done

        dones = [e for e in events if isinstance(e, Done)]
        assert len(dones) == 1 and events[-1] is dones[0], events
        for event in events:
            json.dumps(event.to_json())

    @pytest.mark.anyio
    async def test_a_run_with_nothing_to_run_ends_with_one_done(self, tmp_path, clawboo_env):
        """No CLI on PATH and no provider key: the run must end cleanly, not hang or raise."""
        if not hasattr(self.plugin, "clawboo_runtime_run"):
            pytest.skip("no run hook")
        events = await self._collect(self._run_context(tmp_path, dict(clawboo_env)))
        self._assert_one_done_last(events)
        assert events[-1].reason in ("error", "success")

    @pytest.mark.anyio
    async def test_a_run_aborted_before_it_starts_ends_with_one_done(self, tmp_path, clawboo_env):
        from ..plugin_api import AbortSignal

        if not hasattr(self.plugin, "clawboo_runtime_run"):
            pytest.skip("no run hook")
        abort = AbortSignal()
        abort.set("conformance")
        events = await self._collect(self._run_context(tmp_path, dict(clawboo_env), abort))
        self._assert_one_done_last(events)
        assert events[-1].reason in ("aborted", "error")
