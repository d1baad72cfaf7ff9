"""``GET /api/runtimes`` from the warm status snapshot: served from memory while nothing it
depends on changed, recomputed at once when the host, the vault or a ``PATH`` directory
changes, and refreshed in the background once the auth-probe TTL has passed."""

from __future__ import annotations

import dataclasses
import types
from pathlib import Path

import pytest

from clawboo_host.config import HostConfig
from clawboo_host.fs_changes import FsChanges
from clawboo_host.plugin_api import Health, InstallSpec, hookimpl
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


@pytest.fixture(autouse=True, params=["inotify", "stat"])
def change_detection(request, monkeypatch):
    """Every test runs twice: paths watched through inotify, and (as where inotify is
    unavailable) every path stat'ed on every list."""
    if request.param == "stat":
        monkeypatch.setattr(FsChanges, "open", classmethod(lambda cls: None))
    return request.param


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


def test_an_openclaw_state_dir_that_appears_later_is_read_by_the_next_list(
    clawboo_host_factory, clawboo_env
):
    """Where OpenClaw's ``.env`` lives is a lookup (the first existing legacy dir): a legacy
    dir created after the snapshot moves it, and a later edit of that file is seen too."""
    env = dict(clawboo_env, CLAWBOO_STATUS_TTL_S="600")
    env.pop("OPENCLAW_STATE_DIR")
    home = Path(env["HOME"])
    with clawboo_host_factory(env=env).client() as client:
        assert row(client, "clawboo-native")["connectionState"] == "needs-auth"
        (home / ".clawdbot").mkdir()
        (home / ".clawdbot" / ".env").write_text("# no key yet\n")
        assert row(client, "clawboo-native")["connectionState"] == "needs-auth"
        (home / ".clawdbot" / ".env").write_text("ANTHROPIC_API_KEY=sk-ant-" + "legacy-dir-1\n")
        assert row(client, "clawboo-native")["connectionState"] == "ready"
        (home / ".openclaw").mkdir()  # the first candidate now exists: its (absent) .env wins
        assert row(client, "clawboo-native")["connectionState"] == "needs-auth"


@pytest.mark.parametrize("where", ["local-bin", "npm-bin"])
def test_a_cli_appearing_in_a_user_install_dir_created_later_is_seen_by_the_next_list(
    clawboo_host_factory, clawboo_env, where
):
    """``~/.local/bin`` and npm's global bin dir need not exist when the snapshot is taken."""
    env = dict(clawboo_env, CLAWBOO_STATUS_TTL_S="600")
    bin_dir = (
        Path(env["HOME"]) / ".local" / "bin"
        if where == "local-bin"
        else Path(env["NPM_CONFIG_PREFIX"]) / "bin"
    )
    with clawboo_host_factory(env=env).client() as client:
        assert row(client, "codex")["connectionState"] == "not-installed"
        bin_dir.mkdir(parents=True)
        codex = bin_dir / "codex"
        codex.write_text("#!/usr/bin/env python3\n" + CODEX_LOGGED_OUT)
        codex.chmod(0o755)
        assert row(client, "codex")["connectionState"] == "needs-login"


def test_an_install_refreshes_the_list_even_when_no_watched_file_changed(
    clawboo_host_factory, clawboo_env, fake_executables, tmp_path
):
    """The install route invalidates the snapshot itself: here the only trace of the install
    is a file the snapshot does not watch, read by the runtime's health hook."""
    marker = tmp_path / "installed-marker"
    marker.write_text("before")
    module = types.ModuleType("installable_runtime")
    descriptor = dataclasses.replace(
        mock_runtime.DESCRIPTOR,
        id="installable",
        name="Installable",
        cli_binary="installable-cli",
        install=InstallSpec(method="npm", package="installable-cli@1"),
    )

    @hookimpl
    def clawboo_runtime_descriptor():
        return descriptor

    @hookimpl
    def clawboo_runtime_health():
        return Health(ok=False, message=marker.read_text())

    module.clawboo_runtime_descriptor = clawboo_runtime_descriptor
    module.clawboo_runtime_health = clawboo_runtime_health
    npm = f"import pathlib\npathlib.Path({str(marker)!r}).write_text('after')\n"
    fake_executables.add("npm", npm)
    env = dict(clawboo_env, CLAWBOO_STATUS_TTL_S="600")
    server = clawboo_host_factory(plugins=[("installable", module)], env=env)
    with server.client() as client:
        assert row(client, "installable")["health"]["message"] == "before"
        assert row(client, "installable")["health"]["message"] == "before"  # from memory
        response = client.post("/api/runtimes/installable/install")
        assert response.status_code == 200 and '"success":true' in response.text
        assert marker.read_text() == "after"
        assert row(client, "installable")["health"]["message"] == "after"
