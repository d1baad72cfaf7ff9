"""A runtime plugin built outside this repository and installed with pip just works.

The plugin below is written to a temporary directory as its own distribution, installed
with ``pip install --target`` beside a distribution that is broken on import and one written
for a plugin API this host does not speak, and a real ``clawboo-host serve`` process is
started with that directory on its path.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from clawboo_host.testing.plugin_project import write_plugin_project
from clawboo_host.testing.server import server_process


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("third-party")
    acme = write_plugin_project(
        base / "acme",
        distribution="acme-clawboo-runtime",
        runtime_id="acme-agent",
        version="1.2.3",
        plugin_api=None,  # declaring none means "the current plugin API"
    )
    broken = write_plugin_project(
        base / "broken",
        distribution="broken-clawboo-runtime",
        runtime_id="broken-agent",
        prelude="raise ImportError('acme dependency missing')\n",
    )
    future = write_plugin_project(
        base / "future",
        distribution="future-clawboo-runtime",
        runtime_id="future-agent",
        plugin_api=99,
    )
    target = base / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(target),
            str(acme),
            str(broken),
            str(future),
        ],
        check=True,
        timeout=300,
    )
    return target


def env_with(site: Path, tmp_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAWBOO_")}
    env["PYTHONPATH"] = str(site)
    env["HOME"] = str(tmp_path)
    env["PATH"] = (
        f"{tmp_path / 'bin'}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}/usr/bin:/bin"
    )
    (tmp_path / "bin").mkdir(exist_ok=True)
    return env


def test_a_pip_installed_plugin_is_served_beside_a_broken_one(site, tmp_path):
    env = env_with(site, tmp_path)
    data = tmp_path / "data"
    with server_process(["--port", "0", "--data-dir", str(data)], env, data) as port:
        base = f"http://127.0.0.1:{port}"
        body = httpx.get(f"{base}/api/runtimes").json()
        rows = {r["id"]: r for r in body["runtimes"]}
        assert rows["acme-agent"]["name"] == "Acme Agent"
        assert rows["acme-agent"]["connectionState"] == "not-installed"
        assert "broken-agent" not in rows
        assert "future-agent" not in rows  # refused: written for plugin API 99
        assert "acme-agent" in [d["id"] for d in body["available"]]
        assert rows["claude-code"]["id"] == "claude-code"  # the built-ins still work

        (tmp_path / "bin" / "acme").write_text("#!/bin/sh\nexit 0\n")
        (tmp_path / "bin" / "acme").chmod(0o755)
        response = httpx.post(
            f"{base}/api/runtimes/acme-agent/connect", json={"apiKey": "acme-key-123456"}
        )
        assert response.json() == {"ok": True, "connectionState": "ready"}
        keys = json.loads((data / "secrets" / "runtime-keys.json").read_text())
        assert "ACME_API_KEY" in keys
        response = httpx.post(f"{base}/api/runtimes/broken-agent/connect", json={"apiKey": "x"})
        assert response.status_code == 404

    listing = subprocess.run(
        [sys.executable, "-m", "clawboo_host.cli", "plugins", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    plugins = {p["id"]: p for p in json.loads(listing.stdout)["plugins"]}
    assert plugins["acme-agent"]["status"] == "ok"
    assert plugins["acme-agent"]["distribution"] == "acme-clawboo-runtime"
    assert plugins["acme-agent"]["version"] == "1.2.3"
    assert plugins["broken-agent"]["status"] == "error"
    assert "acme dependency missing" in plugins["broken-agent"]["error"]
    assert plugins["future-agent"]["status"] == "error"
    assert plugins["future-agent"]["distribution"] == "future-clawboo-runtime"
    assert "targets plugin API 99" in plugins["future-agent"]["error"]
