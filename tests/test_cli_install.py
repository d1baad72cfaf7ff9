"""``clawboo-host install / uninstall / --version`` against a real environment and real pip.

The host under test runs from a throwaway venv that sees this test environment's packages
through a ``.pth`` file (so nothing is downloaded), and ``clawboo-host install`` must put a
plugin into *that* venv — the interpreter the host runs on — and nowhere else.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from clawboo_host import __version__
from clawboo_host.plugin_api import PLUGIN_API_VERSION
from clawboo_host.testing.plugin_project import write_plugin_project


@pytest.fixture(scope="module")
def host_python(tmp_path_factory) -> Path:
    """The python of a fresh venv whose own site-packages starts empty."""
    venv = tmp_path_factory.mktemp("host-venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    ours = sysconfig.get_paths()["purelib"]
    # addsitedir (not a bare path line) so this environment's editable-install .pth files work
    Path(purelib, "_clawboo_test_env.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    return python


@pytest.fixture
def pip_env(tmp_path) -> dict:
    """Offline pip, no machine config: builds use this environment's hatchling."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "CLAWBOO_"))}
    env.update(
        PIP_CONFIG_FILE=os.devnull,
        PIP_NO_INDEX="1",
        PIP_NO_BUILD_ISOLATION="0",  # pip's inverted spelling: build without isolation
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        HOME=str(tmp_path),
    )
    return env


def cli(python: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(python), "-m", "clawboo_host.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def listed(python: Path, env: dict) -> dict:
    result = cli(python, env, "plugins", "--json")
    assert result.returncode == 0, result.stderr
    return {p["id"]: p for p in json.loads(result.stdout)["plugins"]}


def acme_release(tmp_path: Path, version: str, wheels: Path, env: dict) -> Path:
    """Build release ``version`` of a small third-party plugin into ``wheels``; its wheel."""
    project = write_plugin_project(
        tmp_path / version / "acme",
        distribution="acme-clawboo-runtime",
        runtime_id="acme-agent",
        version=version,
        dependencies=["clawboo-host-core>=0.1"],  # already there: pip needs no index
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(project)],
        env=env,
        check=True,
        timeout=300,
    )
    (wheel,) = wheels.glob(f"acme_clawboo_runtime-{version}-*.whl")
    return wheel


def visible_here(distribution: str) -> bool:
    """Whether this test's own environment (not the host's venv) got the distribution."""
    probe = f"import importlib.metadata as m; m.version({distribution!r})"
    return subprocess.run([sys.executable, "-c", probe], capture_output=True).returncode == 0


def test_install_upgrade_and_uninstall_in_the_hosts_environment(host_python, pip_env, tmp_path):
    wheels = tmp_path / "wheels"
    acme_release(tmp_path, "1.4.0", wheels, pip_env)
    env = {**pip_env, "PIP_FIND_LINKS": str(wheels)}  # the plugin's "index"
    assert "acme-agent" not in listed(host_python, env)

    installed = cli(host_python, env, "install", "acme-clawboo-runtime")
    assert installed.returncode == 0, installed.stderr
    assert "restart" in installed.stderr
    plugin = listed(host_python, env)["acme-agent"]
    assert (plugin["status"], plugin["distribution"], plugin["version"]) == (
        "ok",
        "acme-clawboo-runtime",
        "1.4.0",
    )
    assert not visible_here("acme-clawboo-runtime")  # it went to the host's venv only
    version = cli(host_python, env, "--version").stdout
    assert "acme-agent" in version and "acme-clawboo-runtime 1.4.0" in version

    acme_release(tmp_path, "1.5.0", wheels, pip_env)
    assert cli(host_python, env, "install", "acme-clawboo-runtime").returncode == 0
    assert listed(host_python, env)["acme-agent"]["version"] == "1.4.0"  # satisfied: kept
    assert cli(host_python, env, "install", "-U", "acme-clawboo-runtime").returncode == 0
    assert listed(host_python, env)["acme-agent"]["version"] == "1.5.0"

    removed = cli(host_python, env, "uninstall", "-y", "acme-clawboo-runtime")
    assert removed.returncode == 0, removed.stderr
    assert "acme-agent" not in listed(host_python, env)


def test_install_a_wheel_file(host_python, pip_env, tmp_path):
    wheel = acme_release(tmp_path, "2.0.0", tmp_path / "wheels", pip_env)
    try:
        assert cli(host_python, pip_env, "install", str(wheel)).returncode == 0
        assert listed(host_python, pip_env)["acme-agent"]["version"] == "2.0.0"
    finally:
        cli(host_python, pip_env, "uninstall", "-y", "acme-clawboo-runtime")


def test_install_editable_from_a_checkout(host_python, pip_env, tmp_path):
    project = write_plugin_project(
        tmp_path / "beta", distribution="beta-clawboo-runtime", runtime_id="beta-agent"
    )
    installed = cli(host_python, pip_env, "install", "-e", str(project))
    assert installed.returncode == 0, installed.stderr
    try:
        assert listed(host_python, pip_env)["beta-agent"]["status"] == "ok"
        # editable: the host imports the plugin from the checkout itself
        module = project / "beta_agent" / "__init__.py"
        check = subprocess.run(
            [str(host_python), "-c", "import beta_agent; print(beta_agent.__file__)"],
            env=pip_env,
            capture_output=True,
            text=True,
        )
        assert check.stdout.strip() == str(module)
    finally:
        cli(host_python, pip_env, "uninstall", "-y", "beta-clawboo-runtime")
    assert "beta-agent" not in listed(host_python, pip_env)


def test_a_failed_install_reports_pips_status(host_python, pip_env):
    result = cli(host_python, pip_env, "install", "no-such-clawboo-plugin-xyz")
    assert result.returncode != 0
    assert "restart" not in result.stderr


@pytest.mark.parametrize("name", ["clawboo-host-core", "clawboo_host", "Clawboo-Host"])
def test_uninstall_refuses_the_host_itself(host_python, pip_env, name):
    result = cli(host_python, pip_env, "uninstall", "-y", name)
    assert result.returncode == 2
    assert "is the host itself" in result.stderr and "pipx uninstall clawboo-host" in result.stderr
    assert listed(host_python, pip_env)["claude-code"]["status"] == "ok"


def test_install_needs_something_to_install(host_python, pip_env):
    result = cli(host_python, pip_env, "install")
    assert result.returncode == 2 and "name at least one plugin" in result.stderr


def test_version_names_the_host_its_plugin_api_and_every_plugin(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAWBOO_")}
    result = subprocess.run(
        [sys.executable, "-m", "clawboo_host.cli", "--version"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == [f"clawboo-host {__version__}", f"plugin API {PLUGIN_API_VERSION}"]
    for runtime_id, distribution in [
        ("claude-code", "clawboo-runtime-claude-code"),
        ("codex", "clawboo-runtime-codex"),
        ("hermes", "clawboo-runtime-hermes"),
        ("clawboo-native", "clawboo-runtime-native"),
    ]:
        assert any(line.split() == [runtime_id, distribution, __version__] for line in lines), (
            result.stdout
        )
