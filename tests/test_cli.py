"""``clawboo-host serve`` and ``clawboo-host plugins`` as real processes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from clawboo_host.testing.server import server_process

CLI = [sys.executable, "-m", "clawboo_host.cli"]


def base_env(tmp_path: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAWBOO_")}
    env.update(HOME=str(tmp_path / "home"), **extra)
    (tmp_path / "home").mkdir(exist_ok=True)
    return env


def test_serve_on_port_0_writes_the_port_and_answers(tmp_path):
    data = tmp_path / "data"
    with server_process(["--port", "0", "--data-dir", str(data)], base_env(tmp_path), data) as port:
        body = httpx.get(f"http://127.0.0.1:{port}/api/runtimes").json()
        assert [r["id"] for r in body["runtimes"]][:4] == [
            "claude-code",
            "codex",
            "hermes",
            "clawboo-native",
        ]
    assert (data / "clawboo.db").exists()


def test_data_dir_comes_from_clawboo_home(tmp_path):
    data = tmp_path / "from-env"
    with server_process(["--port", "0"], base_env(tmp_path, CLAWBOO_HOME=str(data)), data):
        pass
    assert (data / "api-port.txt").exists()


def _free_port_in_default_range() -> socket.socket | None:
    for port in range(18790, 18809):
        sock = socket.socket()
        try:
            sock.bind(("127.0.0.1", port))
            sock.listen(1)
            return sock
        except OSError:
            sock.close()
    return None


def test_default_port_falls_back_when_busy(tmp_path):
    blocker = _free_port_in_default_range()
    if blocker is None:
        pytest.skip("the whole default port range is busy on this machine")
    busy = blocker.getsockname()[1]
    data = tmp_path / "data"
    try:
        with server_process(["--data-dir", str(data)], base_env(tmp_path), data) as port:
            assert port != busy and 18790 <= port <= 18809
    finally:
        blocker.close()


def test_an_explicit_busy_port_is_an_error(tmp_path):
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    port = blocker.getsockname()[1]
    try:
        proc = subprocess.run(
            CLI + ["serve", "--port", str(port), "--data-dir", str(tmp_path / "d")],
            env=base_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        blocker.close()
    assert proc.returncode == 1
    assert f"port {port}" in proc.stderr and "in use" in proc.stderr


def test_a_non_loopback_bind_needs_a_token(tmp_path):
    proc = subprocess.run(
        CLI + ["serve", "--host", "0.0.0.0", "--port", "0", "--data-dir", str(tmp_path / "d")],
        env=base_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert "CLAWBOO_ACCESS_TOKEN" in proc.stderr
    bad = subprocess.run(
        CLI + ["serve", "--host", "0.0.0.0", "--port", "0", "--data-dir", str(tmp_path / "d")],
        env=base_env(tmp_path, CLAWBOO_ACCESS_TOKEN="has spaces!"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1 and "CLAWBOO_ACCESS_TOKEN" in bad.stderr
    data = tmp_path / "insecure"
    with server_process(
        ["--host", "0.0.0.0", "--port", "0", "--data-dir", str(data)],
        base_env(tmp_path, CLAWBOO_ALLOW_INSECURE="1"),
        data,
    ):
        pass


def test_plugins_lists_every_builtin_as_json(tmp_path):
    proc = subprocess.run(
        CLI + ["plugins", "--json"],
        env=base_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    plugins = {p["id"]: p for p in json.loads(proc.stdout)["plugins"]}
    for rid, dist in (
        ("claude-code", "clawboo-runtime-claude-code"),
        ("codex", "clawboo-runtime-codex"),
        ("hermes", "clawboo-runtime-hermes"),
        ("clawboo-native", "clawboo-runtime-native"),
    ):
        assert plugins[rid]["status"] == "ok", plugins[rid]
        assert plugins[rid]["distribution"] == dist
        assert plugins[rid]["version"]
        assert "clawboo_runtime_descriptor" in plugins[rid]["hooks"]
    text = subprocess.run(
        CLI + ["plugins"], env=base_env(tmp_path), capture_output=True, text=True, timeout=60
    )
    assert "claude-code" in text.stdout and "ok" in text.stdout


@pytest.mark.parametrize("port", ["70000", "-1", "http"])
def test_an_out_of_range_port_is_a_clear_error_not_a_traceback(tmp_path, port):
    proc = subprocess.run(
        CLI + ["serve", "--port", port, "--data-dir", str(tmp_path / "d")],
        env=base_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "--port" in proc.stderr and "0-65535" in proc.stderr
    assert not (tmp_path / "d" / "api-port.txt").exists()


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_a_fresh_data_dir_is_private(tmp_path):
    data = tmp_path / "data"
    with server_process(["--port", "0", "--data-dir", str(data)], base_env(tmp_path), data) as port:
        assert httpx.post(
            f"http://127.0.0.1:{port}/api/board/tasks", json={"title": "t"}
        ).status_code in (200, 201)
        assert _mode(data) == 0o700
        for name in ("clawboo.db", "clawboo.db-wal", "clawboo.db-shm"):
            assert _mode(data / name) == 0o600, name
        assert _mode(data / "worktrees") == 0o700
        assert _mode(data / "runtimes") == 0o700


def test_an_older_world_readable_data_dir_is_tightened(tmp_path):
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)
    for name in ("clawboo.db", "clawboo.db-wal"):
        (data / name).touch()
        os.chmod(data / name, 0o644)
    with server_process(["--port", "0", "--data-dir", str(data)], base_env(tmp_path), data) as port:
        # the board opens in the background: a board request is answered once it is open
        assert httpx.get(f"http://127.0.0.1:{port}/api/board/tasks").status_code == 200
        assert _mode(data) == 0o700
        assert _mode(data / "clawboo.db") == 0o600
        assert _mode(data / "clawboo.db-wal") == 0o600


def test_serve_waits_for_children_without_a_thread_each():
    # Run in a fresh interpreter: the child watcher is process-wide.
    script = """
import asyncio, sys, threading
from clawboo_host import cli
cli._wait_for_children_with_pidfds()
async def main():
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", "import time; time.sleep(0.3)")
    await asyncio.sleep(0.1)
    threads = threading.active_count()
    assert await proc.wait() == 0
    return threads
print(asyncio.run(main()))
"""
    out = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1"  # no waiter thread beside the main one
