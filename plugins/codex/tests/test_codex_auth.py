"""Codex sign-in detection through a fake ``codex`` binary (real subprocess)."""

import clawboo_codex
import pytest
from clawboo_codex import is_logged_in, parse_login_status


@pytest.mark.parametrize(
    "output,expected",
    [
        ("Logged in using ChatGPT", True),
        ("Logged in using an API key - sk-...", True),
        ("Not logged in", False),
        ("", False),
        ("error: something", False),
    ],
)
def test_parse_login_status(output, expected):
    assert parse_login_status(output) is expected


@pytest.mark.anyio
async def test_the_probe_runs_codex_login_status_and_caches_briefly(fake_executables, clawboo_env):
    fake_executables.add_recording("codex", stdout_lines=["Logged in using ChatGPT"])
    path = str(fake_executables.path("codex"))
    clawboo_codex._login_cache.clear()
    assert await is_logged_in(path, clawboo_env) is True
    assert await is_logged_in(path, clawboo_env) is True
    assert [c["argv"] for c in fake_executables.calls("codex")] == [["login", "status"]]
    fake_executables.add_recording("codex", stdout_lines=["Not logged in"])
    assert await is_logged_in(path, clawboo_env, fresh=True) is False


@pytest.mark.anyio
async def test_a_broken_binary_reads_as_logged_out(fake_executables, clawboo_env):
    fake_executables.add("codex", "import sys\nsys.exit(3)\n")
    clawboo_codex._login_cache.clear()
    assert await is_logged_in(str(fake_executables.path("codex")), clawboo_env) is False


def test_descriptor_matches_the_catalog():
    d = clawboo_codex.DESCRIPTOR
    assert (d.auth_kind, d.env_var, d.install_command, d.headless_auth) == (
        "oauth",
        None,
        "npm install -g @openai/codex@0",
        False,
    )
    assert d.capabilities.to_json()["nativeHome"] == {"scope": "per-identity", "persist": True}
