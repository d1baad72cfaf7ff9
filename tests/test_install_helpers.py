"""npm_install / find_python / pip_install against fake npm, pipx and pythons on a temp PATH."""

from __future__ import annotations

import json
import os
import sys
from contextlib import aclosing
from pathlib import Path

import anyio
import pytest

from clawboo_host.plugin_api.binaries import clear_npm_prefix_cache
from clawboo_host.plugin_api.install import (
    Interpreter,
    PythonChoice,
    find_python,
    npm_install,
    pip_install,
)
from clawboo_host.plugin_api.types import (
    InstallComplete,
    InstallError,
    InstallOutput,
    InstallProgress,
)
from clawboo_host.testing.fakes import FakeExecutables, still_running

PY = f"#!{sys.executable}"
LIMIT = 60  # seconds: an upper bound against hangs, never a timing assertion
CLAUDE = "@anthropic-ai/claude-code@2"
HERMES = "hermes-agent[anthropic,mcp]<1"
EACCES_NPM = (
    "Permission denied. A global install may require elevated permissions. "
    f"Try: sudo npm install -g {CLAUDE}"
)
PIPX_PROGRESS = InstallProgress("installing", "Installing via pipx…")
RETRYING = InstallProgress(
    "retrying", "Externally-managed environment detected; retrying with --break-system-packages…"
)
PYTHON_MISSING_311 = (
    "Python 3.11+ (with pip or pipx) not found. Install it (e.g. `brew install python@3.12` "
    "or `brew install pipx`), then Retry."
)


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
def env(fakes: FakeExecutables, tmp_path: Path) -> dict[str, str]:
    """No python3 on PATH (the fakes below run this interpreter by absolute path)."""
    return fakes.path_env({"NPM_CONFIG_PREFIX": str(tmp_path / "npm-prefix")}, python=False)


@pytest.fixture
def piddir(tmp_path: Path) -> Path:
    path = tmp_path / "pids"
    path.mkdir()
    return path


async def collect(gen) -> list:
    with anyio.fail_after(LIMIT):
        async with aclosing(gen) as events:
            return [event async for event in events]


def read_log(path: Path) -> list:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


# --------------------------------------------------------------------------- npm


@pytest.mark.anyio
async def test_npm_missing_spawns_nothing(fakes, env):
    fake = fakes.add_recording("npm")
    fake.chmod(0o644)  # present but not executable: does not resolve
    events = await collect(npm_install(CLAUDE, env=env))
    assert events == [
        InstallError("NPM_MISSING", "npm not found. Install Node.js (which bundles npm) and retry.")
    ]
    assert fakes.calls("npm") == []


@pytest.mark.anyio
async def test_npm_success_streams_whole_non_empty_lines_then_complete(fakes, env):
    fake = fakes.add_recording("npm", stdout_lines=["added 1 package in 2s", "", "   "])
    events = await collect(npm_install(CLAUDE, env=env))
    assert events == [
        InstallOutput("added 1 package in 2s"),
        InstallOutput("   "),  # whitespace-only lines are kept, empty ones dropped
        InstallComplete(),
    ]
    (call,) = fakes.calls("npm")
    assert call["argv"] == ["install", "-g", CLAUDE]
    assert call["program"] == str(fake)  # the resolved path is spawned
    assert [e.to_json() for e in events][-1] == {"type": "complete", "success": True}


@pytest.mark.anyio
async def test_npm_output_split_across_reads_is_one_frame(fakes, env):
    fakes.add(
        "npm",
        r"""
        import sys, time
        sys.stdout.write("added 12 pack"); sys.stdout.flush(); time.sleep(0.2)
        sys.stdout.write("ages\r\nchanged 3"); sys.stdout.flush(); time.sleep(0.2)
        sys.stdout.write(" packages")
        """,
        shebang=PY,
    )
    events = await collect(npm_install(CLAUDE, env=env))
    assert events == [
        InstallOutput("added 12 packages"),
        InstallOutput("changed 3 packages"),
        InstallComplete(),
    ]


@pytest.mark.anyio
async def test_npm_resolved_from_home_local_bin(fakes, env, tmp_path):
    home_bin = FakeExecutables(Path(env["HOME"]) / ".local" / "bin")
    fake = home_bin.add_recording("npm", stdout_lines=["ok"])
    events = await collect(npm_install(CLAUDE, env=env))
    assert events == [InstallOutput("ok"), InstallComplete()]
    assert home_bin.calls("npm")[0]["program"] == str(fake)


@pytest.mark.anyio
async def test_npm_passes_env_and_keeps_the_package_one_argument(fakes, env, tmp_path):
    fakes.add_recording("npm", record_env_values=["MARKER"])
    weird = "pkg@1 ; touch pwned $(touch pwned2) `touch pwned3`"
    events = await collect(npm_install(weird, env={**env, "MARKER": "yes"}))
    assert events == [InstallComplete()]
    (call,) = fakes.calls("npm")
    assert call["argv"] == ["install", "-g", weird]
    assert call["env_values"] == {"MARKER": "yes"}
    assert not any(Path(call["cwd"], name).exists() for name in ("pwned", "pwned2", "pwned3"))


@pytest.mark.anyio
async def test_npm_eacces_is_advisory_precedes_its_line_and_repeats(fakes, env):
    fakes.add_recording(
        "npm",
        stderr_lines=[
            "npm ERR! code EACCES",
            "npm ERR! syscall mkdir",
            "npm ERR! Error: PERMISSION DENIED, mkdir '/usr/lib/node_modules'",
        ],
        exit_code=243,
    )
    events = await collect(npm_install(CLAUDE, env=env))
    assert events == [
        InstallError("EACCES", EACCES_NPM),
        InstallOutput("npm ERR! code EACCES"),
        InstallOutput("npm ERR! syscall mkdir"),
        InstallError("EACCES", EACCES_NPM),
        InstallOutput("npm ERR! Error: PERMISSION DENIED, mkdir '/usr/lib/node_modules'"),
        InstallError("EXIT_243", "Installation failed with exit code 243"),
    ]


@pytest.mark.anyio
async def test_npm_eacces_on_stdout_is_just_output(fakes, env):
    fakes.add_recording("npm", stdout_lines=["permission denied (just chatter)"])
    events = await collect(npm_install(CLAUDE, env=env))
    assert events == [InstallOutput("permission denied (just chatter)"), InstallComplete()]


@pytest.mark.anyio
async def test_npm_non_zero_exit(fakes, env):
    fakes.add_recording("npm", stderr_lines=["npm ERR! 404 Not Found"], exit_code=1)
    events = await collect(npm_install(CLAUDE, env=env))
    assert events == [
        InstallOutput("npm ERR! 404 Not Found"),
        InstallError("EXIT_1", "Installation failed with exit code 1"),
    ]
    assert events[-1].to_json() == {
        "type": "error",
        "code": "EXIT_1",
        "message": "Installation failed with exit code 1",
    }


@pytest.mark.anyio
async def test_npm_killed_by_a_signal_is_exit_null(fakes, env):
    fakes.add("npm", "echo about to die\nkill -9 $$\n", shebang="#!/bin/sh")
    events = await collect(npm_install(CLAUDE, env=env))
    assert events == [
        InstallOutput("about to die"),
        InstallError("EXIT_null", "Installation failed with exit code null"),
    ]


@pytest.mark.anyio
async def test_npm_that_cannot_be_executed_is_spawn_error(fakes, env):
    fakes.add("npm", "", shebang="#!/nonexistent/interpreter")
    events = await collect(npm_install(CLAUDE, env=env))
    assert len(events) == 1
    assert events[0].code == "SPAWN_ERROR"
    assert "No such file or directory" in events[0].message


@pytest.mark.anyio
async def test_npm_with_an_unexecutable_format_is_spawn_error(fakes, env):
    fakes.add("npm", "\x7fELF garbage, not a program\n", shebang="")
    events = await collect(npm_install(CLAUDE, env=env))
    assert [e.code for e in events] == ["SPAWN_ERROR"]
    assert events[0].message


@pytest.mark.anyio
async def test_a_synchronous_non_os_error_is_spawn_throw(fakes, env):
    fakes.add_recording("npm")
    events = await collect(npm_install("bad\x00package", env=env))
    assert [e.code for e in events] == ["SPAWN_THROW"]
    assert "null" in events[0].message
    assert fakes.calls("npm") == []


# The npm fake for cancellation: it starts a grandchild that escapes the process group
# and ignores SIGTERM, reports both pids, then hangs.
HANGING_NPM = r"""
import os, signal, subprocess, sys, time
piddir = {piddir!r}
ready = os.path.join(piddir, "grandchild-ready")
child = subprocess.Popen(
    [sys.executable, "-c",
     "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
     "open(sys.argv[1], 'w').close(); time.sleep(300)", ready],
    start_new_session=True,
)
while not os.path.exists(ready):  # its SIGTERM handler is in place
    time.sleep(0.02)
with open(os.path.join(piddir, "pids"), "w") as fh:
    fh.write("%d %d" % (os.getpid(), child.pid))
print("started", flush=True)
time.sleep(300)
"""


def hanging(fakes: FakeExecutables, name: str, piddir: Path) -> None:
    fakes.add(name, HANGING_NPM.format(piddir=str(piddir)), shebang=PY)


def pids_in(piddir: Path) -> list[int]:
    return [int(p) for p in (piddir / "pids").read_text().split()]


@pytest.mark.anyio
async def test_cancelling_the_consumer_kills_the_npm_tree(fakes, env, piddir):
    hanging(fakes, "npm", piddir)
    seen = []
    with anyio.fail_after(LIMIT):
        with anyio.CancelScope() as scope:
            async with aclosing(npm_install(CLAUDE, env=env)) as events:
                async for event in events:
                    seen.append(event)
                    scope.cancel()  # e.g. the client went away while we sent the frame
        assert scope.cancelled_caught
    assert seen == [InstallOutput("started")]
    assert still_running(pids_in(piddir)) == []


@pytest.mark.anyio
async def test_a_timeout_around_the_consumer_kills_the_npm_tree(fakes, env, piddir):
    hanging(fakes, "npm", piddir)
    seen = []
    with anyio.fail_after(LIMIT):
        with anyio.move_on_after(1.5) as scope:
            async with aclosing(npm_install(CLAUDE, env=env)) as events:
                async for event in events:
                    seen.append(event)
        assert scope.cancelled_caught
    assert seen == [InstallOutput("started")]
    assert still_running(pids_in(piddir)) == []


@pytest.mark.anyio
async def test_closing_the_generator_early_kills_the_npm_tree(fakes, env, piddir):
    hanging(fakes, "npm", piddir)
    with anyio.fail_after(LIMIT):
        async with aclosing(npm_install(CLAUDE, env=env)) as events:
            async for event in events:
                assert event == InstallOutput("started")
                break  # aclosing closes the generator: GeneratorExit at its yield
    assert still_running(pids_in(piddir)) == []


# --------------------------------------------------------------------------- find_python


def sh_python(
    fakes: FakeExecutables,
    name: str,
    output: str,
    *,
    exit_code: int = 0,
    log: Path | None = None,
    directory: Path | None = None,
) -> Path:
    target = fakes if directory is None else FakeExecutables(directory)
    logging = f'echo "$0 $*" >> "{log}"\n' if log else ""
    return target.add(name, f"{logging}echo '{output}'\nexit {exit_code}\n", shebang="#!/bin/sh")


@pytest.mark.anyio
async def test_find_python_picks_compatible_and_best_and_dedupes(fakes, env, tmp_path):
    log = tmp_path / "probes.log"
    py312 = sh_python(fakes, "python3.12", "12 3.12", log=log)
    py3 = sh_python(fakes, "python3", "9 3.9", log=log)
    sh_python(fakes, "python3.13", "garbage", log=log)  # unparseable: skipped
    sh_python(fakes, "python3.11", "11 3.11", exit_code=1, log=log)  # fails: skipped
    os.symlink(py3, fakes.bin_dir / "python")  # same interpreter as python3
    with anyio.fail_after(LIMIT):
        choice = await find_python(11, env)
        older = await find_python(13, env)
    assert choice == PythonChoice(
        compatible=Interpreter(str(py312), 12, "3.12"), best=Interpreter(str(py312), 12, "3.12")
    )
    assert older == PythonChoice(compatible=None, best=Interpreter(str(py312), 12, "3.12"))
    probed = [line.split()[0] for line in log.read_text().splitlines()]
    assert sorted(probed) == sorted(
        [str(fakes.bin_dir / n) for n in ("python3.12", "python3", "python3.13", "python3.11")] * 2
    )
    assert all(" -c " in line for line in log.read_text().splitlines())


@pytest.mark.anyio
async def test_find_python_minor_only_output_and_python2(fakes, env):
    py2 = sh_python(fakes, "python", "-1 2.7")
    py3 = sh_python(fakes, "python3", "10")
    with anyio.fail_after(LIMIT):
        choice = await find_python(11, env)
        none_needed = await find_python(None, env)
    assert choice == PythonChoice(None, Interpreter(str(py3), 10, "3.10"))
    assert none_needed.compatible == Interpreter(str(py3), 10, "3.10")
    (fakes.bin_dir / "python3").unlink()
    with anyio.fail_after(LIMIT):
        choice = await find_python(11, env)
    assert choice == PythonChoice(None, Interpreter(str(py2), -1, "2.7"))


@pytest.mark.anyio
async def test_find_python_probes_a_real_interpreter(fakes):
    env = fakes.path_env()  # its python3 runs this test's interpreter
    with anyio.fail_after(LIMIT):
        choice = await find_python(sys.version_info.minor, env)
    expected = Interpreter(
        str(fakes.system_dir() / "python3"),
        sys.version_info.minor,
        f"{sys.version_info.major}.{sys.version_info.minor}",
    )
    assert choice == PythonChoice(expected, expected)
    with anyio.fail_after(LIMIT):
        too_new = await find_python(sys.version_info.minor + 1, env)
    assert too_new == PythonChoice(None, expected)


@pytest.mark.anyio
async def test_find_python_with_no_python_at_all(env):
    with anyio.fail_after(LIMIT):
        assert await find_python(11, env) == PythonChoice(None, None)


@pytest.mark.anyio
async def test_find_python_hanging_probe_is_skipped(fakes, env, piddir):
    py = sh_python(fakes, "python3", "12 3.12")
    fakes.add("python3.13", f'echo $$ > "{piddir}/hung.pid"\nexec sleep 300\n', shebang="#!/bin/sh")
    with anyio.fail_after(LIMIT):
        choice = await find_python(11, env, timeout=1.0)
    assert choice == PythonChoice(
        Interpreter(str(py), 12, "3.12"), Interpreter(str(py), 12, "3.12")
    )
    assert still_running([int((piddir / "hung.pid").read_text())]) == []


@pytest.mark.anyio
async def test_find_python_probes_concurrently(fakes, env, tmp_path):
    # Each probe waits for the other's marker; run one after the other, both would fail.
    marks = tmp_path / "marks"
    marks.mkdir()
    for name, other, out in (
        ("python3.12", "python3", "12 3.12"),
        ("python3", "python3.12", "9 3.9"),
    ):
        fakes.add(
            name,
            f"""
            touch "{marks}/{name}"
            i=0
            while [ ! -e "{marks}/{other}" ]; do
                i=$((i + 1)); [ $i -gt 400 ] && exit 1
                sleep 0.05
            done
            echo '{out}'
            """,
            shebang="#!/bin/sh",
        )
    with anyio.fail_after(LIMIT):
        choice = await find_python(11, env, timeout=30)
    assert choice.compatible is not None and choice.compatible.minor == 12
    assert choice.best is not None and choice.best.minor == 12


# --------------------------------------------------------------------------- pip_install

FAKE_PIP_PYTHON = r"""
import json, sys
args = sys.argv[1:]
if args[:1] == ["-c"]:
    print({probe!r})
    sys.exit(0)
with open({log!r}, "a") as fh:
    fh.write(json.dumps(args) + "\n")
mode = {mode!r}
retry = "--break-system-packages" in args
if mode == "ok" or (mode == "pep668" and retry):
    print("Successfully installed hermes-agent-0.4.0")
    sys.exit(0)
if mode in ("pep668", "pep668-always"):
    print("Defaulting to user installation", flush=True)
    sys.stderr.write("error: externally-managed-environment\n")
    sys.stderr.write("\n")
    sys.stderr.write("x This environment is externally managed\n")
    sys.exit(1)
if mode == "marker-on-stdout":
    print("error: externally-managed-environment")
    sys.exit(1)
if mode == "denied":
    sys.stderr.write("ERROR: Could not install: [Errno 13] Permission denied: '/x'\n")
    sys.exit(1)
sys.stderr.write("ERROR: No matching distribution found\n")
sys.exit(2)
"""


def pip_python(
    fakes: FakeExecutables,
    tmp_path: Path,
    mode: str,
    *,
    name: str = "python3.12",
    probe: str = "12 3.12",
) -> tuple[Path, Path]:
    log = tmp_path / f"{name}.pip.log"
    path = fakes.add(name, FAKE_PIP_PYTHON.format(probe=probe, log=str(log), mode=mode), shebang=PY)
    return path, log


@pytest.mark.anyio
async def test_pipx_is_preferred_and_gets_the_compatible_python(fakes, env, tmp_path):
    py, pip_log = pip_python(fakes, tmp_path, "ok")
    pipx = fakes.add_recording("pipx", stdout_lines=["installed package hermes-agent 0.4.0"])
    events = await collect(pip_install(HERMES, min_minor=11, env=env, display_name="Hermes"))
    assert events == [
        PIPX_PROGRESS,
        InstallOutput("installed package hermes-agent 0.4.0"),
        InstallComplete(),
    ]
    (call,) = fakes.calls("pipx")
    assert call["program"] == str(pipx)
    assert call["argv"] == ["install", "--python", str(py), HERMES]
    assert read_log(pip_log) == []  # python was only probed


@pytest.mark.anyio
async def test_pipx_without_a_compatible_python_gets_no_python_flag(fakes, env, tmp_path):
    sh_python(fakes, "python3", "9 3.9")
    fakes.add_recording("pipx", stdout_lines=["done"])
    events = await collect(pip_install(HERMES, min_minor=11, env=env, display_name="Hermes"))
    assert events == [PIPX_PROGRESS, InstallOutput("done"), InstallComplete()]
    assert fakes.calls("pipx")[0]["argv"] == ["install", HERMES]


@pytest.mark.anyio
async def test_pipx_eacces_and_failure(fakes, env):
    fakes.add_recording(
        "pipx", stderr_lines=["OSError: [Errno 13] Permission denied: '/opt'"], exit_code=1
    )
    events = await collect(pip_install(HERMES, min_minor=11, env=env, display_name="Hermes"))
    assert events == [
        PIPX_PROGRESS,
        InstallError(
            "EACCES",
            "Permission denied. A global install may require elevated permissions. "
            f"Try: sudo pipx install '{HERMES}'",
        ),
        InstallOutput("OSError: [Errno 13] Permission denied: '/opt'"),
        InstallError("EXIT_1", "Installation failed with exit code 1"),
    ]


@pytest.mark.anyio
async def test_no_pipx_and_no_python_is_python_missing(fakes, env):
    events = await collect(pip_install(HERMES, min_minor=11, env=env, display_name="Hermes"))
    assert events == [InstallError("PYTHON_MISSING", PYTHON_MISSING_311)]
    events = await collect(pip_install(HERMES, min_minor=10, env=env, display_name="Hermes"))
    assert events[0].message.startswith("Python 3.10+ (with pip or pipx) not found.")


@pytest.mark.anyio
async def test_only_the_xcode_python_is_too_old(fakes, env, tmp_path):
    xcode_bin = tmp_path / "Library" / "Developer" / "CommandLineTools" / "usr" / "bin"
    log = tmp_path / "xcode.log"
    sh_python(fakes, "python3", "9 3.9", log=log, directory=xcode_bin)
    path_env = {**env, "PATH": f"{env['PATH']}{os.pathsep}{xcode_bin}"}
    events = await collect(pip_install(HERMES, min_minor=11, env=path_env, display_name="Hermes"))
    assert events == [
        InstallError(
            "PYTHON_TOO_OLD",
            "Hermes needs Python 3.11 or newer, but the Python on this machine is 3.9 "
            "(Xcode Command Line Tools). Install a newer Python (e.g. `brew install "
            "python@3.12`) or pipx (`brew install pipx`), then Retry.",
        )
    ]
    assert all(" -c " in line for line in log.read_text().splitlines())  # probes only


@pytest.mark.anyio
async def test_a_plain_old_python_is_too_old_without_the_xcode_note(fakes, env):
    sh_python(fakes, "python3", "10 3.10")
    events = await collect(pip_install(HERMES, min_minor=12, env=env, display_name="Hermes Agent"))
    assert events == [
        InstallError(
            "PYTHON_TOO_OLD",
            "Hermes Agent needs Python 3.12 or newer, but the Python on this machine is 3.10. "
            "Install a newer Python (e.g. `brew install python@3.12`) or pipx "
            "(`brew install pipx`), then Retry.",
        )
    ]


@pytest.mark.anyio
async def test_pip_user_install(fakes, env, tmp_path):
    _py, log = pip_python(fakes, tmp_path, "ok")
    events = await collect(pip_install(HERMES, min_minor=11, env=env, display_name="Hermes"))
    assert events == [InstallOutput("Successfully installed hermes-agent-0.4.0"), InstallComplete()]
    assert read_log(log) == [["-m", "pip", "install", "--user", HERMES]]


@pytest.mark.anyio
async def test_pip_uses_the_newest_compatible_python(fakes, env, tmp_path):
    _old, old_log = pip_python(fakes, tmp_path, "ok", name="python3.11", probe="11 3.11")
    _new, new_log = pip_python(fakes, tmp_path, "ok", name="python3.13", probe="13 3.13")
    events = await collect(pip_install(HERMES, min_minor=11, env=env, display_name="Hermes"))
    assert events[-1] == InstallComplete()
    assert read_log(old_log) == []
    assert read_log(new_log) == [["-m", "pip", "install", "--user", HERMES]]


@pytest.mark.anyio
async def test_pep668_retries_once_with_break_system_packages(fakes, env, tmp_path):
    _py, log = pip_python(fakes, tmp_path, "pep668")
    events = await collect(pip_install(HERMES, min_minor=11, env=env, display_name="Hermes"))
    retry_at = events.index(RETRYING)
    first, second = events[:retry_at], events[retry_at + 1 :]
    assert sorted(first, key=repr) == sorted(
        [
            InstallOutput("Defaulting to user installation"),
            InstallOutput("error: externally-managed-environment"),
            InstallOutput("x This environment is externally managed"),
        ],
        key=repr,
    )
    assert second == [InstallOutput("Successfully installed hermes-agent-0.4.0"), InstallComplete()]
    assert read_log(log) == [
        ["-m", "pip", "install", "--user", HERMES],
        ["-m", "pip", "install", "--user", "--break-system-packages", HERMES],
    ]


@pytest.mark.anyio
async def test_pep668_retry_failure_is_final(fakes, env, tmp_path):
    _py, log = pip_python(fakes, tmp_path, "pep668-always")
    events = await collect(pip_install(HERMES, min_minor=11, env=env, display_name="Hermes"))
    assert events.count(RETRYING) == 1
    assert events[-1] == InstallError("EXIT_1", "Installation failed with exit code 1")
    assert len(read_log(log)) == 2


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("mode", "code"), [("fail", "EXIT_2"), ("marker-on-stdout", "EXIT_1"), ("denied", "EXIT_1")]
)
async def test_pip_failures_without_the_stderr_marker_do_not_retry(
    fakes, env, tmp_path, mode, code
):
    _py, log = pip_python(fakes, tmp_path, mode)
    events = await collect(pip_install(HERMES, min_minor=11, env=env, display_name="Hermes"))
    assert RETRYING not in events
    assert not any(isinstance(e, InstallError) and e.code == "EACCES" for e in events)
    assert isinstance(events[-2], InstallOutput)
    assert events[-1] == InstallError(code, f"Installation failed with exit code {code[5:]}")
    assert len(read_log(log)) == 1


@pytest.mark.anyio
async def test_cancelling_a_pip_install_kills_its_tree(fakes, env, tmp_path, piddir):
    probe = 'import sys\nif sys.argv[1:2] == ["-c"]:\n    print("12 3.12")\n    sys.exit(0)\n'
    fakes.add("python3.12", probe + HANGING_NPM.format(piddir=str(piddir)), shebang=PY)
    with anyio.fail_after(LIMIT):
        with anyio.CancelScope() as scope:
            gen = pip_install(HERMES, min_minor=11, env=env, display_name="Hermes")
            async with aclosing(gen) as events:
                async for event in events:
                    assert event == InstallOutput("started")
                    scope.cancel()
    assert still_running(pids_in(piddir)) == []


@pytest.mark.anyio
async def test_frames_render_as_the_wire_json(fakes, env):
    fakes.add_recording("pipx", stdout_lines=["ok"])
    events = await collect(pip_install(HERMES, min_minor=11, env=env, display_name="Hermes"))
    assert [e.to_json() for e in events] == [
        {"type": "progress", "step": "installing", "message": "Installing via pipx…"},
        {"type": "output", "line": "ok"},
        {"type": "complete", "success": True},
    ]
