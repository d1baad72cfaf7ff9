"""One version for the host and the built-in plugins, bumped together (docs/install.md).

``clawboo_host.__version__`` is the source of truth; every pyproject in the repository must
agree with it, and ``scripts/bump-version`` must keep them agreeing.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

import clawboo_host

ROOT = Path(__file__).resolve().parents[1]
CORE = "clawboo-host-core"
META = "clawboo-host"


def _project(pyproject: Path) -> dict:
    return tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]


def _source_version(root: Path) -> str:
    text = (root / "clawboo_host" / "__init__.py").read_text(encoding="utf-8")
    return re.search(r'^__version__ = "([^"]+)"', text, re.MULTILINE).group(1)


def version_problems(root: Path) -> list[str]:
    """Every way the checkout at ``root`` breaks the one-version rule (empty when it holds)."""
    version = _source_version(root)
    problems = []
    core = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    if core["project"]["name"] != CORE or "version" not in core["project"].get("dynamic", []):
        problems.append(f"the root must be {CORE} with a dynamic version")
    if core["tool"]["hatch"]["version"]["path"] != "clawboo_host/__init__.py":
        problems.append("the core's version must come from clawboo_host/__init__.py")

    plugins = {}
    for pyproject in sorted((root / "plugins").glob("*/pyproject.toml")):
        project = _project(pyproject)
        plugins[project["name"]] = project
        if project["version"] != version:
            problems.append(f"{project['name']} is {project['version']}, host is {version}")
        requires = {Requirement(r).name: Requirement(r) for r in project["dependencies"]}
        if META in requires:
            problems.append(f"{project['name']} depends on the meta {META} (a cycle)")
        host = requires.get(CORE)
        if host is None or not host.specifier:
            problems.append(f"{project['name']} declares no {CORE} range")
        elif not host.specifier.contains(Version(version)):
            problems.append(f"{project['name']}'s range {host.specifier} excludes {version}")

    meta = _project(root / "meta" / "pyproject.toml")
    if meta["name"] != META or meta["version"] != version:
        problems.append(f"meta is {meta['name']} {meta['version']}, host is {version}")
    pins = {Requirement(r).name: str(Requirement(r).specifier) for r in meta["dependencies"]}
    wanted = {name: f"=={version}" for name in [CORE, *plugins]}
    if pins != wanted:
        problems.append(f"meta pins {pins}, expected {wanted}")
    return problems


def test_the_host_the_meta_and_every_builtin_plugin_share_one_version():
    assert version_problems(ROOT) == []


def test_a_drifted_plugin_version_or_a_plugin_missing_from_the_meta_is_caught(tmp_path):
    copy = _copy_version_files(tmp_path)
    extra = copy / "plugins" / "extra" / "pyproject.toml"
    extra.parent.mkdir()
    extra.write_text(
        (copy / "plugins" / "codex" / "pyproject.toml")
        .read_text()
        .replace("clawboo-runtime-codex", "clawboo-runtime-extra")
    )
    hermes = copy / "plugins" / "hermes" / "pyproject.toml"
    hermes.write_text(
        re.sub(r'^version = "[^"]*"', 'version = "9.9.9"', hermes.read_text(), flags=re.M)
    )
    problems = "\n".join(version_problems(copy))
    assert "clawboo-runtime-hermes is 9.9.9" in problems
    assert "clawboo-runtime-extra" in problems  # added under plugins/ but not pinned by the meta


def _copy_version_files(tmp_path: Path) -> Path:
    copy = tmp_path / "checkout"
    for rel in ["pyproject.toml", "meta/pyproject.toml", "clawboo_host/__init__.py"]:
        (copy / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, copy / rel)
    for pyproject in (ROOT / "plugins").glob("*/pyproject.toml"):
        target = copy / "plugins" / pyproject.parent.name / "pyproject.toml"
        target.parent.mkdir(parents=True)
        shutil.copy(pyproject, target)
    return copy


def test_bump_version_moves_everything_together(tmp_path):
    copy = _copy_version_files(tmp_path)
    bump = [sys.executable, str(ROOT / "scripts" / "bump-version"), "--root", str(copy)]
    subprocess.run([*bump, "0.7.0"], check=True, capture_output=True, timeout=60)
    assert _source_version(copy) == "0.7.0"
    assert version_problems(copy) == []
    codex = _project(copy / "plugins" / "codex" / "pyproject.toml")
    assert f"{CORE}>=0.7.0,<0.8" in codex["dependencies"]

    subprocess.run([*bump, "1.0.0"], check=True, capture_output=True, timeout=60)
    assert version_problems(copy) == []
    codex = _project(copy / "plugins" / "codex" / "pyproject.toml")
    assert f"{CORE}>=1.0.0,<2" in codex["dependencies"]

    refused = subprocess.run([*bump, "one"], capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and "MAJOR.MINOR.PATCH" in refused.stderr
    assert version_problems(copy) == []


def test_every_builtin_plugin_targets_this_hosts_plugin_api():
    from clawboo_host.plugin_api import PLUGIN_API_ATTRIBUTE, PLUGIN_API_VERSION
    from clawboo_host.registry import build_registry

    registry = build_registry(env={})
    runtime_ids = [
        runtime_id
        for pyproject in ROOT.glob("plugins/*/pyproject.toml")
        for runtime_id in _project(pyproject)["entry-points"]["clawboo.runtimes"]
    ]
    assert runtime_ids
    for runtime_id in runtime_ids:
        plugin = registry.pm.get_plugin(runtime_id)
        assert getattr(plugin, PLUGIN_API_ATTRIBUTE, None) == PLUGIN_API_VERSION, runtime_id


def test_the_installed_core_takes_its_version_from_the_package():
    from importlib import metadata

    assert metadata.version(CORE) == clawboo_host.__version__
