"""What a run's processes can see of the host: a real ``serve`` process and a spying CLI."""

from __future__ import annotations

import secrets as pysecrets
from pathlib import Path

import httpx
import pytest

from clawboo_host.isolation import Sandbox, is_dumpable
from clawboo_host.testing.server import server_process, serving_pid

MOCK = "clawboo-mock"


def spy_run(tmp_path: Path, env: dict, fakes, extra_dirs: tuple[Path, ...] = ()) -> dict:
    """Start ``serve`` with a provider key only it holds, let a mock run ``!exec`` the spy."""
    data = Path(env["CLAWBOO_HOME"])
    marker = "never-granted-" + pysecrets.token_hex(12)
    env = dict(env, CLAWBOO_ENABLE_MOCK_RUNTIME="1", OPENAI_API_KEY=marker)
    fakes.add_secret_spy(marker)
    (data / "secrets").mkdir(parents=True, mode=0o700)
    (data / "secrets" / "master.key").write_text("stored-master-key\n")
    with server_process(["--port", "0"], env, data, unprivileged=True) as port:
        base = f"http://127.0.0.1:{port}"
        pid = serving_pid(port)
        dirs = " ".join(str(d) for d in extra_dirs)
        task = httpx.post(
            f"{base}/api/board/tasks",
            json={"title": "spy", "description": f"!exec spy {pid} {data / 'secrets'} {dirs}"},
        ).json()["task"]
        body = httpx.post(
            f"{base}/api/runtimes/{MOCK}/run",
            json={"taskId": task["id"], "kind": "research"},
            timeout=60,
        ).json()
    assert body["doneReason"] == "success", body
    return fakes.spied()


def test_a_run_cannot_read_the_servers_environment(tmp_path, clawboo_env, fake_executables):
    env = dict(clawboo_env, CLAWBOO_HOME=str(tmp_path / "data"))
    got = spy_run(tmp_path, env, fake_executables)
    assert "server_environ" not in got
    assert got["server_environ_error"]
    assert got["environs_with_marker"] == []


def test_make_undumpable_clears_the_flag_of_this_process_only():
    import subprocess
    import sys

    if is_dumpable() is None:
        pytest.skip("Linux only")
    code = (
        "from clawboo_host.isolation import is_dumpable, make_undumpable; "
        "assert is_dumpable(); assert make_undumpable(); assert not is_dumpable(); "
        "import subprocess, sys; "
        "sys.exit(subprocess.call([sys.executable, '-c', "
        "'from clawboo_host.isolation import is_dumpable; assert is_dumpable()']))"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
    assert is_dumpable()  # the test process itself was left alone


def test_the_sandbox_hides_the_secrets_and_keeps_a_runs_own_dirs(tmp_path):
    sandbox = Sandbox("/usr/bin/bwrap", (tmp_path / "secrets", tmp_path / "runtimes"))
    own = tmp_path / "runtimes" / "codex" / "a1"
    argv = sandbox.argv(["cli", "-p", "x"], [own, tmp_path / "elsewhere"])
    assert argv[0] == "/usr/bin/bwrap" and argv[-4:] == ["--", "cli", "-p", "x"]
    assert "--unshare-pid" in argv and "--die-with-parent" in argv
    assert argv[argv.index("--tmpfs") + 1] == str(tmp_path / "secrets")
    assert ["--bind", str(own), str(own)] == argv[argv.index("--bind") : argv.index("--bind") + 3]
    assert str(tmp_path / "elsewhere") not in argv  # not under a hidden dir: nothing to bind
