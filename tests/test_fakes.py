"""FakeExecutables: fake CLIs on a private PATH that record how they were called; TranscriptFake:
a fake agent CLI replaying a recorded transcript."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from clawboo_host.testing.fakes import (
    REAL_CLIS,
    TRANSCRIPTS_DIR,
    FakeExecutables,
    Transcript,
    TranscriptFake,
    read_transcript,
    still_running,
)


@pytest.fixture
def fakes(tmp_path: Path) -> FakeExecutables:
    return FakeExecutables(tmp_path / "bin")


def run(argv, env, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        argv, check=False, env=env, capture_output=True, text=True, timeout=60, **kwargs
    )


def test_bin_dir_is_created(tmp_path):
    fakes = FakeExecutables(tmp_path / "a" / "b")
    assert fakes.bin_dir.is_dir()


def test_add_writes_an_executable_python_script_by_default(fakes):
    path = fakes.add(
        "hello",
        """
        import sys
        print("hello", *sys.argv[1:])
        """,
    )
    assert path == fakes.bin_dir / "hello"
    assert os.access(path, os.X_OK)
    assert path.read_text().startswith("#!/usr/bin/env python3\nimport sys\n")
    result = run(["hello", "a", "b c"], fakes.path_env())
    assert result.returncode == 0
    assert result.stdout == "hello a b c\n"


def test_add_with_a_sh_shebang(fakes):
    fakes.add("greet", 'echo "hi $1"\nexit 7\n', shebang="#!/bin/sh")
    result = run(["greet", "there"], fakes.path_env())
    assert (result.returncode, result.stdout) == (7, "hi there\n")


def test_add_recording_records_each_call(fakes, tmp_path):
    fakes.add_recording(
        "npm",
        stdout_lines=["out 1", "out 2"],
        stderr_lines=["err 1"],
        exit_code=3,
        record_env=["SECRET_KEY", "ABSENT"],
        record_env_values=["VISIBLE", "ALSO_ABSENT"],
    )
    assert fakes.calls("npm") == []
    env = fakes.path_env({"SECRET_KEY": "s3cr3t", "VISIBLE": "v"})
    workdir = tmp_path / "work"
    workdir.mkdir()
    first = run(["npm", "install", "-g", "pkg@1 with space"], env, cwd=workdir)
    second = run(["npm"], env)
    assert (first.returncode, first.stdout, first.stderr) == (3, "out 1\nout 2\n", "err 1\n")
    assert second.returncode == 3
    calls = fakes.calls("npm")
    assert len(calls) == 2
    assert calls[0]["argv"] == ["install", "-g", "pkg@1 with space"]
    assert calls[0]["program"] == str(fakes.bin_dir / "npm")
    assert calls[0]["cwd"] == str(workdir)
    assert calls[0]["env"] == {"SECRET_KEY": True, "ABSENT": False}  # presence only
    assert "s3cr3t" not in fakes.record_path("npm").read_text()
    assert calls[0]["env_values"] == {"VISIBLE": "v", "ALSO_ABSENT": None}
    assert calls[1]["argv"] == []
    assert isinstance(calls[0]["pid"], int)
    assert fakes.record_path("npm") == fakes.bin_dir / "npm.calls.jsonl"


def test_add_recording_works_without_python_on_path(fakes):
    fakes.add_recording("pipx", stdout_lines=["ok"], sleep=0.1)
    env = fakes.path_env(python=False)
    assert shutil.which("python3", path=env["PATH"]) is None
    result = run(["pipx", "install", "x"], env)
    assert (result.returncode, result.stdout) == (0, "ok\n")
    assert fakes.calls("pipx")[0]["argv"] == ["install", "x"]


def test_path_env_hides_real_clis_and_keeps_basic_tools(fakes):
    env = fakes.path_env()
    path = env["PATH"]
    assert path.split(os.pathsep)[0] == str(fakes.bin_dir)
    for cli in REAL_CLIS:
        assert shutil.which(cli, path=path) is None, cli
    for tool in ("sh", "sleep", "env", "cat"):
        assert shutil.which(tool, path=path) is not None, tool
    result = run(["python3", "-c", "import sys; print(sys.version_info[0])"], env)
    assert result.stdout == "3\n"
    # /usr/bin/env python3 scripts find it too
    fakes.add("py-fake", "print('ran')")
    assert run(["py-fake"], env).stdout == "ran\n"


def test_path_env_gives_a_private_home_and_applies_extra_env(fakes, tmp_path):
    env = fakes.path_env({"EXTRA": "1", "LANG": None})
    assert Path(env["HOME"]).is_dir()
    assert Path(env["HOME"]) != Path.home()
    assert list(Path(env["HOME"]).iterdir()) == []
    assert env["EXTRA"] == "1"
    assert "LANG" not in env
    assert set(env) == {"PATH", "HOME", "EXTRA"}
    custom = fakes.path_env({"HOME": str(tmp_path)})
    assert custom["HOME"] == str(tmp_path)


def test_fakes_shadow_and_are_found_on_the_fake_path(fakes):
    fakes.add_recording("npm")
    env = fakes.path_env()
    assert shutil.which("npm", path=env["PATH"]) == str(fakes.bin_dir / "npm")
    fakes.remove("npm")
    assert shutil.which("npm", path=env["PATH"]) is None
    fakes.remove("npm")  # idempotent


def test_a_fake_python3_shadows_the_system_one(fakes):
    fakes.add("python3", "echo fake-python\n", shebang="#!/bin/sh")
    assert run(["python3"], fakes.path_env()).stdout == "fake-python\n"


def test_path_env_refuses_a_path_with_real_clis_only_when_it_builds_it(fakes):
    # A caller-supplied PATH is the caller's business.
    env = fakes.path_env({"PATH": os.pathsep.join([str(fakes.bin_dir), "/usr/bin", "/bin"])})
    assert env["PATH"].endswith("/bin")


def test_still_running(fakes):
    proc = subprocess.Popen(["sleep", "30"], env=fakes.path_env())
    try:
        assert still_running([proc.pid], timeout=0) == [proc.pid]
    finally:
        proc.kill()
    # killed but not reaped yet: a zombie counts as gone
    assert still_running([proc.pid], timeout=10) == []
    proc.wait()
    assert still_running([proc.pid], timeout=0) == []


def test_recording_fake_uses_this_interpreter(fakes):
    path = fakes.add_recording("tool")
    first_line = path.read_text().splitlines()[0]
    assert first_line in (f"#!{sys.executable}", "#!/usr/bin/env python3")


# ---------------------------------------------------------------------------- transcripts


def write_transcript(
    directory: Path,
    name: str,
    stdout: str,
    stderr: str | None,
    meta: dict,
    *,
    stdout_suffix: str = "jsonl",
) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.stdout.{stdout_suffix}").write_text(stdout)
    if stderr is not None:
        (directory / f"{name}.stderr.txt").write_text(stderr)
    (directory / f"{name}.meta.json").write_text(json.dumps(meta))


def test_read_transcript_jsonl_drops_blank_lines_and_text_keeps_them(tmp_path):
    write_transcript(
        tmp_path,
        "tool-plain",
        '{"a": 1}\n\n{"b": 2}\n\n',
        "warn\n\nmore\n\n",
        {"exit_code": "2", "cli": "tool"},
    )
    write_transcript(
        tmp_path, "other-plain", "one\n\n  \ntwo\n\n\n", None, {"exit_code": 0}, stdout_suffix="txt"
    )
    plain = read_transcript("tool", "plain", directory=tmp_path)
    assert plain == Transcript(
        stdout=['{"a": 1}', '{"b": 2}'],
        stderr=["warn", "", "more"],
        exit_code=2,
        meta={"exit_code": "2", "cli": "tool"},
    )
    other = read_transcript("other", "plain", directory=str(tmp_path))
    assert (other.stdout, other.stderr, other.exit_code) == (["one", "", "  ", "two"], [], 0)


def test_read_transcript_wants_exactly_one_stdout_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"tool-missing\.stdout"):
        read_transcript("tool", "missing", directory=tmp_path)
    write_transcript(tmp_path, "tool-twice", "x\n", "", {"exit_code": 0})
    (tmp_path / "tool-twice.stdout.txt").write_text("y\n")
    with pytest.raises(FileNotFoundError, match="found"):
        read_transcript("tool", "twice", directory=tmp_path)


def test_read_transcript_defaults_to_the_packaged_transcripts():
    assert (TRANSCRIPTS_DIR / "README.md").is_file()
    plain = read_transcript("claude", "plain")
    assert plain.exit_code == 0 and plain.meta["cli"] == "claude"
    assert json.loads(plain.stdout[-1])["result"] == "PLAIN-OK"


class FakeTool(TranscriptFake):
    cli = "tool"
    recorded_env = ("TOOL_HOME", "ABSENT")
    stderr_first = 1
    task_placeholder = "T-1"
    script = r"""
        home = os.environ["TOOL_HOME"]
        record["home_listing"] = sorted(os.listdir(home))
        if opt("--resume") and not os.path.exists(os.path.join(home, opt("--resume"))):
            fail("no session " + opt("--resume") + "\n", code=4)
        session = first_value(out, "session")
        if opt("--resume"):
            out = [line.replace(session, opt("--resume")) for line in out]
        subst["<HOME>"] = home
        if options.get("extra_line"):
            out.append(options["extra_line"])
        open(os.path.join(home, "ran"), "a").close()

        def mcp_endpoint():
            return None  # no server configured: real_mcp_task does nothing
    """


@pytest.fixture
def tool(tmp_path, fakes):
    write_transcript(
        tmp_path / "transcripts",
        "tool-plain",
        'not json\n{"session": "s-1", "where": "<HOME>"}\n{"task": "T-1"}\n',
        "first warning\nlast words\n",
        {"exit_code": 3},
    )
    home = tmp_path / "tool-home"
    home.mkdir()
    fake = FakeTool(fakes, transcripts=tmp_path / "transcripts")
    fake.env = fakes.path_env({"TOOL_HOME": str(home)})
    fake.home = home
    return fake


def test_a_transcript_fake_needs_a_cli(fakes):
    with pytest.raises(TypeError, match="cli"):
        TranscriptFake(fakes)


def test_a_transcript_fake_records_and_replays(tool, tmp_path):
    assert (tool.records(), tool.calls(), tool.grandchildren()) == ([], [], [])
    path = tool.install("plain", task_id="task-9", real_mcp_task="task-9", extra_line="bye")
    assert path == tool.fakes.bin_dir / "tool"
    assert tool.transcript("plain").exit_code == 3
    result = subprocess.run(
        ["tool", "go", "--flag"],
        env=tool.env,
        cwd=tmp_path / "transcripts",
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 3
    # One stderr line first, then stdout (placeholders and the task id filled), then the rest.
    assert result.stdout.splitlines() == [
        "first warning",
        "not json",
        f'{{"session": "s-1", "where": "{tool.home}"}}',
        '{"task": "task-9"}',
        "bye",
        "last words",
    ]
    [call] = tool.calls()
    assert call["argv"] == ["go", "--flag"]
    assert call["cwd"] == str(tmp_path / "transcripts")
    assert isinstance(call["pid"], int)
    assert call["env_present"] == ["TOOL_HOME"]
    assert call["env"] == {"TOOL_HOME": str(tool.home), "ABSENT": None}
    assert call["cwd_listing"] == sorted(p.name for p in (tmp_path / "transcripts").iterdir())
    assert call["home_listing"] == []
    assert call["mcp_results"] == []
    assert tool.record_path == tool.fakes.bin_dir / "tool.record.jsonl"


def test_a_transcript_fake_can_refuse_a_call(tool):
    tool.install("plain")
    result = run(["tool", "--resume", "s-9"], tool.env)
    assert (result.returncode, result.stdout, result.stderr) == (4, "", "no session s-9\n")
    [call] = tool.calls()
    assert call["argv"] == ["--resume", "s-9"] and "mcp_results" not in call
    (tool.home / "s-9").touch()
    result = run(["tool", "--resume", "s-9"], tool.env)
    assert result.returncode == 3
    assert '"session": "s-9"' in result.stdout
    assert len(tool.calls()) == 2


def test_a_transcript_fake_overrides_and_no_scenario(tool):
    tool.install(None)
    result = run(["tool"], tool.env)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    tool.install("plain", stdout=["only"], stderr=[], exit_code=0)
    result = run(["tool"], tool.env)
    assert (result.returncode, result.stdout, result.stderr) == (0, "only\n", "")
    assert len(tool.calls()) == 2  # the record survives reinstalling


@pytest.mark.parametrize("how", ["sleep_after", "linger"])
def test_a_transcript_fake_can_hang_with_a_grandchild_or_linger(tool, how):
    tool.install("plain", **({"sleep_after": 2} if how == "sleep_after" else {"linger": True}))
    proc = subprocess.Popen(
        ["tool"],
        env=tool.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        lines = [proc.stdout.readline() for _ in range(2 if how == "sleep_after" else 3)]
        assert lines[0] == "not json\n"
        assert proc.poll() is None  # still there, sleeping
        pids = [proc.pid, *tool.grandchildren()]
        assert len(pids) == (2 if how == "sleep_after" else 1)
        assert still_running(pids, timeout=0) == pids
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    assert still_running(pids) == []
