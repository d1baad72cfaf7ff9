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

For an agent CLI whose real output was recorded, :class:`TranscriptFake` replays a
transcript (:func:`read_transcript`) and records each call; subclass it with the few lines
that make the fake behave like that CLI::

    class FakeMyCli(TranscriptFake):
        cli = "mycli"                       # the program, and the transcripts' prefix
        recorded_env = ("HOME", "MYCLI_HOME")
        script = r'''
            home = os.environ.get("MYCLI_HOME", "")
            if opt("--resume") and not os.path.isdir(home):
                fail("no such session\\n")
        '''

    fake = FakeMyCli(fake_executables)
    fake.install("plain")                   # mycli-plain.stdout.* / .stderr.txt / .meta.json
    ...
    [call] = fake.calls()
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
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "SYSTEM_TOOLS",
    "TRANSCRIPTS_DIR",
    "FakeExecutables",
    "Transcript",
    "TranscriptFake",
    "read_transcript",
    "still_running",
]

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
# fmt: off
REAL_CLIS = ("npm", "npx", "node", "pipx", "pip", "pip3", "codex", "claude", "hermes", "gemini")
# fmt: on
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


_SECRET_SPY = """\
import glob, json, os, sys
# argv: <server pid> <secrets dir> [<dir to list>...]
args = sys.argv[1:]
pid, secrets, listed, marker = args[0], args[1], args[2:], MARKER.encode()
got = {"pid": os.getpid(), "cwd": os.getcwd()}
try:
    with open(f"/proc/{pid}/environ", "rb") as fh:
        got["server_environ"] = fh.read().decode(errors="replace")
except OSError as exc:
    got["server_environ_error"] = exc.strerror
got["secrets"] = {}
for path in sorted(glob.glob(os.path.join(secrets, "*"))):
    try:
        with open(path, "rb") as fh:
            got["secrets"][path] = fh.read().decode(errors="replace")
    except OSError as exc:
        got["secrets"][path] = "unreadable: " + str(exc.strerror)
got["environs_with_marker"] = []
for path in glob.glob("/proc/[0-9]*/environ"):
    try:
        with open(path, "rb") as fh:
            if marker in fh.read():
                got["environs_with_marker"].append(path)
    except OSError:
        pass
got["listed"] = {d: sorted(os.listdir(d)) if os.path.isdir(d) else None for d in listed}
with open(RECORD, "w", encoding="utf-8") as fh:
    json.dump(got, fh)
print("spied")
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

    def add_secret_spy(self, marker: str, name: str = "spy") -> Path:
        """A fake CLI that tries to steal the host's secrets, and records what it got.

        Call it ``<name> <server pid> <secrets dir> [<dir>...]``: it reads
        ``/proc/<server pid>/environ``, every file in the secrets dir, every
        ``/proc/*/environ`` it can (noting those containing ``marker``) and lists the dirs.
        The result is JSON at :meth:`record_path` (``spied()``)."""
        script = f"RECORD = {str(self.record_path(name))!r}\nMARKER = {marker!r}\n" + _SECRET_SPY
        return self.add(name, script, shebang=_python_shebang())

    def spied(self, name: str = "spy") -> dict:
        """What :meth:`add_secret_spy`'s fake recorded on its last call."""
        return json.loads(self.record_path(name).read_text(encoding="utf-8"))

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


# ---------------------------------------------------------------------------- transcripts

#: The recorded runs of the real agent CLIs (``<cli>-<scenario>.stdout.jsonl`` or
#: ``.stdout.txt``, ``.stderr.txt``, ``.meta.json``), shipped with this package so every
#: suite is self-contained; their README lists the quirks the real CLIs showed.
TRANSCRIPTS_DIR = Path(__file__).resolve().parent / "transcripts"


@dataclass(frozen=True)
class Transcript:
    """What a real CLI printed in one recorded run."""

    stdout: list[str]
    stderr: list[str]
    exit_code: int
    meta: dict = field(default_factory=dict)


def transcript_lines(path: Path) -> list[str]:
    """The lines of a transcript file: for ``.jsonl`` the non-blank ones; for text, every
    line as printed (blank ones kept) except trailing blank lines."""
    lines = path.read_text(encoding="utf-8").splitlines()
    if path.suffix == ".jsonl":
        return [line for line in lines if line.strip()]
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def read_transcript(cli: str, scenario: str, *, directory: Path | str | None = None) -> Transcript:
    """The recorded run ``<cli>-<scenario>`` in ``directory`` (default
    :data:`TRANSCRIPTS_DIR`): its one ``.stdout.*`` file, ``.stderr.txt`` (none: no
    lines) and ``.meta.json`` (which must hold ``exit_code``)."""
    base = Path(directory) if directory is not None else TRANSCRIPTS_DIR
    name = f"{cli}-{scenario}"
    stdout_files = sorted(base.glob(f"{name}.stdout.*"))
    if len(stdout_files) != 1:
        raise FileNotFoundError(
            f"expected one {name}.stdout.* in {base}, found {[p.name for p in stdout_files]}"
        )
    stderr_file = base / f"{name}.stderr.txt"
    meta = json.loads((base / f"{name}.meta.json").read_text(encoding="utf-8"))
    return Transcript(
        stdout=transcript_lines(stdout_files[0]),
        stderr=transcript_lines(stderr_file) if stderr_file.exists() else [],
        exit_code=int(meta["exit_code"]),
        meta=meta,
    )


# The fake is one standalone script: this prelude, the CLI's own ``script``, then the replay.
_TRANSCRIPT_PRELUDE = '''\
import json, os, re, subprocess, sys, time
CONFIG = json.loads(__CONFIG__)
argv = sys.argv[1:]
cwd = os.getcwd()
out = list(CONFIG["stdout"])  # what will be printed (the CLI part may rewrite both)
err = list(CONFIG["stderr"])
subst = dict(CONFIG["subst"])  # literal replacements made in out and err when printing
options = CONFIG["options"]
record = {
    "argv": argv,
    "cwd": cwd,
    "pid": os.getpid(),
    "env_present": sorted(n for n in CONFIG["env_names"] if n in os.environ),
    "env": {n: os.environ.get(n) for n in CONFIG["env_names"]},
    "cwd_listing": sorted(os.listdir(cwd)),
}


def opt(name):
    """The argument after option ``name``, or None."""
    if name in argv and argv.index(name) + 1 < len(argv):
        return argv[argv.index(name) + 1]
    return None


def first_value(lines, key):
    """``key`` of the first JSON-object line that has a true value for it, or None."""
    for line in lines:
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict) and value.get(key):
            return value[key]
    return None


def save(extra=None):
    """Append the call's record (with ``extra``) to the record file."""
    record.update(extra or {})
    with open(CONFIG["record_path"], "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\\n")


def fail(message, code=1):
    """Refuse the call like the real CLI: record it, print ``message`` on stderr, exit."""
    save()
    sys.stderr.write(message)
    sys.exit(code)


def mcp_endpoint():
    """(url, bearer token) of the tasks MCP server the CLI was given, or None."""
    return None

'''

_TRANSCRIPT_REPLAY = """
mcp_results = []
endpoint = mcp_endpoint() if CONFIG["real_mcp_task"] else None
if endpoint:
    sys.path[:0] = CONFIG["sys_path"]
    import anyio
    from clawboo_host.testing.mcp_client import call_tool
    url, token = endpoint
    outcome = anyio.run(call_tool, url, token, "add_comment",
                        {"taskId": CONFIG["real_mcp_task"],
                         "body": "hello from the fake " + CONFIG["cli"]})
    mcp_results.append({"text": outcome.text, "is_error": outcome.is_error})
save({"mcp_results": mcp_results})


def fill(line):
    for key, value in subst.items():
        line = line.replace(key, value)
    return line


def emit(stream, line):
    stream.write(fill(line) + "\\n")
    stream.flush()


for name, text in CONFIG["write_files"].items():  # the agent's edit in its worktree
    with open(os.path.join(cwd, name), "w", encoding="utf-8") as fh:
        fh.write(text)
for line in err[:CONFIG["stderr_first"]]:
    emit(sys.stderr, line)
if CONFIG["sleep_after"] is not None:
    # Started (and recorded) before any output, so an abort can't win the race.
    if CONFIG["stubborn"]:  # a grandchild that ignores SIGTERM: only SIGKILL ends it
        child = subprocess.Popen([sys.executable, "-c", "import signal, time; "
                                  "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(300)"])
    else:
        child = subprocess.Popen(["sleep", "300"])
    with open(CONFIG["record_path"], "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"grandchild": child.pid}) + "\\n")
for index, line in enumerate(out):
    emit(sys.stdout, line)
    if CONFIG["sleep_after"] is not None and index + 1 == CONFIG["sleep_after"]:
        time.sleep(300)
for line in err[CONFIG["stderr_first"]:]:
    emit(sys.stderr, line)
if CONFIG["linger"]:
    time.sleep(300)
sys.exit(CONFIG["exit_code"])
"""


class TranscriptFake:
    """A fake agent CLI that replays a recorded transcript and records how it was called.

    Subclass it per CLI and set:

    - ``cli``: the executable's name, also the transcripts' prefix (``<cli>-<scenario>``);
    - ``recorded_env``: env var names whose presence and values each call records;
    - ``script``: Python source (best a raw string; it is dedented) that makes the fake
      behave like that CLI. It runs at the top level of the fake, after the call's record
      is started and before anything is printed, so it may rebind ``out`` and ``err``;
    - ``stderr_first``: how many stderr lines are printed before stdout (a start-up warning);
    - ``task_placeholder``: the task id the transcripts used (``T-42``), replaced by
      ``install(task_id=...)``;
    - ``transcripts_dir``: where a third-party plugin keeps its own transcripts.

    The generated script (run by this interpreter) gives ``script``:

    - ``CONFIG`` (``CONFIG["cli"]``...), ``options`` (``install``'s extra keywords), ``argv``
      (without the program), ``cwd``, ``opt(name)`` (the argument after an option, or None),
      ``first_value(lines, key)`` (a field of the first JSON line that has it);
    - ``record``: the call's record, add keys to it. It already holds ``argv``, ``cwd``,
      ``pid``, ``env_present`` (sorted names of ``recorded_env`` that are set), ``env``
      (name -> value or None) and ``cwd_listing``; the replay adds ``mcp_results``;
    - ``out`` / ``err``: the stdout / stderr lines to print, ``subst``: literal replacements
      made in them when printed (e.g. ``subst["<CWD>"] = cwd``);
    - ``fail(message, code=1)``: record the call, print ``message`` on stderr and exit;
    - ``mcp_endpoint()``: define it to return ``(url, token)`` of the tasks MCP server the
      CLI was configured with; with ``install(real_mcp_task=id)`` the fake then really calls
      ``add_comment`` on that task (body ``hello from the fake <cli>``).

    Then the fake prints ``err[:stderr_first]``, the stdout lines and the rest of stderr
    (each flushed) and exits with the transcript's code. ``sleep_after=N`` first starts a
    ``sleep`` grandchild (recorded, see :meth:`grandchildren`) and sleeps after stdout line N;
    ``linger`` sleeps after the last line: abort and kill-the-tree tests.
    """

    cli: str = ""
    recorded_env: tuple[str, ...] = ()
    script: str = ""
    stderr_first: int = 0
    task_placeholder: str = "T-42"
    #: Where your transcripts are (default: the ones shipped with clawboo-host).
    transcripts_dir: Path | str | None = None

    def __init__(self, fakes: FakeExecutables, *, transcripts: Path | str | None = None) -> None:
        if not self.cli:
            raise TypeError(f"{type(self).__name__} must set the class attribute 'cli'")
        self.fakes = fakes
        self.transcripts = transcripts if transcripts is not None else self.transcripts_dir
        #: One JSON line per call (and one ``{"grandchild": pid}`` per ``sleep_after`` child).
        self.record_path = fakes.bin_dir / f"{self.cli}.record.jsonl"

    def transcript(self, scenario: str) -> Transcript:
        """The recorded run ``<cli>-<scenario>``."""
        return read_transcript(self.cli, scenario, directory=self.transcripts)

    def install(
        self,
        scenario: str | None = "plain",
        *,
        stdout: list[str] | None = None,
        stderr: list[str] | None = None,
        exit_code: int | None = None,
        sleep_after: int | None = None,
        linger: bool = False,
        task_id: str | None = None,
        real_mcp_task: str | None = None,
        write_files: dict[str, str] | None = None,
        stubborn: bool = False,
        **options,
    ) -> Path:
        """Write the fake ``<cli>`` replaying ``scenario`` (``None``: nothing, exit 0);
        ``stdout``, ``stderr`` and ``exit_code`` override the transcript's. ``options`` go
        to the script as ``options`` (JSON values). Installing again replaces the fake and
        keeps the record. ``write_files`` ({name: text}) are written into the cwd first
        (the agent's edit); ``stubborn`` makes the ``sleep_after`` grandchild ignore SIGTERM."""
        recorded = self.transcript(scenario) if scenario else Transcript([], [], 0)
        config = {
            "cli": self.cli,
            "record_path": str(self.record_path),
            "env_names": list(self.recorded_env),
            "stdout": recorded.stdout if stdout is None else list(stdout),
            "stderr": recorded.stderr if stderr is None else list(stderr),
            "exit_code": recorded.exit_code if exit_code is None else int(exit_code),
            "stderr_first": self.stderr_first,
            "sleep_after": sleep_after,
            "linger": linger,
            "subst": {self.task_placeholder: task_id} if task_id else {},
            "real_mcp_task": real_mcp_task,
            "write_files": dict(write_files or {}),
            "stubborn": stubborn,
            "sys_path": [p for p in sys.path if p],
            "options": options,
        }
        script = (
            _TRANSCRIPT_PRELUDE.replace("__CONFIG__", repr(json.dumps(config)))
            + textwrap.dedent(self.script).strip("\n")
            + "\n"
            + _TRANSCRIPT_REPLAY
        )
        return self.fakes.add(self.cli, script, shebang=_python_shebang())

    def records(self) -> list[dict]:
        """Every line of the record file, oldest first."""
        if not self.record_path.exists():
            return []
        lines = self.record_path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def calls(self) -> list[dict]:
        """The record of each call, oldest first."""
        return [r for r in self.records() if "argv" in r]

    def grandchildren(self) -> list[int]:
        """The pids of the ``sleep`` grandchildren started for ``sleep_after``."""
        return [r["grandchild"] for r in self.records() if "grandchild" in r]
