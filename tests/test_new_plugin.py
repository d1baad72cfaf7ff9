"""``clawboo-host new-plugin``: the distribution it writes installs with pip, passes its own
tests as written (the conformance kit through a live host included) and is served."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from clawboo_host.cli import main


def _env(site: Path, home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAWBOO_", "PYTEST_"))}
    env["PYTHONPATH"] = str(site)
    env["HOME"] = str(home)
    return env


def test_a_generated_plugin_installs_with_pip_and_passes_its_own_tests(tmp_path, capsys):
    target = tmp_path / "acme"
    assert main(["new-plugin", "acme-agent", "--dir", str(target)]) == 0
    assert str(target) in capsys.readouterr().out
    site = tmp_path / "site"
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
            str(site),
            str(target),
        ],
        check=True,
        timeout=300,
    )
    assert (site / "clawboo_acme_agent" / "__init__.py").exists()
    env = _env(site, tmp_path)

    # Its own suite, as written, importing the pip-installed copy (-P: not the source dir).
    tests = subprocess.run(
        [sys.executable, "-P", "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=target,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert tests.returncode == 0, tests.stdout[-4000:] + tests.stderr[-2000:]
    assert " passed" in tests.stdout and "skipped" not in tests.stdout, tests.stdout[-2000:]
    probe = subprocess.run(
        [
            sys.executable,
            "-P",
            "-c",
            "import clawboo_acme_agent; print(clawboo_acme_agent.__file__)",
        ],
        cwd=target,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe.stdout.strip().startswith(str(site)), probe

    # The host finds it through its entry point.
    listing = subprocess.run(
        [sys.executable, "-P", "-m", "clawboo_host.cli", "plugins", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    plugins = {p["id"]: p for p in json.loads(listing.stdout)["plugins"]}
    assert plugins["acme-agent"]["status"] == "ok", plugins["acme-agent"]
    assert plugins["acme-agent"]["distribution"] == "clawboo-runtime-acme-agent"


@pytest.mark.parametrize("name", ["Acme", "acme_agent", "openclaw", "x-", ""])
def test_a_bad_name_writes_nothing(tmp_path, capsys, name):
    target = tmp_path / "out"
    assert main(["new-plugin", name, "--dir", str(target)]) == 2
    assert "invalid runtime id" in capsys.readouterr().err
    assert not target.exists()


def test_a_non_empty_directory_is_left_alone(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("mine")
    assert main(["new-plugin", "acme-agent", "--dir", str(tmp_path)]) == 2
    assert "not empty" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]
