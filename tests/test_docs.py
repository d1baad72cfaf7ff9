"""Docs guard rails: every hook is documented, and every code example in the plugin guide runs.

The guide's blocks whose first line names a file (``# acme_agent/__init__.py``,
``# tests/test_conformance.py``, ``# pyproject.toml``...) make up its worked example: they are
written out as a distribution and its own pytest suite is run — the conformance kit through a
live host included. Every other block is executed on its own, and the hook examples are called.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from clawboo_host.plugin_api import (
    HOOK_NAMES,
    AuthState,
    ConnectPlan,
    ConnectRequest,
    Health,
    HealthcheckRequest,
    HealthcheckResult,
    SeedPlan,
    SeedRequest,
    StatusProbe,
    hookspecs,
)
from clawboo_host.testing.conformance import RuntimeConformanceTests

DOCS = Path(__file__).resolve().parents[1] / "docs"
GUIDE = (DOCS / "plugins.md").read_text()
_BLOCK = re.compile(r"^```(python|toml)\n(.*?)^```", re.S | re.M)
_FILE = re.compile(r"^# ([\w./-]+\.(?:py|toml))\n")


def _blocks() -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in _BLOCK.finditer(GUIDE)]


def _files() -> dict[str, str]:
    return {m.group(1): code for _, code in _blocks() if (m := _FILE.match(code))}


def _snippets() -> list[str]:
    return [code for kind, code in _blocks() if kind == "python" and not _FILE.match(code)]


def test_every_hook_has_a_section_in_the_plugin_guide():
    for name in HOOK_NAMES:
        assert f"### {name}(" in GUIDE, name


def test_every_hookspec_documents_an_example():
    for name in HOOK_NAMES:
        doc = getattr(hookspecs, name).__doc__ or ""
        assert "Example::" in doc and "@hookimpl" in doc, name


def test_the_guide_has_the_sections_plugin_authors_need():
    for heading in (
        "## Wiring MCP",
        "## What goes in `ctx.env`",
        "## The summary rule",
        "### A worked fake-CLI test",
        "### Async tests",
    ):
        assert heading in GUIDE, heading
    assert "(api.md#post-apiruntimesidrun)" in GUIDE
    assert "### POST /api/runtimes/{id}/run" in (DOCS / "api.md").read_text()
    for name in HOOK_NAMES[1:]:
        section = GUIDE[GUIDE.index(f"### {name}(") :]
        section = section[: section.index("\n#", 1)]
        assert "**Default**" in section and "**Implementing it" in section, name


def test_every_block_is_accounted_for():
    files, snippets = _files(), _snippets()
    assert set(files) == {
        "pyproject.toml",
        "acme_agent/__init__.py",
        "tests/fake_acme.py",
        "tests/conftest.py",
        "tests/test_conformance.py",
        "tests/test_acme.py",
    }
    assert len(files) + len(snippets) == len(_blocks())
    assert len(snippets) >= 10


def _probe(bin_path, keys=()) -> StatusProbe:
    return StatusProbe("acme-agent", bin_path, {}, lambda name: name in keys)


@pytest.mark.anyio
async def test_every_snippet_runs_and_its_hooks_answer(tmp_path):
    hooks: dict[str, object] = {}
    for index, code in enumerate(_snippets()):
        namespace: dict = {"__name__": f"plugins_md_snippet_{index}"}
        exec(compile(code, f"docs/plugins.md (snippet {index})", "exec"), namespace)
        hooks.update({k: v for k, v in namespace.items() if k in HOOK_NAMES})
    assert set(hooks) == set(HOOK_NAMES) - {
        "clawboo_runtime_descriptor",  # shown in the minimal plugin
        "clawboo_runtime_run",
    }

    health = hooks["clawboo_runtime_health"]
    assert health(_probe("/bin/acme", {"ACME_API_KEY"})) == Health(ok=True)
    assert health(_probe("/bin/acme")).message == "no ACME_API_KEY connected"
    assert health(_probe(None)).ok is False

    assert await hooks["clawboo_runtime_auth_state"](_probe(None)) == AuthState()
    status = tmp_path / "acme"
    status.write_text("#!/bin/sh\necho 'Logged in as you'\n")
    status.chmod(0o755)
    assert await hooks["clawboo_runtime_auth_state"](_probe(str(status))) == AuthState(
        logged_in=True
    )

    key_names = hooks["clawboo_runtime_key_names"]
    assert key_names({"HOME": str(tmp_path)}) == ()
    (tmp_path / ".acme").mkdir()
    (tmp_path / ".acme" / "gateway.json").write_text('{"key_env": "ACME_GATEWAY_KEY"}')
    assert key_names({"HOME": str(tmp_path)}) == ("ACME_GATEWAY_KEY",)

    connect = hooks["clawboo_runtime_connect"]
    assert connect(ConnectRequest("", True)) == ConnectPlan(slot="ACME_API_KEY")
    assert connect(ConnectRequest("azure", False)).reuse_existing is True
    assert connect(ConnectRequest("nope", True)).error == "unknown provider 'nope'"

    check = await hooks["clawboo_runtime_healthcheck"](
        HealthcheckRequest("", "", lambda name: None, {})
    )
    assert check == HealthcheckResult(ok=False, error="apiKey is required", status_code=400)

    plan = hooks["clawboo_seed_team"](SeedRequest("openai", "gpt-4o", None, lambda n: True, {}))
    assert isinstance(plan, SeedPlan) and plan.agents[0].role == "leader"


def test_the_worked_example_passes_its_own_suite_and_the_whole_kit(tmp_path):
    """The minimal plugin, its fake CLI and its tests, written out as the guide shows them."""
    dist = tmp_path / "acme-clawboo-runtime"
    for relative, code in _files().items():
        path = dist / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(code)
    assert tomllib.loads(_files()["pyproject.toml"])["project"]["entry-points"][
        "clawboo.runtimes"
    ] == {"acme-agent": "acme_agent"}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAWBOO_", "PYTEST_"))}
    env["PYTHONPATH"] = str(dist)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs"],
        cwd=dist,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    summary = result.stdout.strip().splitlines()[-1]
    assert "skipped" not in summary, result.stdout[-2000:]
    kit = [name for name in dir(RuntimeConformanceTests) if name.startswith("test_")]
    passed = int(re.search(r"(\d+) passed", summary).group(1))
    assert passed == len(kit) + 2, summary  # every kit test plus the guide's own two
