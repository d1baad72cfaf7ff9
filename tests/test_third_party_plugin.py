"""A runtime plugin built outside this repository and installed with pip just works.

The plugin below is written to a temporary directory as its own distribution, installed
with ``pip install --target`` beside a distribution that is broken on import, and a real
``clawboo-host serve`` process is started with that directory on its path.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from clawboo_host.testing.server import server_process

ACME_PYPROJECT = """
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "acme-clawboo-runtime"
version = "1.2.3"
dependencies = []

[project.entry-points."clawboo.runtimes"]
acme-agent = "acme_agent"

[tool.hatch.build.targets.wheel]
packages = ["acme_agent"]
"""

ACME_MODULE = """
from clawboo_host.plugin_api import (
    Capabilities, ConnectPlan, Done, InstallSpec, RuntimeDescriptor, TextDelta, hookimpl,
)

@hookimpl
def clawboo_runtime_descriptor():
    return RuntimeDescriptor(
        id="acme-agent", name="Acme Agent", cli_binary="acme",
        install=InstallSpec(method="npm", package="acme-agent@1"),
        auth_kind="api-key", env_var="ACME_API_KEY", docs_url="https://acme.invalid/docs",
        capabilities=Capabilities(streaming=True, mcp=False, worktrees=True, resume=False,
                                  tool_approval=False, models=("acme-1",)),
    )

@hookimpl
def clawboo_runtime_connect(request):
    return ConnectPlan(slot="ACME_API_KEY")

@hookimpl
async def clawboo_runtime_run(ctx):
    yield TextDelta("hello from acme")
    yield Done("success", summary="acme done")
"""

BROKEN_PYPROJECT = (
    ACME_PYPROJECT.replace("acme-clawboo-runtime", "broken-clawboo-runtime")
    .replace('acme-agent = "acme_agent"', 'broken-agent = "broken_agent"')
    .replace('packages = ["acme_agent"]', 'packages = ["broken_agent"]')
)


def write_dist(root: Path, pyproject: str, module: str, source: str) -> Path:
    root.mkdir(parents=True)
    (root / "pyproject.toml").write_text(textwrap.dedent(pyproject))
    (root / module).mkdir()
    (root / module / "__init__.py").write_text(textwrap.dedent(source))
    return root


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("third-party")
    acme = write_dist(base / "acme", ACME_PYPROJECT, "acme_agent", ACME_MODULE)
    broken = write_dist(
        base / "broken",
        BROKEN_PYPROJECT,
        "broken_agent",
        "raise ImportError('acme dependency missing')\n",
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
