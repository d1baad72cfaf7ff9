"""A damaged vault on disk, seen through the live API (issue 8 item 6).

Connect answers a clear JSON error that names no file path; an unreadable disconnect-flags
file fails closed (ambient keys ignored for every runtime), is logged, and shows in health.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from clawboo_host.vault import UNREADABLE_FLAGS_MESSAGE, Vault

AMBIENT = "sk-ant-" + "ambient-0000000000001"  # split: not a committed key
PASTED = "sk-ant-" + "pasted-00000000000002"


def secrets_dir(data_dir: Path) -> Path:
    return data_dir / "secrets"


def break_master_key(data_dir: Path, how: str) -> None:
    path = secrets_dir(data_dir) / "master.key"
    path.parent.mkdir(parents=True, exist_ok=True)
    if how == "directory":
        path.mkdir()
    elif how == "empty":
        path.write_bytes(b"")
    else:  # truncated: the first half of a valid base64 key
        path.write_bytes(b"AAECAwQFBgcICQoLDA0ODxAREhMU")


@pytest.mark.parametrize("how", ["empty", "truncated", "directory"])
def test_connect_with_a_broken_master_key_is_a_clear_json_error(
    clawboo_host_factory, clawboo_data_dir, how
):
    break_master_key(clawboo_data_dir, how)
    server = clawboo_host_factory()
    with server.client() as client:
        r = client.post("/api/runtimes/clawboo-native/connect", json={"apiKey": PASTED})
        assert r.status_code == 500
        assert r.headers["content-type"] == "application/json"
        message = r.json()["error"]
        assert message.startswith("The vault's master key file is unreadable")
        assert "/" not in message and str(clawboo_data_dir) not in r.text and PASTED not in r.text
        assert r.headers.get("connection") != "close"
        assert client.get("/api/runtimes").status_code == 200  # same connection, still serving
    assert not (secrets_dir(clawboo_data_dir) / "runtime-keys.json").exists()


def test_connect_with_a_key_store_that_is_a_directory_is_a_clear_json_error(
    clawboo_host_factory, clawboo_data_dir
):
    (secrets_dir(clawboo_data_dir) / "runtime-keys.json").mkdir(parents=True)
    server = clawboo_host_factory()
    with server.client() as client:
        r = client.post("/api/runtimes/clawboo-native/connect", json={"apiKey": PASTED})
    assert r.status_code == 500 and r.headers["content-type"] == "application/json"
    assert r.json() == {
        "error": "The vault's key store cannot be written (its files are not regular files "
        "or the secrets directory is not writable)."
    }
    assert str(clawboo_data_dir) not in r.text


@pytest.mark.parametrize("content", ["", '{"clawboo-native": tr', "[]"])
def test_an_unreadable_disconnect_file_fails_closed_across_a_restart(
    clawboo_host_factory, clawboo_env, clawboo_data_dir, caplog, content
):
    env = dict(clawboo_env, ANTHROPIC_API_KEY=AMBIENT)
    flags = secrets_dir(clawboo_data_dir) / "disconnected-runtimes.json"
    flags.parent.mkdir(parents=True)
    flags.write_text(content)  # e.g. truncated by a crash mid-write of {"clawboo-native": true}

    with caplog.at_level(logging.WARNING, logger="clawboo_host.vault"):
        server = clawboo_host_factory(env=env)
        with server.client() as client:
            rows = {row["id"]: row for row in client.get("/api/runtimes").json()["runtimes"]}
    native = rows["clawboo-native"]
    assert native["hasCredential"] is False and native["connectionState"] == "needs-auth"
    assert native["health"]["ok"] is False
    assert UNREADABLE_FLAGS_MESSAGE in native["health"]["message"]
    assert rows["claude-code"]["hasCredential"] is False
    assert UNREADABLE_FLAGS_MESSAGE in [r.getMessage() for r in caplog.records]
    assert AMBIENT not in caplog.text


def test_connecting_rewrites_an_unreadable_disconnect_file_keeping_the_rest_closed(
    clawboo_host_factory, clawboo_env, clawboo_data_dir
):
    env = dict(clawboo_env, ANTHROPIC_API_KEY=AMBIENT)
    flags = secrets_dir(clawboo_data_dir) / "disconnected-runtimes.json"
    flags.parent.mkdir(parents=True)
    flags.write_text("{")
    server = clawboo_host_factory(env=env)
    with server.client() as client:
        r = client.post(
            "/api/runtimes/clawboo-native/connect", json={"apiKey": PASTED, "provider": "openai"}
        )
        assert r.status_code == 200, r.text
        rows = {row["id"]: row for row in client.get("/api/runtimes").json()["runtimes"]}
    rewritten = json.loads(flags.read_text())
    assert "clawboo-native" not in rewritten
    assert {"claude-code", "codex", "hermes"} <= set(rewritten)
    assert rows["clawboo-native"]["health"] == {"ok": True}
    assert rows["claude-code"]["hasCredential"] is False  # still closed: ambient key ignored
    assert Vault(secrets_dir(clawboo_data_dir), env={}).get("OPENAI_API_KEY") == PASTED
