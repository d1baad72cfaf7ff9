"""resolve_binary: PATH, then ~/.local/bin, the npm global prefix's bin, macOS Python dirs."""

from __future__ import annotations

import os
from pathlib import Path

import anyio
import pytest

from clawboo_host.plugin_api import binaries
from clawboo_host.plugin_api.binaries import (
    aresolve_binary,
    clear_npm_prefix_cache,
    npm_global_bin_dir,
    resolve_binary,
)
from clawboo_host.testing.fakes import FakeExecutables


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture(autouse=True)
def _fresh_npm_prefix_cache():
    clear_npm_prefix_cache()
    yield
    clear_npm_prefix_cache()


@pytest.fixture
def fakes(tmp_path: Path) -> FakeExecutables:
    return FakeExecutables(tmp_path / "bin")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def env(fakes: FakeExecutables, home: Path, tmp_path: Path) -> dict[str, str]:
    return fakes.path_env({"HOME": str(home), "NPM_CONFIG_PREFIX": str(tmp_path / "npm-prefix")})


def make_exe(path: Path, body: str = "#!/bin/sh\nexit 0\n", mode: int = 0o755) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)
    path.chmod(mode)
    return path


def test_found_on_path(fakes, env):
    fake = fakes.add_recording("claude")
    assert resolve_binary("claude", env) == str(fake)


def test_path_lookup_returns_an_absolute_path(tmp_path, env, monkeypatch):
    make_exe(tmp_path / "rel" / "tool")
    monkeypatch.chdir(tmp_path)
    found = resolve_binary("tool", {**env, "PATH": "rel"})
    assert found == str(tmp_path / "rel" / "tool")
    assert os.path.isabs(found)


def test_missing_everywhere(env):
    assert resolve_binary("no-such-tool-xyz", env) is None
    assert resolve_binary("", env) is None


def test_not_executable_or_a_directory_does_not_count(fakes, env, home):
    make_exe(fakes.bin_dir / "plain", mode=0o644)
    (fakes.bin_dir / "adir").mkdir()
    make_exe(home / ".local" / "bin" / "plain", mode=0o644)
    (home / ".local" / "bin" / "adir").mkdir()
    assert resolve_binary("plain", env) is None
    assert resolve_binary("adir", env) is None


def test_path_wins_over_user_dirs(fakes, env, home):
    on_path = fakes.add_recording("codex")
    make_exe(home / ".local" / "bin" / "codex")
    assert resolve_binary("codex", env) == str(on_path)


def test_falls_back_to_home_local_bin_from_env(env, home):
    exe = make_exe(home / ".local" / "bin" / "hermes")
    assert resolve_binary("hermes", env) == str(exe)
    # HOME comes from the env passed in, not from this process
    assert resolve_binary("hermes", {**env, "HOME": str(home / "elsewhere")}) is None


def test_falls_back_to_the_npm_prefix_from_env(env, tmp_path):
    exe = make_exe(tmp_path / "npm-prefix" / "bin" / "codex")
    assert resolve_binary("codex", env) == str(exe)
    assert npm_global_bin_dir(env) == str(tmp_path / "npm-prefix" / "bin")
    lower = {k: v for k, v in env.items() if k != "NPM_CONFIG_PREFIX"}
    lower["npm_config_prefix"] = str(tmp_path / "npm-prefix")
    assert resolve_binary("codex", lower) == str(exe)


def test_npm_prefix_from_npm_config_get_prefix_is_lazy_and_cached(fakes, env, tmp_path):
    prefix = tmp_path / "global"
    exe = make_exe(prefix / "bin" / "claude")
    fakes.add_recording("npm", stdout_lines=[str(prefix)])
    no_prefix_env = {k: v for k, v in env.items() if k != "NPM_CONFIG_PREFIX"}

    on_path = fakes.add_recording("found-on-path")
    assert resolve_binary("found-on-path", no_prefix_env) == str(on_path)
    assert fakes.calls("npm") == []  # not needed, not run

    assert resolve_binary("claude", no_prefix_env) == str(exe)
    assert resolve_binary("claude", no_prefix_env) == str(exe)
    assert resolve_binary("other", no_prefix_env) is None
    calls = fakes.calls("npm")
    assert len(calls) == 1  # cached for the process
    assert calls[0]["argv"] == ["config", "get", "prefix"]

    clear_npm_prefix_cache()
    assert resolve_binary("claude", no_prefix_env) == str(exe)
    assert len(fakes.calls("npm")) == 2


def test_npm_prefix_failure_is_tolerated(fakes, env):
    fakes.add_recording("npm", stderr_lines=["npm ERR! broken"], exit_code=1)
    no_prefix_env = {k: v for k, v in env.items() if k != "NPM_CONFIG_PREFIX"}
    assert resolve_binary("claude", no_prefix_env) is None
    assert npm_global_bin_dir(no_prefix_env) is None


def test_npm_prefix_without_npm_is_none(env):
    no_prefix_env = {k: v for k, v in env.items() if k != "NPM_CONFIG_PREFIX"}
    assert npm_global_bin_dir(no_prefix_env) is None
    assert resolve_binary("claude", no_prefix_env) is None


def test_macos_python_user_dirs(env, home, monkeypatch):
    exe = make_exe(home / "Library" / "Python" / "3.12" / "bin" / "pipx")
    monkeypatch.setattr(binaries, "_is_macos", lambda: False)
    assert resolve_binary("pipx", env) is None
    monkeypatch.setattr(binaries, "_is_macos", lambda: True)
    assert resolve_binary("pipx", env) == str(exe)


def test_nothing_else_is_cached(fakes, env, home):
    assert resolve_binary("codex", env) is None
    exe = make_exe(home / ".local" / "bin" / "codex")
    assert resolve_binary("codex", env) == str(exe)
    exe.unlink()
    assert resolve_binary("codex", env) is None
    fake = fakes.add_recording("codex")
    assert resolve_binary("codex", env) == str(fake)
    fakes.remove("codex")
    assert resolve_binary("codex", env) is None


def test_default_env_is_the_server_environment(tmp_path, monkeypatch):
    exe = make_exe(tmp_path / "server-bin" / "only-here-xyz")
    monkeypatch.setenv("PATH", str(tmp_path / "server-bin"))
    assert resolve_binary("only-here-xyz") == str(exe)


def test_env_without_path_skips_the_path_lookup(home):
    exe = make_exe(home / ".local" / "bin" / "tool")
    assert resolve_binary("tool", {"HOME": str(home), "NPM_CONFIG_PREFIX": "/nonexistent"}) == str(
        exe
    )
    assert resolve_binary("sh", {"HOME": str(home), "NPM_CONFIG_PREFIX": "/nonexistent"}) is None


def test_a_path_is_checked_directly(tmp_path, env):
    exe = make_exe(tmp_path / "x" / "tool")
    assert resolve_binary(str(exe), env) == str(exe)
    assert resolve_binary(str(tmp_path / "x" / "missing"), env) is None


@pytest.mark.anyio
async def test_aresolve_binary(fakes, env, home):
    fake = fakes.add_recording("codex")
    with anyio.fail_after(30):
        assert await aresolve_binary("codex", env) == str(fake)
        assert await aresolve_binary("nope-xyz", env) is None
