"""A fake ``hermes`` that replays the real Hermes transcripts.

The transcripts are read at test time from ``shared/fixtures/cli-transcripts/`` beside the
repository (``/work/shared/...`` on a developer machine): ``hermes-<scenario>.stdout.txt`` /
``.stderr.txt`` / ``.meta.json``. The fake:

- records each call as one JSON line: argv, cwd, pid, env presence and selected values
  (``HOME``, ``HERMES_HOME``...), a copy of ``$HERMES_HOME/config.yaml`` (text, mode, and
  the ``clawboo-tasks`` url/Authorization it finds there), ``.update_check``, and the
  worktree listing;
- behaves like the real CLI where it matters: ``--resume <id>`` of a session it never
  wrote fails with ``Session not found: <id>`` (exit 1), otherwise it keeps that id; it
  leaves ``sessions/<id>`` and ``state.db`` in ``$HERMES_HOME``;
- can really call the MCP ``add_comment`` tool with the url and token from config.yaml
  (``real_mcp_task``);
- prints the transcript verbatim (blank lines included) and exits with the recorded exit
  code, or after ``sleep_after`` stdout lines starts a grandchild and sleeps (abort tests).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

_CANDIDATES = (
    Path(__file__).resolve().parents[3].parent / "shared" / "fixtures" / "cli-transcripts",
    Path("/work/shared/fixtures/cli-transcripts"),
)
TRANSCRIPTS = next((p for p in _CANDIDATES if p.is_dir()), _CANDIDATES[-1])

RECORDED_ENV = (
    "HOME", "HERMES_HOME", "PYTHONUNBUFFERED", "OPENROUTER_API_KEY", "ANTHROPIC_API_KEY",
    "OPENAI_API_KEY", "GITHUB_TOKEN", "CLAWBOO_TEST_MARKER",
)

FAKE_HERMES = r'''
import json, os, re, subprocess, sys, time
CONFIG = json.loads(__CONFIG__)
argv = sys.argv[1:]

def opt(name):
    return argv[argv.index(name) + 1] if name in argv and argv.index(name) + 1 < len(argv) else None

home = os.environ.get("HERMES_HOME") or os.path.join(os.environ.get("HOME", ""), ".hermes")
config_path = os.path.join(home, "config.yaml")
config = None
if os.path.exists(config_path):
    with open(config_path, encoding="utf-8") as fh:
        text = fh.read()
    server = {}
    block = re.search(r"^([ ]*)clawboo-tasks:\n((?:\1[ ]+.*\n)+)", text, re.M)
    if block:
        for key in ("url", "Authorization"):
            found = re.search(r"^[ ]+" + key + r": (.*)$", block.group(2), re.M)
            if found:
                server[key] = json.loads(found.group(1))
    config = {"text": text, "mode": oct(os.stat(config_path).st_mode & 0o777),
              "clawboo_tasks": server or None}
update_check = None
if os.path.exists(os.path.join(home, ".update_check")):
    with open(os.path.join(home, ".update_check"), encoding="utf-8") as fh:
        update_check = json.load(fh)
cwd = os.getcwd()
record = {
    "argv": argv,
    "cwd": cwd,
    "pid": os.getpid(),
    "env_present": sorted(n for n in CONFIG["env_names"] if n in os.environ),
    "env": {n: os.environ.get(n) for n in CONFIG["env_names"]},
    "config": config,
    "update_check": update_check,
    "cwd_listing": sorted(os.listdir(cwd)),
}

def save(extra=None):
    if extra:
        record.update(extra)
    with open(CONFIG["record_path"], "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")

sessions = os.path.join(home, "sessions")
resume = opt("--resume")
if resume and not os.path.exists(os.path.join(sessions, resume)):
    save()
    sys.stderr.write(f"Session not found: {resume}\n")
    sys.stderr.write("Use a session ID from a previous CLI run (hermes sessions list).")
    sys.exit(1)

stderr = list(CONFIG["stderr"])
if resume:
    stderr = [re.sub(r"^session_id: .*$", "session_id: " + resume, l) for l in stderr]
session = next((l.split(":", 1)[1].strip() for l in stderr if l.startswith("session_id:")), None)

# What the real CLI leaves behind in its home.
os.makedirs(sessions, exist_ok=True)
open(os.path.join(home, "state.db"), "a").close()
if session:
    open(os.path.join(sessions, session), "a").close()

mcp_results = []
if CONFIG["real_mcp_task"] and config and config["clawboo_tasks"]:
    sys.path[:0] = CONFIG["sys_path"]
    import anyio
    from clawboo_host.testing.mcp_client import call_tool
    server = config["clawboo_tasks"]
    token = server["Authorization"].split(" ", 1)[1]
    outcome = anyio.run(call_tool, server["url"], token, "add_comment",
                        {"taskId": CONFIG["real_mcp_task"], "body": "hello from the fake hermes"})
    mcp_results.append({"text": outcome.text, "is_error": outcome.is_error})

save({"mcp_results": mcp_results})
if CONFIG["sleep_after"] is not None:
    # Started (and recorded) before any output, so an abort can't win the race.
    child = subprocess.Popen(["sleep", "300"])
    with open(CONFIG["record_path"], "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"grandchild": child.pid}) + "\n")
for index, line in enumerate(CONFIG["stdout"]):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
    if CONFIG["sleep_after"] is not None and index + 1 == CONFIG["sleep_after"]:
        time.sleep(300)
for line in stderr:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
sys.exit(CONFIG["exit_code"])
'''


def _text_lines(path: Path) -> list[str]:
    """The file's lines verbatim (blank ones kept), without trailing blank lines."""
    lines = path.read_text(encoding="utf-8").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def transcript(scenario: str) -> tuple[list[str], list[str], int, dict]:
    """(stdout lines, stderr lines, exit code, meta) of ``hermes-<scenario>``."""
    base = TRANSCRIPTS / f"hermes-{scenario}"
    stdout = _text_lines(base.with_name(base.name + ".stdout.txt"))
    stderr = _text_lines(base.with_name(base.name + ".stderr.txt"))
    meta = json.loads(base.with_name(base.name + ".meta.json").read_text(encoding="utf-8"))
    return stdout, stderr, int(meta["exit_code"]), meta


class FakeHermes:
    transcript = staticmethod(transcript)

    def __init__(self, fakes) -> None:
        self.fakes = fakes
        self.record_path = fakes.bin_dir / "hermes.record.jsonl"

    def install(
        self,
        scenario: str | None = "plain",
        *,
        stdout: list[str] | None = None,
        stderr: list[str] | None = None,
        exit_code: int | None = None,
        sleep_after: int | None = None,
        real_mcp_task: str | None = None,
    ) -> None:
        lines, err, code, _ = transcript(scenario) if scenario else ([], [], 0, {})
        config = {
            "record_path": str(self.record_path),
            "env_names": list(RECORDED_ENV),
            "stdout": lines if stdout is None else stdout,
            "stderr": err if stderr is None else stderr,
            "exit_code": code if exit_code is None else exit_code,
            "sleep_after": sleep_after,
            "real_mcp_task": real_mcp_task,
            "sys_path": [p for p in sys.path if p],
        }
        script = FAKE_HERMES.replace("__CONFIG__", repr(json.dumps(config)))
        self.fakes.add("hermes", script, shebang=f"#!{sys.executable}")

    def records(self) -> list[dict]:
        if not self.record_path.exists():
            return []
        return [json.loads(line) for line in self.record_path.read_text().splitlines() if line]

    def calls(self) -> list[dict]:
        return [r for r in self.records() if "argv" in r]

    def grandchildren(self) -> list[int]:
        return [r["grandchild"] for r in self.records() if "grandchild" in r]


@pytest.fixture
def fake_hermes(fake_executables) -> FakeHermes:
    return FakeHermes(fake_executables)


@pytest.fixture
def anyio_backend():
    return "asyncio"
