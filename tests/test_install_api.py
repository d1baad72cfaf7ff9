"""POST /api/runtimes/:id/install over real HTTP with fake npm/pipx/python on PATH."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from clawboo_host.plugin_api import Capabilities, InstallSpec, RuntimeDescriptor, hookimpl
from clawboo_host.testing.fakes import still_running

SLOW_NPM_WITH_GRANDCHILD = """
import os, subprocess, sys, time, signal
signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)"])
with open(os.environ["PIDS_FILE"], "w") as fh:
    fh.write(f"{os.getpid()} {child.pid}")
print("npm http fetch GET 200 https://registry.npmjs.org/pkg", flush=True)
time.sleep(120)
"""


def frames(text: str) -> list[dict]:
    out = []
    for block in text.split("\n\n"):
        if block.strip():
            assert block.startswith("data: "), block
            out.append(json.loads(block[len("data: ") :]))
    return out


def install(client, rid: str) -> tuple[int, str, list[dict]]:
    response = client.post(f"/api/runtimes/{rid}/install")
    if response.headers["content-type"].startswith("text/event-stream"):
        return response.status_code, response.headers["content-type"], frames(response.text)
    return response.status_code, response.headers["content-type"], [response.json()]


@pytest.fixture
def host(clawboo_host_factory):
    with clawboo_host_factory().client() as client:
        yield client


def test_claude_code_installs_with_npm(host, fake_executables):
    fake_executables.add_recording("npm", stdout_lines=["", "added 1 package in 3s"])
    status, ctype, events = install(host, "claude-code")
    assert status == 200 and ctype.startswith("text/event-stream")
    assert fake_executables.calls("npm")[0]["argv"] == [
        "install",
        "-g",
        "@anthropic-ai/claude-code@2",
    ]
    assert events[0] == {
        "type": "progress",
        "step": "installing",
        "message": "Installing Claude Code…",
    }
    assert {"type": "output", "line": "added 1 package in 3s"} in events
    assert events[-1]["type"] == "complete" and events[-1]["success"] is True
    assert "isn't on PATH" in events[-1]["warning"]  # the fake npm installed nothing


def test_a_completed_install_shows_up_as_installed(host, fake_executables):
    fake_executables.add(
        "npm",
        f"import pathlib, stat\np = pathlib.Path({str(fake_executables.bin_dir)!r}) / 'codex'\n"
        "p.write_text('#!/bin/sh\\necho Not logged in\\n'); p.chmod(0o755)\nprint('added 1 package')\n",
    )
    assert {r["id"]: r for r in host.get("/api/runtimes").json()["runtimes"]}["codex"][
        "installed"
    ] is False
    _, _, events = install(host, "codex")
    assert events[-1] == {"type": "complete", "success": True}
    codex = {r["id"]: r for r in host.get("/api/runtimes").json()["runtimes"]}["codex"]
    assert codex["installed"] is True and codex["connectionState"] == "needs-login"


def test_npm_missing(host, fake_executables):
    _, _, events = install(host, "codex")
    assert events[-1] == {
        "type": "error",
        "code": "NPM_MISSING",
        "message": "npm not found. Install Node.js (which bundles npm) and retry.",
    }


def test_permission_denied_then_exit_code(host, fake_executables):
    fake_executables.add_recording(
        "npm", stderr_lines=["npm ERR! code EACCES", "npm ERR! syscall mkdir"], exit_code=243
    )
    _, _, events = install(host, "claude-code")
    kinds = [(e["type"], e.get("code")) for e in events]
    eacces = kinds.index(("error", "EACCES"))
    assert events[eacces + 1] == {"type": "output", "line": "npm ERR! code EACCES"}
    assert "sudo npm install -g @anthropic-ai/claude-code@2" in events[eacces]["message"]
    assert events[-1] == {
        "type": "error",
        "code": "EXIT_243",
        "message": "Installation failed with exit code 243",
    }


def test_hermes_prefers_pipx_with_a_compatible_python(host, fake_executables):
    fake_executables.add_recording("pipx", stdout_lines=["installed package hermes-agent 0.19.0"])
    _, _, events = install(host, "hermes")
    argv = fake_executables.calls("pipx")[0]["argv"]
    assert (
        argv[0] == "install"
        and argv[1] == "--python"
        and argv[-1] == "hermes-agent[anthropic,mcp]<1"
    )
    assert events[:2] == [
        {"type": "progress", "step": "installing", "message": "Installing Hermes…"},
        {"type": "progress", "step": "installing", "message": "Installing via pipx…"},
    ]
    assert events[-1]["type"] == "complete"


def test_hermes_pip_retries_once_on_pep_668(host, fake_executables):
    calls = fake_executables.bin_dir / "py.calls"
    fake_executables.add(
        "python3.12",
        f"""
        import sys
        if sys.argv[1:2] == ["-c"]:
            print(12); sys.exit(0)
        with open({str(calls)!r}, "a") as fh: fh.write(" ".join(sys.argv[1:]) + "\\n")
        if "--break-system-packages" in sys.argv:
            print("Successfully installed hermes-agent-0.19.0"); sys.exit(0)
        print("error: externally-managed-environment", file=sys.stderr); sys.exit(1)
        """,
    )
    _, _, events = install(host, "hermes")
    lines = calls.read_text().splitlines()
    assert lines == [
        "-m pip install --user hermes-agent[anthropic,mcp]<1",
        "-m pip install --user --break-system-packages hermes-agent[anthropic,mcp]<1",
    ]
    steps = [e.get("step") for e in events if e["type"] == "progress"]
    assert steps == ["installing", "retrying"]
    assert events[-1]["type"] == "complete"


def test_hermes_without_python(clawboo_host_factory, clawboo_env, fake_executables):
    env = dict(
        clawboo_env, PATH=f"{fake_executables.bin_dir}:{fake_executables.system_dir(python=False)}"
    )
    with clawboo_host_factory(env=env).client() as client:
        _, _, events = install(client, "hermes")
    assert events[-1]["code"] == "PYTHON_MISSING"
    assert "3.11+" in events[-1]["message"]


def test_hermes_with_only_an_old_python(clawboo_host_factory, clawboo_env, fake_executables):
    fake_executables.add(
        "python3", "import sys\nprint(9)\n", shebang="#!/bin/sh\necho 9; exit 0\n#"
    )
    env = dict(
        clawboo_env, PATH=f"{fake_executables.bin_dir}:{fake_executables.system_dir(python=False)}"
    )
    with clawboo_host_factory(env=env).client() as client:
        _, _, events = install(client, "hermes")
    assert events[-1]["code"] == "PYTHON_TOO_OLD"
    assert "3.11" in events[-1]["message"] and "3.9" in events[-1]["message"]


def test_native_is_built_in(host, fake_executables):
    fake_executables.add_recording("npm")
    status, ctype, body = install(host, "clawboo-native")
    assert status == 400 and ctype.startswith("application/json")
    assert body == [{"error": "Clawboo Native is built in — nothing to install"}]
    assert fake_executables.calls("npm") == []


def _start_slow_install(server, fake_executables, tmp_path, rid="claude-code"):
    pids_file = tmp_path / "npm.pids"
    fake_executables.add("npm", SLOW_NPM_WITH_GRANDCHILD)
    client = httpx.Client(base_url=server.url, timeout=30)
    stream = client.stream("POST", f"/api/runtimes/{rid}/install")
    response = stream.__enter__()
    lines = response.iter_lines()
    for line in lines:
        if line.startswith("data: ") and '"output"' in line:
            break
    deadline = time.monotonic() + 30
    while not pids_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    pids = [int(p) for p in pids_file.read_text().split()]
    return client, stream, pids


def test_a_second_install_is_409_and_a_disconnect_kills_the_tree(
    clawboo_host_factory, clawboo_env, fake_executables, tmp_path
):
    server = clawboo_host_factory(env=dict(clawboo_env, PIDS_FILE=str(tmp_path / "npm.pids")))
    client, stream, pids = _start_slow_install(server, fake_executables, tmp_path)
    with server.client() as other:
        second = other.post("/api/runtimes/claude-code/install")
        assert second.status_code == 409
        assert second.json() == {"error": "an install of 'claude-code' is already running"}
    stream.__exit__(None, None, None)
    client.close()
    assert still_running(pids, timeout=15) == []
    fake_executables.add_recording("npm", stdout_lines=["added 1 package"])
    deadline = time.monotonic() + 10
    with server.client() as again:
        while True:  # the lock is released once the server notices the disconnect
            status, _, events = install(again, "claude-code")
            if status == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    assert status == 200 and events[-1]["type"] == "complete"


def test_an_install_past_the_timeout_ends_with_timeout(
    clawboo_host_factory, clawboo_env, fake_executables, tmp_path
):
    pids_file = tmp_path / "npm.pids"
    fake_executables.add("npm", SLOW_NPM_WITH_GRANDCHILD)
    env = dict(clawboo_env, PIDS_FILE=str(pids_file), CLAWBOO_INSTALL_TIMEOUT_S="1")
    with clawboo_host_factory(env=env).client() as client:
        _, _, events = install(client, "claude-code")
    assert events[-1]["type"] == "error" and events[-1]["code"] == "TIMEOUT"
    pids = [int(p) for p in pids_file.read_text().split()]
    assert still_running(pids, timeout=15) == []


def test_output_lines_split_across_writes_arrive_whole(host, fake_executables):
    fake_executables.add(
        "npm",
        "import sys, time\nsys.stdout.write('added 12'); sys.stdout.flush(); time.sleep(0.3)\n"
        "sys.stdout.write('3 packages\\n'); sys.stdout.flush()\n",
    )
    _, _, events = install(host, "claude-code")
    assert {"type": "output", "line": "added 123 packages"} in events


class _BrokenInstaller:
    """A third-party plugin whose install hook is not an async generator: one raises when
    called, the other returns a plain list."""

    def __init__(self, rid: str, mode: str) -> None:
        self.rid, self.mode = rid, mode

    @hookimpl
    def clawboo_runtime_descriptor(self):
        return RuntimeDescriptor(
            id=self.rid,
            name="Broken",
            cli_binary="broken-cli",
            install=InstallSpec(method="npm", package="broken-cli@1"),
            auth_kind="none",
            docs_url="https://x.invalid",
            capabilities=Capabilities(
                streaming=True, mcp=False, worktrees=False, resume=False, tool_approval=False
            ),
        )

    @hookimpl
    def clawboo_runtime_install(self, ctx):
        if self.mode == "raise":
            raise RuntimeError("install hook exploded")
        return ["not an async iterator"]


@pytest.mark.parametrize("mode", ["raise", "list"])
def test_an_install_hook_that_is_not_an_async_generator_ends_with_an_error_frame(
    clawboo_host_factory, mode
):
    server = clawboo_host_factory(plugins=[("broken", _BrokenInstaller("broken", mode))])
    with server.client() as client:
        status, content_type, events = install(client, "broken")
        assert status == 200 and content_type.startswith("text/event-stream")
        assert events[0]["type"] == "progress"
        assert events[-1]["type"] == "error" and events[-1]["code"] == "SPAWN_THROW"
        # the install lock was released: a retry streams again instead of a 409
        status, _, events = install(client, "broken")
        assert status == 200 and events[-1]["code"] == "SPAWN_THROW"
