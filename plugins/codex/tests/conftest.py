"""A fake ``codex`` that replays the real codex-cli transcripts.

The transcripts are read at test time from ``/work/shared/fixtures/cli-transcripts/``
(``codex-<scenario>.stdout.jsonl`` / ``.stderr.txt`` / ``.meta.json``). The fake:

- records each call as one JSON line: argv, cwd, pid, whether stdin is ``/dev/null``, the
  presence and value of selected env vars, a copy of ``$CODEX_HOME/config.toml`` (text,
  mode, parsed) and of ``$CODEX_HOME/auth.json`` (mode, parsed), and the cwd listing;
- behaves like the real CLI where it matters: ``exec resume`` of a session it has no
  rollout for fails like codex 0.171 (``no rollout found for thread id``), and each run
  leaves ``$CODEX_HOME/sessions/<thread id>.jsonl`` behind so a later resume finds it;
- substitutes the placeholders (``<CODEX_HOME>``, ``<CWD>``, ``<TMP>``,
  ``<PROVIDER_PORT>``) and ``T-42`` (with ``task_id``), and can really call the MCP
  ``add_comment`` tool through the ``config.toml`` entry and the bearer-token env var it was
  given (``real_mcp_task``);
- prints the transcript and exits with the recorded exit code; ``sleep_after=N`` starts a
  grandchild and sleeps after line N (abort and reconnect tests); ``linger`` sleeps after
  the last line.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

TRANSCRIPTS = Path("/work/shared/fixtures/cli-transcripts")

RECORDED_ENV = (
    "HOME", "CODEX_HOME", "CLAWBOO_MCP_TOKEN", "OPENAI_API_KEY", "CODEX_API_KEY",
    "GITHUB_TOKEN", "CLAWBOO_TEST_MARKER",
)

FAKE_CODEX = r'''
import json, os, stat, subprocess, sys, time, tomllib
CONFIG = json.loads(__CONFIG__)
argv = sys.argv[1:]
codex_home = os.environ.get("CODEX_HOME") or os.path.join(os.environ.get("HOME", ""), ".codex")
cwd = os.getcwd()

def stdin_is_devnull():
    try:
        st, null = os.fstat(0), os.stat(os.devnull)
    except OSError:
        return False
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == null.st_rdev

def copy_file(name, parse):
    path = os.path.join(codex_home, name)
    if not os.path.exists(path):
        return None
    with open(path, "rb") as fh:
        raw = fh.read()
    out = {"path": path, "mode": oct(os.stat(path).st_mode & 0o777),
           "text": raw.decode("utf-8", "replace")}
    try:
        out["parsed"] = parse(raw)
    except Exception as exc:
        out["parse_error"] = str(exc)
    return out

record = {
    "argv": argv,
    "cwd": cwd,
    "pid": os.getpid(),
    "stdin_devnull": stdin_is_devnull(),
    "env_present": sorted(n for n in CONFIG["env_names"] if n in os.environ),
    "env": {n: os.environ.get(n) for n in CONFIG["env_names"]},
    "config": copy_file("config.toml", lambda raw: tomllib.loads(raw.decode("utf-8"))),
    "auth": copy_file("auth.json", lambda raw: json.loads(raw)),
    "cwd_listing": sorted(os.listdir(cwd)),
}

def save(extra=None):
    if extra:
        record.update(extra)
    with open(CONFIG["record_path"], "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")

sessions = os.path.join(codex_home, "sessions")
resume = None
if len(argv) > 1 and argv[0] == "exec" and "resume" in argv:
    rest = argv[argv.index("--") + 1:]
    resume = rest[0]
    if not os.path.exists(os.path.join(sessions, resume + ".jsonl")):
        save()
        sys.stderr.write(
            f"Error: thread/resume: thread/resume failed: no rollout found for thread id {resume}"
            " (code -32600)\n\nStack backtrace:\n   0: <unknown>\n   1: <unknown>\n")
        sys.exit(1)

lines = list(CONFIG["stdout"])
thread = None
for line in lines:
    try:
        thread = thread or json.loads(line).get("thread_id")
    except ValueError:
        pass
if resume and thread:
    lines = [line.replace(thread, resume) for line in lines]
    thread = resume
subst = {"<CODEX_HOME>": codex_home, "<CWD>": cwd, "<TMP>": "/tmp",
         "<PROVIDER_PORT>": "9"}
if CONFIG["task_id"]:
    subst["T-42"] = CONFIG["task_id"]
def fill(line):
    for key, value in subst.items():
        line = line.replace(key, value)
    return line
out = [fill(line) for line in lines]
err = [fill(line) for line in CONFIG["stderr"]]

if thread:
    os.makedirs(sessions, exist_ok=True)
    with open(os.path.join(sessions, thread + ".jsonl"), "a") as fh:
        fh.write(json.dumps({"thread_id": thread, "prompt": argv[-1]}) + "\n")

mcp_results = []
if CONFIG["real_mcp_task"] and record["config"]:
    sys.path[:0] = CONFIG["sys_path"]
    import anyio
    from clawboo_host.testing.mcp_client import call_tool
    server = record["config"]["parsed"]["mcp_servers"]["clawboo-tasks"]
    token = os.environ[server["bearer_token_env_var"]]
    outcome = anyio.run(call_tool, server["url"], token, "add_comment",
                        {"taskId": CONFIG["real_mcp_task"], "body": "hello from the fake codex"})
    mcp_results.append({"text": outcome.text, "is_error": outcome.is_error})

save({"mcp_results": mcp_results})
for line in err[:1]:  # codex prints its PATH-alias warning first
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
if CONFIG["sleep_after"] is not None:
    # Started (and recorded) before any output, so an abort can't win the race.
    child = subprocess.Popen(["sleep", "300"])
    with open(CONFIG["record_path"], "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"grandchild": child.pid}) + "\n")
for index, line in enumerate(out):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
    if CONFIG["sleep_after"] is not None and index + 1 == CONFIG["sleep_after"]:
        time.sleep(300)
for line in err[1:]:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
if CONFIG["linger"]:
    time.sleep(300)
sys.exit(CONFIG["exit_code"])
'''


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def transcript(scenario: str) -> tuple[list[str], list[str], int]:
    """(stdout lines, stderr lines, exit code) of ``codex-<scenario>``."""
    base = TRANSCRIPTS / f"codex-{scenario}"
    stdout = _lines(base.with_name(base.name + ".stdout.jsonl"))
    stderr = _lines(base.with_name(base.name + ".stderr.txt"))
    meta = json.loads(base.with_name(base.name + ".meta.json").read_text())
    return stdout, stderr, int(meta["exit_code"])


class FakeCodex:
    def __init__(self, fakes) -> None:
        self.fakes = fakes
        self.record_path = fakes.bin_dir / "codex.record.jsonl"

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
    ) -> None:
        lines, err, code = transcript(scenario) if scenario else ([], [], 0)
        config = {
            "record_path": str(self.record_path),
            "env_names": list(RECORDED_ENV),
            "stdout": lines if stdout is None else stdout,
            "stderr": err if stderr is None else stderr,
            "exit_code": code if exit_code is None else exit_code,
            "sleep_after": sleep_after,
            "linger": linger,
            "task_id": task_id,
            "real_mcp_task": real_mcp_task,
            "sys_path": [p for p in sys.path if p],
        }
        script = FAKE_CODEX.replace("__CONFIG__", repr(json.dumps(config)))
        self.fakes.add("codex", script, shebang=f"#!{sys.executable}")

    def records(self) -> list[dict]:
        if not self.record_path.exists():
            return []
        return [json.loads(line) for line in _lines(self.record_path)]

    def calls(self) -> list[dict]:
        return [r for r in self.records() if "argv" in r]

    def grandchildren(self) -> list[int]:
        return [r["grandchild"] for r in self.records() if "grandchild" in r]


@pytest.fixture
def fake_codex(fake_executables) -> FakeCodex:
    return FakeCodex(fake_executables)


@pytest.fixture
def anyio_backend():
    return "asyncio"
