"""A fake ``claude`` that replays the real Claude Code transcripts.

The transcripts are read at test time from ``/work/shared/fixtures/cli-transcripts/``
(``claude-<scenario>.stdout.jsonl`` / ``.stderr.txt`` / ``.meta.json``). The fake:

- records each call as one JSON line: argv, cwd, pid, env presence and selected values,
  the ``--mcp-config`` file's path, mode and parsed contents, and the worktree listing;
- behaves like the real CLI where it matters: writes ``.claude.json`` and
  ``projects/<cwd slug>/<session>.jsonl`` under ``$CLAUDE_CONFIG_DIR`` (else ``$HOME``),
  fails ``--resume`` of a session it has no transcript for, exits 1 as root without
  ``IS_SANDBOX=1``;
- substitutes the placeholders (``<CWD>``, ``<HOME>``, ``<CWD_SLUG>``), and can really
  call the MCP ``add_comment`` tool with the config it was given (``real_mcp_task``);
- prints the transcript and exits with the recorded exit code, or for ``sleep_after`` lines
  starts a grandchild and sleeps (abort tests), or lingers after its result.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

TRANSCRIPTS = Path("/work/shared/fixtures/cli-transcripts")

RECORDED_ENV = (
    "HOME", "CLAUDE_CONFIG_DIR", "IS_SANDBOX", "CLAUDE_CODE_MAX_RETRIES", "DISABLE_AUTOUPDATER",
    "ANTHROPIC_API_KEY", "GITHUB_TOKEN", "OPENAI_API_KEY", "CLAWBOO_TEST_MARKER",
)

FAKE_CLAUDE = r'''
import json, os, re, subprocess, sys, time
CONFIG = json.loads(__CONFIG__)
argv = sys.argv[1:]

def opt(name):
    return argv[argv.index(name) + 1] if name in argv and argv.index(name) + 1 < len(argv) else None

home = os.environ.get("HOME", "")
config_dir = os.environ.get("CLAUDE_CONFIG_DIR") or os.path.join(home, ".claude")
global_config = (os.path.join(os.environ["CLAUDE_CONFIG_DIR"], ".claude.json")
                 if os.environ.get("CLAUDE_CONFIG_DIR") else os.path.join(home, ".claude.json"))
cwd = os.getcwd()
slug = re.sub(r"[^A-Za-z0-9]", "-", cwd)

mcp_path = opt("--mcp-config")
mcp = None
if mcp_path:
    st = os.stat(mcp_path)
    with open(mcp_path, encoding="utf-8") as fh:
        mcp = {"path": os.path.abspath(mcp_path), "mode": oct(st.st_mode & 0o777),
               "config": json.load(fh)}
record = {
    "argv": argv,
    "cwd": cwd,
    "pid": os.getpid(),
    "env_present": sorted(n for n in CONFIG["env_names"] if n in os.environ),
    "env": {n: os.environ.get(n) for n in CONFIG["env_names"]},
    "mcp": mcp,
    "cwd_listing": sorted(os.listdir(cwd)),
}

def save(extra=None):
    if extra:
        record.update(extra)
    with open(CONFIG["record_path"], "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")

if hasattr(os, "geteuid") and os.geteuid() == 0 and "--dangerously-skip-permissions" in argv \
        and os.environ.get("IS_SANDBOX") != "1":
    save()
    sys.stderr.write("--dangerously-skip-permissions cannot be used with root/sudo privileges for security reasons\n")
    sys.exit(1)

resume = opt("--resume")
if resume:
    projects = os.path.join(config_dir, "projects")
    found = os.path.isdir(projects) and any(
        os.path.exists(os.path.join(projects, d, resume + ".jsonl")) for d in os.listdir(projects))
    if not found:
        save()
        sys.stderr.write(f"No conversation found with session ID: {resume}\n")
        sys.exit(1)

lines = list(CONFIG["stdout"])
session = None
for line in lines:
    try:
        session = session or json.loads(line).get("session_id")
    except ValueError:
        pass
if resume and session:
    lines = [line.replace(session, resume) for line in lines]
    session = resume
subst = {"<CWD>": cwd, "<HOME>": home, "<CWD_SLUG>": slug}
if CONFIG["task_id"]:
    subst["T-42"] = CONFIG["task_id"]
out = []
for line in lines:
    for key, value in subst.items():
        line = line.replace(key, value)
    out.append(line)

# What the real CLI leaves behind in its home.
os.makedirs(os.path.dirname(global_config) or ".", exist_ok=True)
with open(global_config, "w", encoding="utf-8") as fh:
    json.dump({"numStartups": 1}, fh)
if session:
    os.makedirs(os.path.join(config_dir, "projects", slug), exist_ok=True)
    with open(os.path.join(config_dir, "projects", slug, session + ".jsonl"), "a") as fh:
        fh.write(json.dumps({"sessionId": session}) + "\n")

mcp_results = []
if CONFIG["real_mcp_task"] and mcp:
    sys.path[:0] = CONFIG["sys_path"]
    import anyio
    from clawboo_host.testing.mcp_client import call_tool
    server = mcp["config"]["mcpServers"]["clawboo-tasks"]
    token = server["headers"]["Authorization"].split(" ", 1)[1]
    outcome = anyio.run(call_tool, server["url"], token, "add_comment",
                        {"taskId": CONFIG["real_mcp_task"], "body": "hello from the fake claude"})
    mcp_results.append({"text": outcome.text, "is_error": outcome.is_error})

save({"mcp_results": mcp_results})
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
for line in CONFIG["stderr"]:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
if CONFIG["linger"]:
    time.sleep(300)
sys.exit(CONFIG["exit_code"])
'''


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def transcript(scenario: str) -> tuple[list[str], list[str], int]:
    """(stdout lines, stderr lines, exit code) of ``claude-<scenario>``."""
    base = TRANSCRIPTS / f"claude-{scenario}"
    stdout = _lines(base.with_name(base.name + ".stdout.jsonl"))
    stderr = _lines(base.with_name(base.name + ".stderr.txt"))
    meta = json.loads(base.with_name(base.name + ".meta.json").read_text())
    return stdout, stderr, int(meta["exit_code"])


class FakeClaude:
    def __init__(self, fakes) -> None:
        self.fakes = fakes
        self.record_path = fakes.bin_dir / "claude.record.jsonl"

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
        script = FAKE_CLAUDE.replace("__CONFIG__", repr(json.dumps(config)))
        self.fakes.add("claude", script, shebang=f"#!{sys.executable}")

    def records(self) -> list[dict]:
        if not self.record_path.exists():
            return []
        return [json.loads(line) for line in _lines(self.record_path)]

    def calls(self) -> list[dict]:
        return [r for r in self.records() if "argv" in r]

    def grandchildren(self) -> list[int]:
        return [r["grandchild"] for r in self.records() if "grandchild" in r]


@pytest.fixture
def fake_claude(fake_executables) -> FakeClaude:
    return FakeClaude(fake_executables)


@pytest.fixture
def anyio_backend():
    return "asyncio"
