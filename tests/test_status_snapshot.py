"""``GET /api/runtimes`` from the warm status snapshot: served from memory while nothing it
depends on changed, recomputed at once when the host, the vault or a ``PATH`` directory
changes, and refreshed in the background once the auth-probe TTL has passed."""

from __future__ import annotations

import dataclasses
import types

import pytest

from clawboo_host.config import HostConfig
from clawboo_host.plugin_api import Health, hookimpl
from clawboo_host.testing import mock_runtime
from clawboo_host.testing.helpers import wait_until
from clawboo_host.vault import Vault

CODEX_LOGGED_OUT = "import sys\nprint('Not logged in')\n"


def probing_plugin(state: dict) -> types.ModuleType:
    """A runtime whose health hook counts its calls and answers ``state["message"]``."""
    module = types.ModuleType("probing_runtime")
    descriptor = dataclasses.replace(mock_runtime.DESCRIPTOR, id="probing", name="Probing")

    @hookimpl
    def clawboo_runtime_descriptor():
        return descriptor

    @hookimpl
    def clawboo_runtime_health():
        state["calls"] += 1
        return Health(ok=False, message=state["message"])

    module.clawboo_runtime_descriptor = clawboo_runtime_descriptor
    module.clawboo_runtime_health = clawboo_runtime_health
    return module


def row(client, rid: str) -> dict:
    return next(r for r in client.get("/api/runtimes").json()["runtimes"] if r["id"] == rid)


@pytest.fixture
def probing(clawboo_host_factory, clawboo_env):
    def start(ttl: str):
        state = {"calls": 0, "message": "first"}
        env = dict(clawboo_env, CLAWBOO_STATUS_TTL_S=ttl)
        server = clawboo_host_factory(plugins=[("probing", probing_plugin(state))], env=env)
        return server, state

    return start


def test_lists_within_the_ttl_are_served_from_memory(probing):
    server, state = probing("600")
    with server.client() as client:
        bodies = {client.get("/api/runtimes").content for _ in range(5)}
    assert len(bodies) == 1
    assert state["calls"] == 1


def test_an_expired_snapshot_is_served_once_more_and_refreshed_in_the_background(probing):
    server, state = probing("0.2")
    with server.client() as client:
        assert row(client, "probing")["health"]["message"] == "first"
        state["message"] = "second"
        # still the snapshot: the changed probe is not waited for on the request
        assert row(client, "probing")["health"]["message"] == "first"
        wait_until(lambda: row(client, "probing")["health"]["message"] == "second")


def test_a_ttl_of_zero_recomputes_every_list(probing):
    server, state = probing("0")
    with server.client() as client:
        for _ in range(3):
            client.get("/api/runtimes")
    assert state["calls"] == 3


def test_a_key_another_process_writes_to_the_vault_is_seen_by_the_next_list(
    clawboo_host_factory, clawboo_env, clawboo_data_dir
):
    env = dict(clawboo_env, CLAWBOO_STATUS_TTL_S="600")
    with clawboo_host_factory(env=env).client() as client:
        assert row(client, "clawboo-native")["connectionState"] == "needs-auth"
        secrets = HostConfig(data_dir=clawboo_data_dir, env=env).secrets_dir
        Vault(secrets, env=env).set("ANTHROPIC_API_KEY", "sk-ant-" + "written-elsewhere-1")
        assert row(client, "clawboo-native")["connectionState"] == "ready"


def test_a_cli_appearing_on_path_and_a_disconnect_are_seen_by_the_next_list(
    clawboo_host_factory, clawboo_env, fake_executables
):
    env = dict(clawboo_env, CLAWBOO_STATUS_TTL_S="600")
    with clawboo_host_factory(env=env).client() as client:
        assert row(client, "codex")["connectionState"] == "not-installed"
        fake_executables.add("codex", CODEX_LOGGED_OUT)
        assert row(client, "codex")["connectionState"] == "needs-login"
        client.post("/api/runtimes/clawboo-native/connect", json={"apiKey": "sk-ant-" + "k-2"})
        assert row(client, "clawboo-native")["connectionState"] == "ready"
        client.post("/api/runtimes/clawboo-native/disconnect")
        assert row(client, "clawboo-native")["connectionState"] == "needs-auth"
