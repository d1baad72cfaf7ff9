"""Drive ``claude -p`` for one run and normalize its stream-json output.

The command line::

    claude -p --output-format stream-json --verbose
           --mcp-config <scratch>/mcp.json --strict-mcp-config
           --dangerously-skip-permissions [--model M] [--resume SESSION] -- <prompt>

- The MCP config file always exists: it names the host's tasks server (``clawboo-tasks``,
  Streamable HTTP, bearer token) when the run has one, and is ``{"mcpServers":{}}``
  otherwise; with ``--strict-mcp-config`` the user's own MCP servers are never loaded. It
  lives in the run's scratch dir, mode 0600.
- The child gets a private ``HOME`` (``ctx.home_dir``, else ``<scratch>/home``) and
  ``CLAUDE_CONFIG_DIR=<home>/.claude``, because Claude Code writes ``~/.claude.json`` and
  ``~/.claude/projects/...``: the user's global config is never read or written.
  ``IS_SANDBOX=1`` (as root, ``--dangerously-skip-permissions`` exits 1 without it),
  ``CLAUDE_CODE_MAX_RETRIES=2`` (a rejected key is otherwise retried for minutes) and
  ``DISABLE_AUTOUPDATER=1`` (a fresh home must not start a background ``npm install -g``)
  are added; nothing else changes in ``ctx.env``.
- The process is run by :class:`clawboo_host.plugin_api.cli.LineCli` (own process group,
  abort, bounded exit after the ``result`` line); the MCP file by
  :func:`clawboo_host.plugin_api.mcp.write_mcp_config`.
- ``--resume`` is only passed when the session's transcript is in that private home
  (Claude Code keeps it under ``<config dir>/projects/<cwd slug>/<id>.jsonl``): with a
  per-run home it never is, and ``claude --resume`` of an unknown session fails the run.
  The host's prompt carries the handoff either way.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from pathlib import Path

from clawboo_host.plugin_api import (
    CostEvent,
    Done,
    ErrorEvent,
    RunContext,
    RuntimeEvent,
    StatusEvent,
    TextDelta,
    ToolCall,
    ToolResult,
    mcp,
)
from clawboo_host.plugin_api.cli import LineCli, missing_cli, resolve_cli
from clawboo_host.plugin_api.text import tail, tool_result_text

__all__ = [
    "MCP_SERVER_NAME",
    "StreamParser",
    "build_argv",
    "build_env",
    "run",
    "write_mcp_config",
]

BINARY = "claude"
MCP_SERVER_NAME = mcp.MCP_SERVER_NAME
#: Longest error summary we build from stderr/stdout.
MAX_ERROR_SUMMARY_CHARS = 2000
#: After the ``result`` line, how long claude may take to exit before its tree is killed
#: (it has been seen to linger on open MCP connections).
RESULT_EXIT_GRACE_S = 10.0
_SESSION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


# --------------------------------------------------------------------------- setup


def private_home(ctx: RunContext) -> Path:
    """The child's ``HOME``: the persistent per-identity home if the host gave one, else
    a per-run dir in scratch (created 0700)."""
    home = Path(ctx.home_dir) if ctx.home_dir is not None else Path(ctx.scratch_dir) / "home"
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    return home


def build_env(ctx: RunContext, home: Path) -> dict[str, str]:
    """``ctx.env`` plus only what Claude Code needs to run headless and isolated."""
    env = dict(ctx.env)
    env["HOME"] = str(home)
    env["CLAUDE_CONFIG_DIR"] = str(home / ".claude")
    env["IS_SANDBOX"] = "1"
    env.setdefault("CLAUDE_CODE_MAX_RETRIES", "2")
    env.setdefault("DISABLE_AUTOUPDATER", "1")
    return env


def write_mcp_config(ctx: RunContext) -> Path:
    """Write ``<scratch>/mcp.json`` with mode 0600 (it may hold the run's bearer token):
    ``{"mcpServers": {"clawboo-tasks": {"type": "http", "url", "headers"}}}``, or no server."""
    return mcp.write_mcp_config(Path(ctx.scratch_dir) / "mcp.json", ctx, type="http")


def session_available(home: Path, session_id: str) -> bool:
    """Is the transcript of ``session_id`` in this home (so ``--resume`` can work)?"""
    if not _SESSION_ID.match(session_id):
        return False
    projects = home / ".claude" / "projects"
    try:
        return any(projects.glob(f"*/{session_id}.jsonl"))
    except OSError:
        return False


def build_argv(bin_path: str, ctx: RunContext, mcp_path: Path, *, resume: str | None) -> list[str]:
    argv = [
        bin_path,
        "-p",
        "--output-format",
        "stream-json",
        "--verbose",
        "--mcp-config",
        str(mcp_path),
        "--strict-mcp-config",
        "--dangerously-skip-permissions",
    ]
    if ctx.model:
        argv += ["--model", ctx.model]
    if resume:
        argv += ["--resume", resume]
    # ``-p`` is a flag and the prompt a positional: after ``--`` a prompt that starts
    # with "-" ("--help", "--model=x ...") is never read as an option.
    return [*argv, "--", ctx.prompt]


# --------------------------------------------------------------------------- parsing


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


class StreamParser:
    """Turn stream-json lines into run events; remembers the session, model and result."""

    def __init__(self, default_model: str | None = None) -> None:
        self.session_id: str | None = None
        self.model: str | None = None
        self.default_model = default_model
        self.result: dict | None = None
        self.other_lines: list[str] = []  # non-JSON stdout, for an error summary
        self._tool_names: dict[str, str] = {}

    def feed(self, line: str) -> list[RuntimeEvent]:
        text = line.strip()
        if not text:
            return []
        try:
            message = json.loads(text)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            self.other_lines.append(text[:MAX_ERROR_SUMMARY_CHARS])
            del self.other_lines[:-50]
            return []
        if isinstance(message.get("session_id"), str) and message["session_id"]:
            self.session_id = self.session_id or message["session_id"]
        kind = message.get("type")
        if kind == "system":
            return self._system(message)
        if kind == "assistant":
            return self._assistant(message)
        if kind == "user":
            return self._user(message)
        if kind == "result":
            self.result = message
            if isinstance(message.get("session_id"), str) and message["session_id"]:
                self.session_id = message["session_id"]
        return []

    def _system(self, message: dict) -> list[RuntimeEvent]:
        subtype = message.get("subtype")
        if subtype == "init":
            if isinstance(message.get("session_id"), str) and message["session_id"]:
                self.session_id = message["session_id"]
            if isinstance(message.get("model"), str) and message["model"]:
                self.model = message["model"]
            return [StatusEvent("running")]
        if subtype == "api_retry":
            status = message.get("error_status")
            error = message.get("error") or "request failed"
            what = f"API error {status} ({error})" if status else f"API error ({error})"
            attempt, total = message.get("attempt"), message.get("max_retries")
            retry = f"retry {attempt}/{total}" if attempt and total else "retrying"
            delay = message.get("retry_delay_ms")
            if _is_number(delay):
                retry += f" in {delay / 1000:.1f}s"
            return [ErrorEvent(f"{what}; {retry}", code="api_retry", fatal=False)]
        return []

    def _blocks(self, message: dict) -> list[dict]:
        inner = message.get("message")
        content = inner.get("content") if isinstance(inner, dict) else None
        if not isinstance(content, list):
            return []
        return [block for block in content if isinstance(block, dict)]

    def _assistant(self, message: dict) -> list[RuntimeEvent]:
        events: list[RuntimeEvent] = []
        for block in self._blocks(message):
            kind = block.get("type")
            if kind == "text" and isinstance(block.get("text"), str) and block["text"]:
                events.append(TextDelta(block["text"]))
            elif kind == "thinking" and isinstance(block.get("thinking"), str):
                if block["thinking"]:
                    events.append(TextDelta(block["thinking"], channel="reasoning"))
            elif kind == "tool_use":
                call_id = str(block.get("id") or "")
                name = str(block.get("name") or "")
                if call_id:
                    self._tool_names[call_id] = name
                events.append(ToolCall(call_id, name, block.get("input")))
        return events

    def _user(self, message: dict) -> list[RuntimeEvent]:
        events: list[RuntimeEvent] = []
        for block in self._blocks(message):
            if block.get("type") != "tool_result":
                continue
            call_id = str(block.get("tool_use_id") or "")
            events.append(
                ToolResult(
                    call_id,
                    self._tool_names.get(call_id, ""),
                    tool_result_text(block.get("content")),
                    is_error=bool(block.get("is_error")),
                )
            )
        return events

    # ------------------------------------------------------------------ the end

    def _result_model(self) -> str | None:
        if self.model:
            return self.model
        usage = (self.result or {}).get("modelUsage")
        if isinstance(usage, dict) and usage:
            return next(iter(usage))
        return self.default_model

    def cost_event(self) -> CostEvent | None:
        result = self.result or {}
        cost = result.get("total_cost_usd")
        cost_usd = float(cost) if _is_number(cost) else None
        usage = result.get("usage")
        if cost_usd is None and not isinstance(usage, dict):
            return None
        usage = usage if isinstance(usage, dict) else {}
        input_tokens = (
            _int(usage.get("input_tokens"))
            + _int(usage.get("cache_creation_input_tokens"))
            + _int(usage.get("cache_read_input_tokens"))
        )
        return CostEvent(
            cost_usd=cost_usd,
            input_tokens=input_tokens,
            output_tokens=_int(usage.get("output_tokens")),
            model=self._result_model(),
        )

    def terminal(self, scrub: Callable[[str], str]) -> list[RuntimeEvent]:
        """The events that end a run that printed a ``result``: cost, then Done."""
        result = self.result or {}
        events: list[RuntimeEvent] = []
        cost = self.cost_event()
        if cost is not None:
            events.append(cost)
        subtype = str(result.get("subtype") or "")
        text = result.get("result") if isinstance(result.get("result"), str) else ""
        raw_errors = result.get("errors")
        errors = [str(e) for e in raw_errors if e] if isinstance(raw_errors, list) else []
        session = self.session_id
        if subtype == "error_max_turns":
            summary = "; ".join(errors) or text or "reached the maximum number of turns"
            events.append(Done("max_turns", summary=scrub(summary), session_id=session))
        elif result.get("is_error") is True or subtype != "success":
            summary = text.strip() or "; ".join(errors) or subtype or "error"
            summary = scrub(tail(summary, MAX_ERROR_SUMMARY_CHARS))
            status = result.get("api_error_status")
            is_status = isinstance(status, int) and not isinstance(status, bool)
            code = f"http_{status}" if is_status else (subtype or None)
            events.append(ErrorEvent(summary, code=code, fatal=True))
            events.append(Done("error", summary=summary, session_id=session))
        else:
            events.append(Done("success", summary=scrub(text), session_id=session))
        return events


# --------------------------------------------------------------------------- run


def _failure_summary(stderr: str, parser: StreamParser, code: int | None) -> str:
    text = stderr.strip() or "\n".join(parser.other_lines).strip()
    if text:
        return tail(text, MAX_ERROR_SUMMARY_CHARS)
    if code is None:
        return "claude ended without a result"
    if code == 0:
        return "claude exited without a result"
    return f"claude exited with code {code} without a result"


async def run(ctx: RunContext) -> AsyncIterator[RuntimeEvent]:
    """The ``clawboo_runtime_run`` hook body."""
    bin_path = await resolve_cli(BINARY, ctx)
    if not bin_path:
        yield missing_cli(BINARY)
        return
    if ctx.abort.is_set:
        yield Done("aborted")
        return

    home = private_home(ctx)
    env = build_env(ctx, home)
    mcp_path = write_mcp_config(ctx)
    resume = None
    if ctx.resume_session_id:
        if session_available(home, ctx.resume_session_id):
            resume = ctx.resume_session_id
        else:
            yield ErrorEvent(
                f"Claude session {ctx.resume_session_id} is not in this runtime's home; "
                "starting a new session (the prompt carries the handoff)",
                code="resume_unavailable",
            )
    argv = build_argv(bin_path, ctx, mcp_path, resume=resume)

    parser = StreamParser(default_model=ctx.model)
    # After its result, claude may linger (open MCP connections): bounded, then killed.
    cli = LineCli(argv, ctx=ctx, env=env, exit_grace=RESULT_EXIT_GRACE_S)
    finished = lambda: parser.result is not None  # noqa: E731
    async with aclosing(cli.events(parser.feed, finished=finished)) as events:
        async for event in events:
            yield event
    exit_ = cli.exit

    if exit_.start_error:
        yield Done("error", summary=exit_.start_error, session_id=parser.session_id)
        return
    if exit_.aborted:
        summary = ""
        if parser.result is not None and isinstance(parser.result.get("result"), str):
            summary = ctx.scrub(parser.result["result"])
        cost = parser.cost_event() if parser.result is not None else None
        if cost is not None:
            yield cost
        yield Done("aborted", summary=summary, session_id=parser.session_id)
        return
    if parser.result is not None:
        for event in parser.terminal(ctx.scrub):
            yield event
        return
    code = exit_.code
    summary = ctx.scrub(_failure_summary(exit_.stderr, parser, code))
    yield ErrorEvent(summary, code=f"exit_{code}" if code is not None else None, fatal=True)
    yield Done("error", summary=summary, session_id=parser.session_id)
