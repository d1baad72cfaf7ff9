"""FakeExecutables: fake CLIs on a private PATH that record how they were called."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from clawboo_host.testing.fakes import REAL_CLIS, FakeExecutables, still_running


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
