"""spawn / ManagedProcess / run_capture against real child processes (no mocks)."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from pathlib import Path

import anyio
import psutil
import pytest

from clawboo_host.plugin_api.process import (
    CompletedCapture,
    LaunchPolicy,
    ManagedProcess,
    kill_orphaned_groups,
    launch_policy,
    process_start_stamp,
    run_capture,
    run_capture_sync,
    spawn,
)
from clawboo_host.plugin_api.types import AbortSignal
from clawboo_host.testing.fakes import FakeExecutables, still_running

PY = f"#!{sys.executable}"
GRACE = 0.5  # SIGTERM → SIGKILL delay in these tests (the default 3 s is covered once)
LIMIT = 60  # seconds: an upper bound against hangs, never a timing assertion


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def fakes(tmp_path: Path) -> FakeExecutables:
    return FakeExecutables(tmp_path / "bin")


@pytest.fixture
def env(fakes: FakeExecutables) -> dict[str, str]:
    return fakes.path_env()


@pytest.fixture
def piddir(tmp_path: Path) -> Path:
    path = tmp_path / "pids"
    path.mkdir()
    return path


def read_pids(piddir: Path, *names: str) -> list[int]:
    return [int((piddir / f"{name}.pid").read_text().strip()) for name in names]


def is_alive(pid: int) -> bool:
    return bool(still_running([pid], timeout=0))


# A three-level tree. The root and the grandchild ignore SIGTERM; the middle child dies
# on it (orphaning the grandchild), and the grandchild escaped the process group with
# setsid — so only the descendants collected before the SIGTERM can reach it.
TREE_SCRIPT = r"""
import os, signal, subprocess, sys, time
role, piddir = sys.argv[1], sys.argv[2]
def write_pid(name):
    with open(os.path.join(piddir, name + ".pid.tmp"), "w") as fh:
        fh.write(str(os.getpid()))
    os.rename(os.path.join(piddir, name + ".pid.tmp"), os.path.join(piddir, name + ".pid"))
if role == "root":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    write_pid("root")
    subprocess.Popen([sys.executable, __file__, "child", piddir])
    while not os.path.exists(os.path.join(piddir, "grandchild.pid")):
        time.sleep(0.02)
    print("ready", flush=True)
    time.sleep(300)
elif role == "child":
    write_pid("child")
    subprocess.Popen([sys.executable, __file__, "grandchild", piddir], start_new_session=True)
    time.sleep(300)
else:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    write_pid("grandchild")
    time.sleep(300)
"""

# The same shape in sh: every level ignores TERM (`trap '' TERM` is inherited by `sleep`).
SH_ROOT = r"""
trap '' TERM
echo $$ > "$1/root.pid"
sh-child "$1" &
while [ ! -s "$1/grandchild.pid" ]; do sleep 0.05; done
echo ready
exec sleep 300
"""
SH_CHILD = r"""
trap '' TERM
echo $$ > "$1/child.pid"
sh-grandchild "$1" &
exec sleep 300
"""
SH_GRANDCHILD = r"""
trap '' TERM
echo $$ > "$1/grandchild.pid.tmp"
mv "$1/grandchild.pid.tmp" "$1/grandchild.pid"
exec sleep 300
"""


@pytest.fixture
def py_tree(fakes: FakeExecutables) -> Path:
    return fakes.add("tree", TREE_SCRIPT, shebang=PY)


@pytest.fixture
def sh_tree(fakes: FakeExecutables) -> Path:
    fakes.add("sh-child", SH_CHILD, shebang="#!/bin/sh")
    fakes.add("sh-grandchild", SH_GRANDCHILD, shebang="#!/bin/sh")
    return fakes.add("sh-root", SH_ROOT, shebang="#!/bin/sh")


async def first_line(proc: ManagedProcess) -> tuple[str, str]:
    async for item in proc.lines():
        return item
    raise AssertionError("no output")


# --------------------------------------------------------------------------- lines


@pytest.mark.anyio
async def test_lines_are_whole_even_when_split_across_reads(fakes, env):
    fakes.add(
        "chunky",
        r"""
        import sys, time
        out = sys.stdout.buffer
        out.write(b"hello wor"); out.flush(); time.sleep(0.2)
        out.write(b"ld\nsecond\r\n\nthird \xc3"); out.flush(); time.sleep(0.2)
        out.write(b"\xa9t\xe9\n"); out.flush(); time.sleep(0.2)
        out.write(b"no newline at the end"); out.flush()
        """,
        shebang=PY,
    )
    with anyio.fail_after(LIMIT):
        async with spawn(["chunky"], env=env) as proc:
            got = [item async for item in proc.lines()]
            assert await proc.wait() == 0
    assert got == [
        ("stdout", "hello world"),
        ("stdout", "second"),
        ("stdout", ""),
        ("stdout", "third ét\ufffd"),  # é split across reads; a lone \xe9 is replaced
        ("stdout", "no newline at the end"),
    ]
    assert proc.returncode == 0
    assert proc.aborted is False


@pytest.mark.anyio
async def test_lines_merge_stdout_and_stderr_in_order_per_stream(fakes, env):
    fakes.add(
        "both",
        r"""
        import sys, time
        for i in range(5):
            print(f"out {i}", flush=True)
            print(f"err {i}", file=sys.stderr, flush=True)
            time.sleep(0.01)
        sys.stderr.write("last err without newline")
        """,
        shebang=PY,
    )
    with anyio.fail_after(LIMIT):
        async with spawn(["both"], env=env) as proc:
            got = [item async for item in proc.lines()]
    assert [line for s, line in got if s == "stdout"] == [f"out {i}" for i in range(5)]
    assert [line for s, line in got if s == "stderr"] == [f"err {i}" for i in range(5)] + [
        "last err without newline"
    ]


@pytest.mark.anyio
async def test_stdout_lines_collects_stderr(fakes, env):
    fakes.add_recording("tool", stdout_lines=["a", "b", "  "], stderr_lines=["warn 1", "warn 2"])
    with anyio.fail_after(LIMIT):
        async with spawn(["tool"], env=env) as proc:
            assert [line async for line in proc.stdout_lines()] == ["a", "b", "  "]
            assert await proc.wait() == 0
    assert proc.stderr_text == "warn 1\nwarn 2"
    assert proc.stdout_text == "a\nb\n  "
    assert proc.last_stdout_line == "b"


@pytest.mark.anyio
async def test_stopping_early_keeps_the_rest_for_a_later_lines_call(fakes, env):
    fakes.add_recording("tool", stdout_lines=["1", "2", "3", "4"])
    with anyio.fail_after(LIMIT):
        async with spawn(["tool"], env=env) as proc:
            async for _stream, line in proc.lines():
                if line == "2":
                    break
            rest = [line async for _s, line in proc.lines()]
    assert rest == ["3", "4"]


@pytest.mark.anyio
async def test_wait_drains_a_chatty_child_that_nobody_reads(fakes, env):
    # 4 MB on each pipe: far more than the pipe and reader buffers hold.
    fakes.add(
        "chatty",
        r"""
        import sys
        for i in range(40000):
            sys.stdout.write("x" * 99 + "\n")
            sys.stderr.write("y" * 99 + "\n")
        print("the end")
        """,
        shebang=PY,
    )
    with anyio.fail_after(LIMIT):
        async with spawn(["chatty"], env=env) as proc:
            assert await proc.wait() == 0
    assert proc.last_stdout_line == "the end"
    assert proc.stdout_text.endswith("the end")
    assert len(proc.stdout_text) <= 1024 * 1024 + 200  # only the tail is kept


@pytest.mark.anyio
async def test_stdin_is_devnull_by_default_and_a_pipe_on_request(env):
    with anyio.fail_after(LIMIT):
        async with spawn(["cat"], env=env) as proc:
            assert proc.stdin is None
            assert [item async for item in proc.lines()] == []
            assert await proc.wait() == 0
        async with spawn(["cat"], env=env, stdin_devnull=False) as proc:
            assert proc.stdin is not None
            proc.stdin.write(b"fed through stdin\n")
            await proc.stdin.drain()
            proc.stdin.close()
            assert [item async for item in proc.lines()] == [("stdout", "fed through stdin")]
            assert await proc.wait() == 0


@pytest.mark.anyio
async def test_cwd_and_env_are_passed_and_argv_is_not_shell_parsed(fakes, env, tmp_path):
    fakes.add_recording("tool", record_env_values=["MARKER", "HOME"])
    workdir = tmp_path / "work dir"
    workdir.mkdir()
    with anyio.fail_after(LIMIT):
        async with spawn(
            ["tool", "a b", "$(touch pwned)", "; echo x"], cwd=workdir, env={**env, "MARKER": "m"}
        ) as proc:
            assert await proc.wait() == 0
    (call,) = fakes.calls("tool")
    assert call["argv"] == ["a b", "$(touch pwned)", "; echo x"]
    assert call["cwd"] == str(workdir)
    assert call["env_values"] == {"MARKER": "m", "HOME": env["HOME"]}
    assert not (workdir / "pwned").exists()


@pytest.mark.anyio
async def test_child_leads_its_own_process_group(env):
    with anyio.fail_after(LIMIT):
        async with spawn(["sleep", "5"], env=env) as proc:
            assert os.getpgid(proc.pid) == proc.pid
            assert os.getsid(proc.pid) == proc.pid
            await proc.kill_tree(grace=GRACE)
    assert proc.aborted is True


@pytest.mark.anyio
async def test_spawn_raises_for_missing_or_unexecutable_binaries(fakes, env, tmp_path):
    plain = tmp_path / "not-executable"
    plain.write_text("#!/bin/sh\necho hi\n")
    with anyio.fail_after(LIMIT):
        with pytest.raises(FileNotFoundError):
            async with spawn(["no-such-binary-anywhere"], env=env):
                pass
        with pytest.raises(PermissionError):
            async with spawn([str(plain)], env=env):
                pass


@pytest.mark.anyio
async def test_signal_death_gives_a_negative_returncode(fakes, env):
    fakes.add("suicide", "kill -9 $$\n", shebang="#!/bin/sh")
    with anyio.fail_after(LIMIT):
        async with spawn(["suicide"], env=env) as proc:
            assert [item async for item in proc.lines()] == []
            assert await proc.wait() == -signal.SIGKILL
    assert proc.aborted is False


# --------------------------------------------------------------------------- killing


@pytest.mark.anyio
async def test_kill_tree_kills_a_term_ignoring_tree_with_an_escaped_grandchild(
    py_tree, env, piddir
):
    with anyio.fail_after(LIMIT):
        async with spawn([str(py_tree), "root", str(piddir)], env=env, grace=GRACE) as proc:
            assert await first_line(proc) == ("stdout", "ready")
            pids = read_pids(piddir, "root", "child", "grandchild")
            assert all(is_alive(pid) for pid in pids)
            assert os.getpgid(pids[2]) != proc.pid  # the grandchild left our group
            await proc.kill_tree()
            assert proc.aborted is True
            assert proc.returncode == -signal.SIGKILL  # it ignored SIGTERM
            assert still_running(pids) == []
            await proc.kill_tree()  # a second call is harmless


@pytest.mark.anyio
async def test_kill_tree_uses_the_default_three_second_grace(sh_tree, env, piddir):
    with anyio.fail_after(LIMIT):
        async with spawn([str(sh_tree), str(piddir)], env=env) as proc:
            assert await first_line(proc) == ("stdout", "ready")
            pids = read_pids(piddir, "root", "child", "grandchild")
            await proc.kill_tree()
    assert still_running(pids) == []
    assert proc.aborted is True


@pytest.mark.anyio
async def test_kill_tree_on_a_term_respecting_child(env):
    with anyio.fail_after(LIMIT):
        async with spawn(["sleep", "300"], env=env, grace=30) as proc:
            await proc.kill_tree()
            assert proc.returncode == -signal.SIGTERM
    assert proc.aborted is True


@pytest.mark.anyio
async def test_abort_while_iterating_lines_kills_the_tree_and_ends_iteration(sh_tree, env, piddir):
    abort = AbortSignal()
    got = []
    with anyio.fail_after(LIMIT):
        async with spawn([str(sh_tree), str(piddir)], env=env, abort=abort, grace=GRACE) as proc:
            async for item in proc.lines():
                got.append(item)
                pids = read_pids(piddir, "root", "child", "grandchild")
                abort.set("client gone")
            assert proc.aborted is True
            assert still_running(pids, timeout=0) == []
    assert got == [("stdout", "ready")]
    assert abort.reason == "client gone"


@pytest.mark.anyio
async def test_abort_while_waiting_kills_the_tree(py_tree, env, piddir):
    abort = AbortSignal()
    with anyio.fail_after(LIMIT):
        async with spawn(
            [str(py_tree), "root", str(piddir)], env=env, abort=abort, grace=GRACE
        ) as proc:
            assert await first_line(proc) == ("stdout", "ready")
            pids = read_pids(piddir, "root", "child", "grandchild")
            async with anyio.create_task_group() as tg:
                tg.start_soon(proc.wait)
                await anyio.sleep(0.1)
                abort.set()
            assert proc.returncode is not None
            assert proc.aborted is True
    assert still_running(pids) == []


@pytest.mark.anyio
async def test_abort_set_before_reading(env):
    abort = AbortSignal()
    abort.set()
    with anyio.fail_after(LIMIT):
        async with spawn(["sh", "-c", "echo hi; exec sleep 300"], env=env, abort=abort) as proc:
            assert [item async for item in proc.lines()] == []
            assert proc.aborted is True
            assert proc.returncode is not None


@pytest.mark.anyio
async def test_cancellation_kills_the_tree(py_tree, env, piddir):
    with anyio.fail_after(LIMIT):
        with anyio.CancelScope() as scope:
            async with spawn([str(py_tree), "root", str(piddir)], env=env, grace=GRACE) as proc:
                async for _item in proc.lines():
                    pids = read_pids(piddir, "root", "child", "grandchild")
                    scope.cancel()
        assert scope.cancelled_caught
    assert proc.aborted is True
    assert still_running(pids) == []


@pytest.mark.anyio
async def test_cancellation_from_an_outer_timeout_kills_the_tree(sh_tree, env, piddir):
    with anyio.fail_after(LIMIT):
        with anyio.move_on_after(1) as scope:
            async with spawn([str(sh_tree), str(piddir)], env=env, grace=GRACE) as proc:
                assert await first_line(proc) == ("stdout", "ready")
                await proc.wait()  # never returns on its own
        assert scope.cancelled_caught
    assert proc.aborted is True
    assert still_running(read_pids(piddir, "root", "child", "grandchild")) == []


@pytest.mark.anyio
async def test_an_exception_in_the_block_kills_the_tree_and_propagates_unchanged(
    sh_tree, env, piddir
):
    class Boom(Exception):
        pass

    with anyio.fail_after(LIMIT):
        with pytest.raises(Boom):
            async with spawn([str(sh_tree), str(piddir)], env=env, grace=GRACE) as proc:
                assert await first_line(proc) == ("stdout", "ready")
                raise Boom()
    assert proc.aborted is True
    assert still_running(read_pids(piddir, "root", "child", "grandchild")) == []


@pytest.mark.anyio
async def test_leaving_normally_kills_stragglers_left_in_the_group(fakes, env, piddir):
    fakes.add(
        "leaves-one",
        """
        trap '' TERM
        sleep 300 </dev/null >/dev/null 2>&1 &
        echo $! > "$1/straggler.pid"
        echo done
        """,
        shebang="#!/bin/sh",
    )
    with anyio.fail_after(LIMIT):
        async with spawn(["leaves-one", str(piddir)], env=env) as proc:
            assert [item async for item in proc.lines()] == [("stdout", "done")]
            assert await proc.wait() == 0
            (straggler,) = read_pids(piddir, "straggler")
            assert is_alive(straggler)
    assert proc.aborted is False
    assert still_running([straggler]) == []


@pytest.mark.anyio
async def test_a_grandchild_holding_the_pipes_does_not_block_the_exit(fakes, env, piddir):
    fakes.add(
        "holds-pipes",
        """
        sleep 300 &
        echo $! > "$1/holder.pid"
        echo started
        """,
        shebang="#!/bin/sh",
    )
    with anyio.fail_after(LIMIT):
        async with spawn(["holds-pipes", str(piddir)], env=env) as proc:
            assert await first_line(proc) == ("stdout", "started")
            assert await proc.wait() == 0
    assert still_running(read_pids(piddir, "holder")) == []


@pytest.mark.anyio
async def test_exit_after_normal_completion_leaves_no_open_pipes(env):
    with anyio.fail_after(LIMIT):
        async with spawn(["sh", "-c", "echo hi; echo there >&2"], env=env) as proc:
            while proc.returncode is None:  # let it finish, reading nothing
                await anyio.sleep(0.01)
    transport = getattr(proc._proc, "_transport", None)
    assert transport is None or transport.is_closing()
    assert proc.returncode == 0
    assert proc.aborted is False
    assert proc.stdout_text == "hi"  # drained on the way out
    assert proc.stderr_text == "there"


# --------------------------------------------------------------------------- run_capture


@pytest.mark.anyio
async def test_run_capture_returns_output_and_code(fakes, env, tmp_path):
    fakes.add_recording(
        "probe", stdout_lines=["Logged in using ChatGPT"], stderr_lines=["note"], exit_code=3
    )
    with anyio.fail_after(LIMIT):
        result = await run_capture(["probe", "login", "status"], env=env, cwd=tmp_path)
    assert result == CompletedCapture(3, "Logged in using ChatGPT", "note")
    assert not result.ok
    assert fakes.calls("probe")[0]["argv"] == ["login", "status"]
    assert fakes.calls("probe")[0]["cwd"] == str(tmp_path)


@pytest.mark.anyio
async def test_run_capture_times_out_and_kills_the_tree(sh_tree, env, piddir):
    with anyio.fail_after(LIMIT):
        result = await run_capture([str(sh_tree), str(piddir)], env=env, timeout=1.0)
    assert result.returncode is None
    assert result.timed_out is True
    assert result.stdout == "ready"
    assert still_running(read_pids(piddir, "root", "child", "grandchild")) == []


@pytest.mark.anyio
async def test_run_capture_never_raises_for_missing_or_unexecutable(env, tmp_path):
    plain = tmp_path / "plain"
    plain.write_text("#!/bin/sh\n")
    with anyio.fail_after(LIMIT):
        missing = await run_capture(["definitely-not-installed-xyz"], env=env)
        denied = await run_capture([str(plain)], env=env)
        bad_cwd = await run_capture(["true"], env=env, cwd=tmp_path / "nope")
    for result in (missing, denied, bad_cwd):
        assert result.returncode is None
        assert result.stderr
        assert result.timed_out is False
    assert "definitely-not-installed-xyz" in missing.stderr
    assert "ermission denied" in denied.stderr


@pytest.mark.anyio
async def test_run_capture_uses_the_server_env_by_default(tmp_path):
    script = tmp_path / "show"
    script.write_text('#!/bin/sh\necho "$CLAWBOO_TEST_MARKER"\n')
    script.chmod(0o755)
    os.environ["CLAWBOO_TEST_MARKER"] = "from-server-env"
    try:
        with anyio.fail_after(LIMIT):
            result = await run_capture([str(script)])
    finally:
        del os.environ["CLAWBOO_TEST_MARKER"]
    assert result == CompletedCapture(0, "from-server-env", "")


def test_run_capture_sync(fakes, env, sh_tree, piddir, tmp_path):
    fakes.add_recording("probe", stdout_lines=["one", "two"], stderr_lines=["err"], exit_code=1)
    assert run_capture_sync(["probe"], env=env) == CompletedCapture(1, "one\ntwo", "err")
    missing = run_capture_sync(["definitely-not-installed-xyz"], env=env)
    assert missing.returncode is None and "definitely-not-installed-xyz" in missing.stderr
    slow = run_capture_sync([str(sh_tree), str(piddir)], env=env, timeout=1.0)
    assert slow.returncode is None and slow.timed_out
    # The setsid-free sh tree: root, child and grandchild all sit in the group.
    assert still_running(read_pids(piddir, "root", "child", "grandchild")) == []


@pytest.mark.anyio
async def test_many_concurrent_spawns(env):
    results: list[CompletedCapture] = []

    async def one(i: int) -> None:
        results.append(await run_capture(["sh", "-c", f"echo {i}"], env=env))

    with anyio.fail_after(LIMIT):
        async with anyio.create_task_group() as tg:
            for i in range(20):
                tg.start_soon(one, i)
    assert sorted(int(r.stdout) for r in results) == list(range(20))
    assert all(r.returncode == 0 for r in results)


def test_no_children_left_behind():
    """Nothing this module started survives it (zombies aside)."""
    me = psutil.Process()
    leftovers = [p for p in me.children(recursive=True) if p.status() != psutil.STATUS_ZOMBIE]
    assert leftovers == []


@pytest.mark.anyio
async def test_lines_end_soon_after_the_child_exits_even_if_a_grandchild_holds_the_pipes(tmp_path):
    script = (
        "import subprocess, sys\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "print('GRANDCHILD', child.pid, flush=True)\n"
        "print('bye', flush=True)\n"
    )
    got = []
    async with spawn([sys.executable, "-c", script]) as proc:
        async for _stream, line in proc.lines(exit_drain=0.5):
            got.append(line)
        assert await proc.wait() == 0
    assert got[-1] == "bye"
    grandchild = int(got[0].split()[1])
    assert still_running([grandchild], timeout=10) == []  # leaving spawn() cleans the group


# --------------------------------------------------------------------------- orphaned groups

_STUBBORN_TREE = (
    "import signal, subprocess, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "child = subprocess.Popen([sys.executable, '-c', 'import signal, time; "
    "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(300)'])\n"
    "print(child.pid, flush=True)\n"
    "time.sleep(300)\n"
)


def _stubborn_group() -> tuple[int, int]:
    """A SIGTERM-ignoring leader of a new process group with a SIGTERM-ignoring child."""
    import subprocess

    leader = subprocess.Popen(
        [sys.executable, "-c", _STUBBORN_TREE], stdout=subprocess.PIPE, start_new_session=True
    )
    child = int(leader.stdout.readline())
    return leader.pid, child


def test_an_orphaned_group_is_killed_only_when_its_stamp_matches():
    leader, child = _stubborn_group()
    stamp = process_start_stamp(leader)
    assert stamp is not None and stamp == process_start_stamp(leader)
    try:
        # Another process's start stamp: the pid was recycled, leave it alone.
        assert kill_orphaned_groups([(leader, "some-other-process")], grace=GRACE) == []
        assert still_running([leader, child], timeout=0) == [leader, child]
        assert kill_orphaned_groups([(leader, stamp)], grace=GRACE) == [leader]
        assert still_running([leader, child], timeout=LIMIT) == []
    finally:
        for pid in (leader, child):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_an_orphaned_group_whose_leader_died_is_still_killed():
    leader, child = _stubborn_group()
    stamp = process_start_stamp(leader)
    try:
        os.kill(leader, signal.SIGKILL)
        os.waitpid(leader, 0)
        assert process_start_stamp(leader) is None
        assert kill_orphaned_groups([(leader, stamp)], grace=GRACE) == [leader]
        assert still_running([child], timeout=LIMIT) == []
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)


@pytest.mark.anyio
async def test_the_launch_policy_wraps_and_records_every_child(tmp_path: Path):
    started: list[tuple[int, str | None]] = []

    async def record(pgid: int, stamp: str | None) -> None:
        started.append((pgid, stamp))

    def wrap(argv: list[str]) -> list[str]:
        script = "import sys, time; print('wrapped', sys.argv[1:], flush=True); time.sleep(60)"
        return [sys.executable, "-c", script, *argv]

    with launch_policy(LaunchPolicy(wrap=wrap, started=record)):
        async with spawn([sys.executable, "arg"]) as proc:
            lines = proc.lines()
            _, line = await lines.__anext__()
            await lines.aclose()
            stamp = process_start_stamp(proc.pid)  # still running: its stamp is readable
    assert line == f"wrapped {[sys.executable, 'arg']}"
    assert stamp is not None
    assert started == [(proc.pid, stamp)]
    async with spawn([sys.executable, "-c", "pass"]):
        pass
    assert len(started) == 1  # outside the policy nothing is recorded


@pytest.mark.anyio
async def test_a_wrapped_program_that_cannot_start_raises_as_exec_would(tmp_path: Path):
    not_executable = tmp_path / "plain.txt"
    not_executable.write_text("x")
    policy = LaunchPolicy(wrap=lambda argv: [sys.executable, "-c", "pass", *argv])
    with launch_policy(policy):
        with pytest.raises(FileNotFoundError):
            async with spawn(["no-such-program-anywhere"], env={"PATH": str(tmp_path)}):
                pass
        with pytest.raises(PermissionError):
            async with spawn([str(not_executable)]):
                pass
        async with spawn([sys.executable, "-c", "pass"]) as proc:
            assert await proc.wait() == 0
