"""``clawboo-host new-plugin NAME``: write a ready runtime-plugin distribution.

The result installs with pip and passes its own tests as written: a ``pyproject.toml`` with
the ``clawboo.runtimes`` entry point, a plugin module built on the ``plugin_api`` building
blocks (:mod:`clawboo_host.plugin_api.cli`, :mod:`~clawboo_host.plugin_api.mcp`,
:class:`~clawboo_host.plugin_api.text.SummaryText`), a fake CLI replaying transcripts, and
tests that run the conformance kit through a live host. The template's CLI speaks a small
JSON-lines protocol; an author replaces ``parse`` (and the command line) with their CLI's.
"""

from __future__ import annotations

from pathlib import Path

from . import __version__
from .plugin_api.types import RUNTIME_ID_PATTERN
from .plugin_api.version import PLUGIN_API_VERSION

__all__ = ["ScaffoldError", "new_plugin", "plugin_files"]


class ScaffoldError(ValueError):
    """The name or the target directory cannot be used."""


_PYPROJECT = """\
[build-system]
requires = ["hatchling>=1.20"]
build-backend = "hatchling.build"

[project]
name = "__DIST__"
version = "0.1.0"
description = "__NAME__ runtime plugin for clawboo-host."
requires-python = ">=3.11"
dependencies = ["clawboo-host-core__RANGE__"]

[project.optional-dependencies]
test = ["pytest>=8", "pytest-timeout>=2"]

[project.entry-points."clawboo.runtimes"]
__ID__ = "__PKG__"

[tool.hatch.build.targets.wheel]
packages = ["__PKG__"]

[tool.pytest.ini_options]
addopts = ["--import-mode=importlib", "--strict-markers"]
testpaths = ["tests"]
timeout = 120
"""

_README = """\
# __DIST__

The `__BIN__` CLI as a [clawboo-host](https://pypi.org/project/clawboo-host/) runtime
(`__ID__`).

```
pip install -e '.[test]'     # into the host's environment
clawboo-host plugins         # __ID__ ... ok
python -m pytest             # the conformance kit, through a live host, with the fake CLI
```

A run is `__BIN__ --output-format jsonl --mcp-config <file> -- <prompt>` in the task's
worktree; each stdout line is one JSON event (see `parse` in `__PKG__/__init__.py`). Adapt
`build_argv` and `parse` to your CLI, capture its real output into `tests/transcripts/`
(`<cli>-<scenario>.stdout.jsonl`, `.stderr.txt`, `.meta.json` with `exit_code`) and keep
the fake in `tests/fake_cli.py` behaving like it. Guide: clawboo-host's `docs/plugins.md`.
"""

_MODULE = '''\
"""__NAME__ as a clawboo runtime: ``__BIN__`` driven headless, one JSON event per line.

Built on the plugin API's building blocks: :class:`LineCli` runs the CLI (its own process
group, the run's abort, the stderr tail on failure), :func:`write_mcp_config` hands it the
host's MCP tasks server with this run's bearer token, :class:`SummaryText` keeps the final
answer as the summary.
"""

from __future__ import annotations

import json
from contextlib import aclosing
from pathlib import Path

from clawboo_host.plugin_api import (
    Capabilities,
    CostEvent,
    Done,
    InstallSpec,
    RunContext,
    RuntimeDescriptor,
    RuntimeEvent,
    StatusEvent,
    TextDelta,
    ToolCall,
    ToolResult,
    hookimpl,
)
from clawboo_host.plugin_api.cli import LineCli, missing_cli, resolve_cli
from clawboo_host.plugin_api.mcp import write_mcp_config
from clawboo_host.plugin_api.text import SummaryText, tool_result_text

CLAWBOO_PLUGIN_API = __API__  # the plugin-API version this module is written against
BINARY = "__BIN__"

DESCRIPTOR = RuntimeDescriptor(
    id="__ID__",
    name="__NAME__",
    cli_binary=BINARY,
    install=InstallSpec(method="npm", package="__BIN__@1"),
    auth_kind="api-key",
    env_var="__ENV__",
    docs_url="https://example.invalid/__ID__",
    capabilities=Capabilities(
        streaming=True, mcp=True, worktrees=True, resume=False, tool_approval=False
    ),
)


@hookimpl
def clawboo_runtime_descriptor() -> RuntimeDescriptor:
    return DESCRIPTOR


class Parser:
    """One stdout line → run events; remembers the outcome (``result``)."""

    def __init__(self) -> None:
        self.summary = SummaryText()
        self.result: dict | None = None
        self.session_id: str | None = None

    def parse(self, line: str) -> list[RuntimeEvent]:
        try:
            event = json.loads(line)
        except ValueError:
            return []  # not an event: kept out of the stream
        if not isinstance(event, dict):
            return []
        kind = event.get("type")
        if kind == "start":
            self.session_id = event.get("session")
            return [StatusEvent("running")]
        if kind == "text":
            return [self.summary.observe(TextDelta(str(event.get("text", ""))))]
        if kind == "tool_call":
            call_id, name = str(event.get("id", "")), str(event.get("name", ""))
            return [self.summary.observe(ToolCall(call_id, name, event.get("input")))]
        if kind == "tool_result":
            output = tool_result_text(event.get("output"))
            call_id, name = str(event.get("id", "")), str(event.get("name", ""))
            return [ToolResult(call_id, name, output, bool(event.get("error")))]
        if kind == "usage":
            tokens_in = int(event.get("input_tokens", 0))
            tokens_out = int(event.get("output_tokens", 0))
            model = event.get("model")
            return [CostEvent(input_tokens=tokens_in, output_tokens=tokens_out, model=model)]
        if kind == "result":
            self.result = event
        return []


def build_argv(bin_path: str, ctx: RunContext, mcp_file: Path) -> list[str]:
    # "--" first: a prompt that starts with "-" is never read as an option.
    return [bin_path, "--output-format", "jsonl", "--mcp-config", str(mcp_file), "--", ctx.prompt]


@hookimpl
async def clawboo_runtime_run(ctx: RunContext):
    bin_path = await resolve_cli(BINARY, ctx)
    if bin_path is None:
        yield missing_cli(BINARY)
        return
    if ctx.abort.is_set:
        yield Done("aborted")
        return
    # The run's MCP server (URL + bearer token) in a private file in the run's scratch dir.
    mcp_file = write_mcp_config(Path(ctx.scratch_dir) / "mcp.json", ctx)
    parser = Parser()
    cli = LineCli(build_argv(bin_path, ctx, mcp_file), ctx=ctx)
    finished = lambda: parser.result is not None  # noqa: E731
    async with aclosing(cli.events(parser.parse, finished=finished)) as events:
        async for event in events:
            yield event
    result = parser.result or {}
    if result.get("status") == "max_turns" and not cli.exit.aborted:
        yield Done("max_turns", summary=ctx.scrub(str(result.get("message", "max turns"))))
        return
    error = str(result.get("message", "error")) if result.get("status") == "error" else None
    done = cli.exit.done(
        success=parser.summary.text, error=error, scrub=ctx.scrub, session_id=parser.session_id
    )
    for event in cli.exit.error_events(done):
        yield event
'''

_FAKE = '''\
"""A fake ``__BIN__`` replaying the transcripts in ``transcripts/`` (real processes).

The kit drives it through a live host; :class:`TranscriptFake` adds what the kit needs (a
file edit, a SIGTERM-ignoring grandchild, a real MCP ``add_comment`` call). Make it behave
like your real CLI where it matters (refusing a missing key, where it reads its config).
"""

from __future__ import annotations

from pathlib import Path

from clawboo_host.testing.fakes import TranscriptFake


class FakeCli(TranscriptFake):
    cli = "__BIN__"
    transcripts_dir = Path(__file__).parent / "transcripts"
    recorded_env = ("HOME", "__ENV__")
    script = r"""
        if not os.environ.get("__ENV__"):
            fail("__ENV__ is not set\\n", 2)
        mcp_path = opt("--mcp-config")
        with open(mcp_path, encoding="utf-8") as fh:
            record["mcp"] = json.load(fh)

        def mcp_endpoint():
            server = record["mcp"]["mcpServers"].get("clawboo-tasks")
            if not server:
                return None
            return server["url"], server["headers"]["Authorization"].split(" ", 1)[1]
    """
'''

_CONFTEST = """\
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # importlib mode: make fake_cli importable
"""

_TEST_CONFORMANCE = '''\
"""The conformance kit: the host's contract, then tasks run through a live host."""

from clawboo_host.testing.conformance import RuntimeConformanceTests
from fake_cli import FakeCli

import __PKG__


class TestConformance(RuntimeConformanceTests):
    plugin = __PKG__
    runtime_id = "__ID__"
    fake_cli = FakeCli
'''

_TEST_RUN = '''\
"""The run hook against the fake CLI, without a host (fast, every detail)."""

import json

import pytest
from clawboo_host.plugin_api import AbortSignal, CostEvent, Done, RunContext, TextDelta
from fake_cli import FakeCli

import __PKG__

pytestmark = pytest.mark.anyio


def make_ctx(tmp_path, env) -> RunContext:
    (tmp_path / "scratch").mkdir()
    return RunContext(
        run_id="r",
        task_id="t",
        agent_id="a",
        prompt="-- say hi",
        cwd=tmp_path,
        env=env,
        home_dir=None,
        scratch_dir=tmp_path / "scratch",
        abort=AbortSignal(),
        mcp_url="http://127.0.0.1:9/mcp",
        mcp_token="tok-0123456789",
    )


async def test_a_plain_run(tmp_path, clawboo_env, fake_executables):
    fake = FakeCli(fake_executables)
    fake.install("plain")
    ctx = make_ctx(tmp_path, dict(clawboo_env, __ENV__="key-0123456789"))
    events = [e async for e in __PKG__.clawboo_runtime_run(ctx)]
    assert TextDelta("Hello from __NAME__.") in events
    assert CostEvent(input_tokens=120, output_tokens=30, model="__BIN__-1") in events
    assert events[-1] == Done("success", summary="Hello from __NAME__.", session_id="s-1")
    [call] = fake.calls()
    assert call["argv"][-2:] == ["--", "-- say hi"]
    server = call["mcp"]["mcpServers"]["clawboo-tasks"]
    assert server["headers"] == {"Authorization": "Bearer tok-0123456789"}


async def test_without_a_key_the_clis_message_is_the_summary(
    tmp_path, clawboo_env, fake_executables
):
    FakeCli(fake_executables).install("plain")
    ctx = make_ctx(tmp_path, dict(clawboo_env))
    events = [e async for e in __PKG__.clawboo_runtime_run(ctx)]
    assert events[-1] == Done("error", summary="__ENV__ is not set")
    json.dumps([e.to_json() for e in events])
'''


def _transcripts(bin_name: str, name: str) -> dict[str, str]:
    def jsonl(*events: dict) -> str:
        import json

        return "".join(json.dumps(e) + "\n" for e in events)

    def meta(scenario: str, code: int) -> str:
        import json

        return json.dumps({"cli": bin_name, "scenario": scenario, "exit_code": code}) + "\n"

    start = {"type": "start", "session": "s-1"}
    usage = {"type": "usage", "input_tokens": 120, "output_tokens": 30, "model": f"{bin_name}-1"}
    call = {
        "type": "tool_call",
        "id": "c1",
        "name": "clawboo-tasks.add_comment",
        "input": {"taskId": "T-42", "body": "hello"},
    }
    done = {
        "type": "tool_result",
        "id": "c1",
        "name": "clawboo-tasks.add_comment",
        "output": [{"type": "text", "text": "ok"}],
    }
    p = f"tests/transcripts/{bin_name}"
    return {
        f"{p}-plain.stdout.jsonl": jsonl(
            start,
            {"type": "text", "text": f"Hello from {name}."},
            usage,
            {"type": "result", "status": "success"},
        ),
        f"{p}-plain.meta.json": meta("plain", 0),
        f"{p}-mcp.stdout.jsonl": jsonl(
            start,
            {"type": "text", "text": "Commenting."},
            call,
            done,
            {"type": "text", "text": "DONE-123"},
            usage,
            {"type": "result", "status": "success"},
        ),
        f"{p}-mcp.meta.json": meta("mcp", 0),
        f"{p}-maxturns.stdout.jsonl": jsonl(
            start,
            call,
            done,
            {
                "type": "result",
                "status": "max_turns",
                "message": "reached the maximum number of turns (1)",
            },
        ),
        f"{p}-maxturns.meta.json": meta("maxturns", 1),
    }


def _host_range(version: str) -> str:
    """The host releases a new plugin supports: this one up to the next breaking release
    (below 1.0 the next minor, from 1.0 on the next major)."""
    major, minor = (int(part) for part in version.split(".")[:2])
    upper = f"{major}.{minor + 1}" if major == 0 else f"{major + 1}"
    return f">={version},<{upper}"


def plugin_files(runtime_id: str) -> dict[str, str]:
    """The distribution's files (relative path → text) for runtime ``runtime_id``."""
    if not RUNTIME_ID_PATTERN.match(runtime_id or "") or runtime_id == "openclaw":
        raise ScaffoldError(
            f"invalid runtime id {runtime_id!r}: lower-case words joined by '-' (e.g. acme-agent)"
        )
    pkg = "clawboo_" + runtime_id.replace("-", "_")
    values = {
        "__DIST__": f"clawboo-runtime-{runtime_id}",
        "__NAME__": " ".join(w.capitalize() for w in runtime_id.split("-")),
        "__ID__": runtime_id,
        "__PKG__": pkg,
        "__BIN__": runtime_id,
        "__ENV__": runtime_id.replace("-", "_").upper() + "_API_KEY",
        "__RANGE__": _host_range(__version__),
        "__API__": str(PLUGIN_API_VERSION),
    }

    def fill(text: str) -> str:
        for key, value in values.items():
            text = text.replace(key, value)
        return text

    files = {
        "pyproject.toml": fill(_PYPROJECT),
        "README.md": fill(_README),
        f"{pkg}/__init__.py": fill(_MODULE),
        "tests/fake_cli.py": fill(_FAKE),
        "tests/conftest.py": _CONFTEST,
        "tests/test_conformance.py": fill(_TEST_CONFORMANCE),
        "tests/test_run.py": fill(_TEST_RUN),
    }
    files.update(_transcripts(runtime_id, values["__NAME__"]))
    return files


def new_plugin(runtime_id: str, directory: Path | None = None) -> Path:
    """Write the distribution into ``directory`` (default ``./clawboo-runtime-<id>``), which
    must not exist or be empty. Returns the directory."""
    files = plugin_files(runtime_id)
    target = Path(directory) if directory is not None else Path(f"clawboo-runtime-{runtime_id}")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ScaffoldError(f"{target} already exists and is not empty")
    for relative, text in files.items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return target
