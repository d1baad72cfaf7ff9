"""Every distribution builds, installs from the built files only, and works as a user sees it.

Run by ``scripts/test-packaging``, which fills ``$CLAWBOO_WHEELHOUSE`` with the third-party
dependencies first. Everything here is offline: ``python -m build --no-isolation`` (the build
backend comes from the test environment), then ``pip install --no-index`` into fresh venvs
from the built wheels plus the wheelhouse, with the machine's pip config ignored.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path

import httpx
import pytest

from clawboo_host import __version__
from clawboo_host.plugin_api import PLUGIN_API_VERSION
from clawboo_host.testing.plugin_project import write_plugin_project
from clawboo_host.testing.server import server_process

ROOT = Path(__file__).resolve().parents[2]
PLUGIN_DIRS = sorted(p.parent for p in ROOT.glob("plugins/*/pyproject.toml"))
PROJECTS = [ROOT, ROOT / "meta", *PLUGIN_DIRS]


def _project_table(project: Path) -> dict:
    return tomllib.loads((project / "pyproject.toml").read_text())["project"]


def project_name(project: Path) -> str:
    return _project_table(project)["name"]


#: The runtimes `clawboo-host` brings: whatever plugins/* declare (sorted, as `plugins` lists).
BUILTIN_IDS = sorted(
    runtime_id
    for project in PLUGIN_DIRS
    for runtime_id in _project_table(project)["entry-points"]["clawboo.runtimes"]
)

pytestmark = pytest.mark.timeout(900)


def wheelhouse() -> Path:
    path = os.environ.get("CLAWBOO_WHEELHOUSE")
    if not path or not Path(path).is_dir():
        pytest.fail("CLAWBOO_WHEELHOUSE is not set: run this suite with scripts/test-packaging")
    return Path(path)


def offline_env(home: Path, *find_links: Path) -> dict:
    """pip with no index, no machine config, only ``find_links``; no CLAWBOO_* leaking in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "CLAWBOO_"))}
    env.update(
        HOME=str(home),
        PIP_CONFIG_FILE=os.devnull,
        PIP_NO_INDEX="1",
        PIP_FIND_LINKS=" ".join(str(p) for p in find_links),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}/usr/bin:/bin",
    )
    return env


def run(command: list, env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(c) for c in command], env=env, capture_output=True, text=True, timeout=600, **kwargs
    )
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return result


def build(project: Path, outdir: Path, *only: str) -> None:
    run([sys.executable, "-m", "build", "--no-isolation", *only, "--outdir", outdir, project])


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    """Wheel and sdist of every project (the wheel built from the sdist, as ``build`` does)."""
    out = tmp_path_factory.mktemp("dist")
    for project in PROJECTS:
        build(project, out)
    return out


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("home")


def fresh_venv(path: Path, env: dict, *requirements: str) -> Path:
    """A new venv with ``requirements`` installed offline; its ``bin`` directory."""
    run([sys.executable, "-m", "venv", path])
    run([path / "bin" / "python", "-m", "pip", "install", "-q", *requirements], env)
    return path / "bin"


@pytest.fixture(scope="module")
def installed(dist, home, tmp_path_factory) -> Path:
    """``pip install clawboo-host`` from the built files only: the venv's ``bin``."""
    env = offline_env(home, dist, wheelhouse())
    return fresh_venv(tmp_path_factory.mktemp("venv") / "v", env, "clawboo-host")


def plugins_of(bin_dir: Path, env: dict) -> dict:
    listing = run([bin_dir / "clawboo-host", "plugins", "--json"], env)
    return {p["id"]: p for p in json.loads(listing.stdout)["plugins"]}


def served_runtime_ids(bin_dir: Path, env: dict, data: Path) -> list[str]:
    with server_process(
        ["--port", "0", "--data-dir", str(data)], env, data, command=[str(bin_dir / "clawboo-host")]
    ) as port:
        response = httpx.get(f"http://127.0.0.1:{port}/api/runtimes", timeout=30)
        assert response.status_code == 200
        return [r["id"] for r in response.json()["runtimes"]]


def test_every_project_builds_a_wheel_and_an_sdist_at_the_one_version(dist):
    for project in PROJECTS:
        stem = f"{project_name(project).replace('-', '_')}-{__version__}"
        assert (dist / f"{stem}-py3-none-any.whl").is_file(), stem
        assert (dist / f"{stem}.tar.gz").is_file(), stem
    with tarfile.open(dist / f"clawboo_host_core-{__version__}.tar.gz") as sdist:
        names = sdist.getnames()
    top = f"clawboo_host_core-{__version__}"
    assert f"{top}/clawboo_host/cli.py" in names
    assert not [n for n in names if n.startswith((f"{top}/plugins/", f"{top}/meta/"))]


def test_the_installed_tool_has_the_four_runtimes_and_serves_them(installed, dist, home, tmp_path):
    env = offline_env(home, dist, wheelhouse())
    version = run([installed / "clawboo-host", "--version"], env).stdout.splitlines()
    assert version[:2] == [f"clawboo-host {__version__}", f"plugin API {PLUGIN_API_VERSION}"]
    assert [line.split()[0] for line in version[3:]] == BUILTIN_IDS

    plugins = plugins_of(installed, env)
    assert sorted(plugins) == BUILTIN_IDS
    assert {p["status"] for p in plugins.values()} == {"ok"}
    assert {p["version"] for p in plugins.values()} == {__version__}

    assert sorted(served_runtime_ids(installed, env, tmp_path / "data")) == BUILTIN_IDS


@pytest.fixture(scope="module")
def acme_dist(tmp_path_factory) -> Path:
    """A third-party plugin's wheel, built here the way its author would build it."""
    base = tmp_path_factory.mktemp("acme")
    project = write_plugin_project(
        base / "acme",
        distribution="acme-clawboo-runtime",
        runtime_id="acme-agent",
        version="2.0.0",
        dependencies=[f"clawboo-host-core>={__version__}"],
    )
    build(project, base / "dist", "--wheel")
    return base / "dist"


def check_install_of_a_third_party_plugin(bin_dir: Path, env: dict, data: Path) -> None:
    """``clawboo-host install`` by name: listed, served after a restart, then uninstalled."""
    result = run([bin_dir / "clawboo-host", "install", "acme-clawboo-runtime"], env)
    assert "restart" in result.stderr
    try:
        acme = plugins_of(bin_dir, env)["acme-agent"]
        assert (acme["status"], acme["distribution"], acme["version"]) == (
            "ok",
            "acme-clawboo-runtime",
            "2.0.0",
        )
        served = served_runtime_ids(bin_dir, env, data)
        assert sorted(served) == sorted([*BUILTIN_IDS, "acme-agent"])
    finally:
        run([bin_dir / "clawboo-host", "uninstall", "-y", "acme-clawboo-runtime"], env)
    assert "acme-agent" not in plugins_of(bin_dir, env)


def test_clawboo_host_install_adds_a_third_party_plugin(installed, dist, acme_dist, home, tmp_path):
    env = offline_env(home, acme_dist, dist, wheelhouse())
    check_install_of_a_third_party_plugin(installed, env, tmp_path / "data")


def test_pipx_install_clawboo_host_then_install_a_plugin_into_its_venv(dist, acme_dist, tmp_path):
    env = offline_env(tmp_path / "home", acme_dist, dist, wheelhouse())
    env.update(
        PIPX_HOME=str(tmp_path / "pipx"),
        PIPX_BIN_DIR=str(tmp_path / "bin"),
        PIPX_MAN_DIR=str(tmp_path / "man"),
    )
    run([sys.executable, "-m", "pipx", "install", "clawboo-host"], env)
    bin_dir = tmp_path / "bin"
    plugins = plugins_of(bin_dir, env)
    assert sorted(plugins) == BUILTIN_IDS
    check_install_of_a_third_party_plugin(bin_dir, env, tmp_path / "data")
    # it went into pipx's venv for clawboo-host, not beside pipx or the tests
    pipx_venv = tmp_path / "pipx" / "venvs" / "clawboo-host"
    assert not list(pipx_venv.glob("lib/python*/site-packages/acme_agent"))  # uninstalled
    run([bin_dir / "clawboo-host", "install", "acme-clawboo-runtime"], env)
    assert list(pipx_venv.glob("lib/python*/site-packages/acme_agent/__init__.py"))


def test_the_bare_core_installs_alone(dist, home, tmp_path):
    env = offline_env(home, dist, wheelhouse())
    bare = fresh_venv(tmp_path / "bare", env, "clawboo-host-core")
    assert plugins_of(bare, env) == {}
    version = run([bare / "clawboo-host", "--version"], env).stdout
    assert "runtime plugins: none" in version
    assert served_runtime_ids(bare, env, tmp_path / "data") == []
