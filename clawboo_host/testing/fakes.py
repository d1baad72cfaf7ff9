"""Fake CLI executables on a private PATH, for tests of the host and of runtime plugins.

Real processes, fake programs: write small scripts into a bin dir, run the code under test
with :meth:`FakeExecutables.path_env`, then read what each fake was called with::

    fakes = FakeExecutables(tmp_path / "bin")
    fakes.add_recording("npm", stdout_lines=["added 1 package"], exit_code=0)
    events = [e async for e in npm_install("pkg@1", env=fakes.path_env())]
    assert fakes.calls("npm")[0]["argv"] == ["install", "-g", "pkg@1"]

``path_env()`` builds a PATH of the bin dir plus a private dir of links to the basic
system tools (``sh``, ``sleep``, ``cat``...) and a ``python3`` that runs this interpreter:
no real ``npm``, ``pipx`` or other CLI is reachable, so a test can never run them.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import stat
import sys
import textwrap
from collections.abc import Iterable, Mapping
from pathlib import Path

__all__ = ["SYSTEM_TOOLS", "FakeExecutables", "still_running"]

#: Basic tools linked into the private system dir (those that exist on this machine).
# fmt: off
SYSTEM_TOOLS = (
    "sh", "bash", "env", "sleep", "cat", "echo", "printf", "true", "false", "kill", "test",
    "[", "ls", "mkdir", "rm", "touch", "grep", "sed", "head", "tail", "tr", "cut", "wc",
    "sort", "date", "dirname", "basename", "id", "pwd", "uname", "mktemp", "chmod",
    "readlink", "tee", "xargs", "setsid", "nohup", "timeout", "ps", "git", "mv", "cp", "ln",
    "awk", "expr", "seq", "find", "stat", "sha256sum", "yes", "whoami", "realpath",
)
# fmt: on
#: Names that must never be reachable through :meth:`FakeExecutables.path_env` unless
#: a test adds a fake of that name.
REAL_CLIS = ("npm", "npx", "node", "pipx", "pip", "pip3", "codex", "claude", "hermes")
_SYSTEM_SEARCH_PATH = os.pathsep.join(("/usr/local/bin", "/usr/bin", "/bin"))
#: Linux accepts longer shebangs, but 127 bytes is safe everywhere we run.
_MAX_SHEBANG = 127

_RECORDING_TEMPLATE = """\
import json, os, sys, time
CONFIG = json.loads({config!r})
record = {{
    "argv": sys.argv[1:],
    "program": sys.argv[0],
    "cwd": os.getcwd(),
    "pid": os.getpid(),
    "env": {{name: name in os.environ for name in CONFIG["env_presence"]}},
    "env_values": {{name: os.environ.get(name) for name in CONFIG["env_values"]}},
}}
with open(CONFIG["record_path"], "a", encoding="utf-8") as fh:
    fh.write(json.dumps(record) + "\\n")
for line in CONFIG["stdout"]:
    sys.stdout.write(line + "\\n")
    sys.stdout.flush()
for line in CONFIG["stderr"]:
    sys.stderr.write(line + "\\n")
    sys.stderr.flush()
if CONFIG["sleep"]:
    time.sleep(CONFIG["sleep"])
sys.exit(CONFIG["exit_code"])
"""


def _python_shebang() -> str:
    """A shebang running this interpreter directly (independent of PATH) when possible."""
    exe = sys.executable
    line = f"#!{exe}"
    if exe and " " not in exe and len(line.encode()) <= _MAX_SHEBANG:
        return line
    return "#!/usr/bin/env python3"


class FakeExecutables:
    """A directory of fake executables.

    - :meth:`add` writes any script (Python by default) as ``bin_dir/<name>``.
    - :meth:`add_recording` writes a fake that logs each call to
      :meth:`record_path` (JSON lines: ``argv`` without the program, ``program``,
      ``cwd``, ``pid``, ``env`` presence booleans, ``env_values``), prints the given
      lines, optionally sleeps, and exits with the given code.
    - :meth:`path_env` returns an environment whose PATH reaches the fakes and the basic
      system tools only.
    """

    def __init__(self, bin_dir: Path | str) -> None:
        self.bin_dir = Path(bin_dir)
        self.bin_dir.mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------------ writing

    def path(self, name: str) -> Path:
        return self.bin_dir / name

    def add(self, name: str, script: str, *, shebang: str = "#!/usr/bin/env python3") -> Path:
        """Write ``bin_dir/<name>``: ``shebang``, then ``script`` (dedented), mode 0755.

        With the default shebang the script runs under the ``python3`` found on the
        child's PATH (:meth:`path_env` provides one unless ``python=False``).
        """
        path = self.path(name)
        body = textwrap.dedent(script).lstrip("\n")
        path.write_text(f"{shebang}\n{body}" if shebang else body, encoding="utf-8")
        path.chmod(
            path.stat().st_mode
            | stat.S_IXUSR
            | stat.S_IXGRP
            | stat.S_IXOTH
            | stat.S_IRUSR
            | stat.S_IRGRP
            | stat.S_IROTH
        )
        return path

    def add_recording(
        self,
        name: str,
        stdout_lines: Iterable[str] = (),
        stderr_lines: Iterable[str] = (),
        exit_code: int = 0,
        sleep: float = 0,
        *,
        record_env: Iterable[str] = (),
        record_env_values: Iterable[str] = (),
    ) -> Path:
        """Write a fake that records each call, prints ``stdout_lines`` then
        ``stderr_lines`` (each newline-terminated, flushed), sleeps ``sleep`` seconds and
        exits with ``exit_code``. ``record_env`` names are recorded as present/absent
        (``calls()[i]["env"]``), ``record_env_values`` with their values (or ``None``).

        The script runs this test's Python interpreter directly, so it works even with a
        PATH that has no ``python3`` (``path_env(python=False)``)."""
        config = {
            "record_path": str(self.record_path(name)),
            "stdout": list(stdout_lines),
            "stderr": list(stderr_lines),
            "exit_code": int(exit_code),
            "sleep": float(sleep),
            "env_presence": list(record_env),
            "env_values": list(record_env_values),
        }
        script = _RECORDING_TEMPLATE.format(config=json.dumps(config))
        return self.add(name, script, shebang=_python_shebang())

    def remove(self, name: str) -> None:
        """Delete a fake (its call log stays)."""
        self.path(name).unlink(missing_ok=True)

    # ------------------------------------------------------------------ reading

    def record_path(self, name: str) -> Path:
        """Where :meth:`add_recording` fakes log their calls: ``<bin_dir>/<name>.calls.jsonl``."""
        return self.bin_dir / f"{name}.calls.jsonl"

    def calls(self, name: str) -> list[dict]:
        """Every recorded call of ``name``, oldest first (``[]`` if never called)."""
        path = self.record_path(name)
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]

    # ------------------------------------------------------------------ environment

    def system_dir(self, *, python: bool = True) -> Path:
        """A private dir of links to :data:`SYSTEM_TOOLS`, plus (with ``python``) a
        ``python3`` wrapper running ``sys.executable``. Real system dirs are not put on
        PATH because they may hold a real npm or pipx."""
        path = self.bin_dir / (".system" if python else ".system-nopython")
        path.mkdir(exist_ok=True)
        for tool in SYSTEM_TOOLS:
            link = path / tool
            if link.exists() or link.is_symlink():
                continue
            real = shutil.which(tool, path=_SYSTEM_SEARCH_PATH)
            if real:
                link.symlink_to(real)
        wrapper = path / "python3"
        if python and not wrapper.exists():
            sh = shutil.which("sh", path=_SYSTEM_SEARCH_PATH) or "/bin/sh"
            wrapper.write_text(f'#!{sh}\nexec {shlex.quote(sys.executable)} "$@"\n')
            wrapper.chmod(0o755)
        return path

    def path_env(
        self,
        extra_env: Mapping[str, str | None] | None = None,
        *,
        python: bool = True,
    ) -> dict[str, str]:
        """A minimal environment for running code against the fakes.

        ``PATH`` is ``bin_dir`` then :meth:`system_dir`; ``HOME`` is a private empty dir
        (``bin_dir/.home``) so the user-install dirs hold nothing real; ``LANG`` is kept.
        ``extra_env`` is applied last; a ``None`` value removes the variable. Unless
        ``extra_env`` sets its own ``PATH``, raises ``RuntimeError`` if a real CLI (npm,
        pipx...) would be reachable (it never should).
        """
        home = self.bin_dir / ".home"
        home.mkdir(exist_ok=True)
        system = self.system_dir(python=python)
        env: dict[str, str] = {
            "PATH": os.pathsep.join((str(self.bin_dir), str(system))),
            "HOME": str(home),
            "LANG": os.environ.get("LANG", "C.UTF-8"),
        }
        for key, value in (extra_env or {}).items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        if extra_env is None or "PATH" not in extra_env:
            for cli in REAL_CLIS:
                found = shutil.which(cli, path=str(system))
                if found:
                    raise RuntimeError(f"a real {cli!r} is reachable on the fake PATH: {found}")
        return env


def still_running(pids: Iterable[int], *, timeout: float = 10.0) -> list[int]:
    """The pids among ``pids`` that are still alive after waiting up to ``timeout``
    seconds for them to go. Zombies count as dead (an orphan killed in a container can
    stay a zombie until PID 1 reaps it). Use it to assert that a tree was killed."""
    import time

    import psutil

    def alive(pid: int) -> bool:
        try:
            return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    pending = list(pids)
    deadline = time.monotonic() + timeout
    while True:
        pending = [pid for pid in pending if alive(pid)]
        if not pending or time.monotonic() >= deadline:
            return pending
        time.sleep(0.05)
