"""``clawboo-mock``: a fault-injection runtime that needs no CLI and no provider key.

Enabled only by ``CLAWBOO_ENABLE_MOCK_RUNTIME=1``. Its run behaviour is driven by directive
lines in the task description (see ``docs/api.md``), so the whole run flow can be exercised
over HTTP. Every line of ``ctx.prompt`` that starts with ``!`` and a known word is acted on,
in order (other lines and unknown ``!words`` are ignored):

- ``!ok <text>``: a text delta, then ``Done("success", summary=<text>)``.
- ``!write <relpath> <text>``: write ``<text>`` to a file inside ``ctx.cwd`` (tool
  ``write_file``); refused (an error event, the run goes on) without a cwd or when the path
  resolves outside it, symlinks included.
- ``!cost <usd> [<in> <out>]``: a cost event (model ``mock``).
- ``!tokens <in> <out>``: a cost event without dollars, so the host prices the tokens.
- ``!sleep <ms>``: wait, abortably.
- ``!hang``: wait until aborted.
- ``!error <message>``: a fatal error event, then ``Done("error")``.
- ``!maxturns``: ``Done("max_turns")``.
- ``!mcp <tool> <json-args>``: call the tool on the run's MCP server with a real MCP client
  (``$TASK`` in the arguments is the task id); its result text becomes a text delta.
- ``!spawn <seconds>``: run a SIGTERM-ignoring child with a SIGTERM-ignoring grandchild
  (the line ``PIDS <child> <grandchild>`` is re-emitted as text) and wait for it.
- ``!exec <command line>``: run that program (split like a shell would, never through one)
  in ``ctx.cwd`` with ``ctx.env``, as a runtime runs its CLI; each stdout line becomes a text
  delta, a non-zero exit an error event.
- ``!session <id>``: the final ``Done`` carries this session id (default ``mock-<run id>``).

The run starts with ``StatusEvent("running")`` (then ``resumed <id>`` when resuming) and ends
with exactly one ``Done``; without a terminal directive it succeeds with the last text.
"""

from __future__ import annotations

import errno
import functools
import json
import os
import re
import shlex
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import anyio

from clawboo_host.plugin_api import (
    AbortSignal,
    Capabilities,
    CostEvent,
    Done,
    ErrorEvent,
    Health,
    RunContext,
    RuntimeDescriptor,
    RuntimeEvent,
    StatusEvent,
    TextDelta,
    ToolCall,
    ToolResult,
    hookimpl,
)
from clawboo_host.plugin_api.process import spawn

T = TypeVar("T")

DESCRIPTOR = RuntimeDescriptor(
    id="clawboo-mock",
    name="Mock (fault injection)",
    cli_binary=None,
    install=None,
    auth_kind="none",
    docs_url="https://github.com/clawboo/clawboo",
    headless_auth=True,
    capabilities=Capabilities(
        streaming=True,
        mcp=True,
        worktrees=True,
        resume=True,
        tool_approval=True,
        steerable=False,
        models=("mock",),
        runtime_class="wrapped-oneshot",
    ),
)


@hookimpl
def clawboo_runtime_descriptor() -> RuntimeDescriptor:
    return DESCRIPTOR


@hookimpl
def clawboo_runtime_health() -> Health:
    return Health(ok=True)


# --------------------------------------------------------------------------- run

#: The directive words ``clawboo_runtime_run`` acts on; any other ``!word`` is ignored.
DIRECTIVES = frozenset(
    {
        "ok",
        "write",
        "cost",
        "tokens",
        "sleep",
        "hang",
        "error",
        "maxturns",
        "mcp",
        "spawn",
        "exec",
        "session",
    }
)
_DIRECTIVE_LINE = re.compile(r"^!([A-Za-z]+)(?:[ \t]+(.*))?$")

DEFAULT_TEXT = "mock done"
ABORTED_SUMMARY = "mock aborted"
MAX_TURNS_SUMMARY = "mock hit max turns"
NO_MCP_MESSAGE = "no MCP attached"
PIDS_PREFIX = "PIDS "

#: ``!spawn``: a child that ignores SIGTERM and starts a grandchild that ignores it too.
#: ``{seconds!r}`` is filled in; the child prints ``PIDS <child> <grandchild>`` first.
_SPAWN_SCRIPT = """\
import os, signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
SECONDS = {seconds!r}
grandchild = subprocess.Popen(
    [sys.executable, "-c",
     "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(%r)"
     % SECONDS],
    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
)
print("PIDS %d %d" % (os.getpid(), grandchild.pid), flush=True)
time.sleep(SECONDS)
grandchild.wait()
"""


class _Child:
    """A directive's child process (``!spawn``, ``!exec``): its stdout lines, then whether it
    was aborted or failed (``error``: it could not start, or exited non-zero)."""

    def __init__(self, argv: list[str], *, cannot_start: str, name: str) -> None:
        self.argv = argv
        self.cannot_start = cannot_start  # "<this>: <OS error>" when it cannot start
        self.name = name  # "<this> exited with code N"
        self.aborted = False
        self.error: str | None = None

    async def stdout(self, ctx: RunContext):
        try:
            async with spawn(self.argv, cwd=ctx.cwd, env=ctx.env, abort=ctx.abort) as proc:
                async for line in proc.stdout_lines():
                    yield line
                code = await proc.wait()
        except OSError as exc:
            self.error = f"{self.cannot_start}: {exc}"
            return
        self.aborted = proc.aborted or ctx.abort.is_set
        if code != 0 and not self.aborted:
            self.error = f"{self.name} exited with code {code}"


def parse_directives(prompt: str) -> list[tuple[str, str]]:
    """``(word, rest-of-line)`` for every line of ``prompt`` that is a known directive.

    A directive line starts with ``!`` immediately followed by a known word (case matters:
    ``!OK`` is not ``!ok``), then end of line or whitespace and the arguments.
    """
    found: list[tuple[str, str]] = []
    for line in prompt.splitlines():
        match = _DIRECTIVE_LINE.match(line)
        if match and match.group(1) in DIRECTIVES:
            found.append((match.group(1), match.group(2) or ""))
    return found


class WriteRefused(Exception):
    """``!write`` would leave the working directory (or there is none)."""


_OUTSIDE = "it is not a file inside the working directory"


def _resolve_inside(root: Path, relpath: str) -> Path | None:
    """``root/relpath`` with every existing symlink resolved, or None if it leaves ``root``."""
    candidate = Path(os.path.realpath(root / relpath))
    if candidate == root or not candidate.is_relative_to(root):
        return None
    return candidate


def _write_inside(cwd: Path | str | None, relpath: str, text: str) -> str:
    """Write ``text`` to ``relpath`` under ``cwd``; returns the written path relative to
    ``cwd``. Raises :class:`WriteRefused` or :class:`OSError` (failure)."""
    if cwd is None:
        raise WriteRefused("refused to write: this run has no working directory")
    if not relpath:
        raise WriteRefused("refused to write: no path given")
    root = Path(cwd).resolve(strict=True)
    target = _resolve_inside(root, relpath)
    if target is None:
        raise WriteRefused(f"refused to write {relpath!r}: {_OUTSIDE}")
    target.parent.mkdir(parents=True, exist_ok=True)
    # Resolve the parent strictly now that it exists: a symlink swapped in meanwhile shows.
    parent = target.parent.resolve(strict=True)
    if not parent.is_relative_to(root):
        raise WriteRefused(f"refused to write {relpath!r}: {_OUTSIDE}")
    final = parent / target.name
    # O_NOFOLLOW: never write through a symlink planted as the file itself.
    try:
        fd = os.open(final, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise WriteRefused(f"refused to write {relpath!r}: it is a symlink") from exc
        raise
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    return str(final.relative_to(root))


async def _unless_aborted(
    abort: AbortSignal, fn: Callable[[], Awaitable[T]]
) -> tuple[bool, T | None, Exception | None]:
    """Run ``fn()`` until it returns or ``abort`` is set: ``(aborted, result, error)``."""
    aborted = False
    result: T | None = None
    error: Exception | None = None

    async with anyio.create_task_group() as tg:

        async def watch() -> None:
            nonlocal aborted
            await abort.wait()
            aborted = True
            tg.cancel_scope.cancel()

        tg.start_soon(watch)
        try:
            result = await fn()
        except Exception as exc:  # noqa: BLE001 - handed back, not raised out of the group
            error = exc
        tg.cancel_scope.cancel()
    return aborted, result, error


def _mcp_arguments(raw: str, task_id: str) -> dict:
    """Parse ``!mcp`` JSON args, with ``$TASK`` replaced by the (JSON-escaped) task id."""
    raw = raw.strip() or "{}"
    raw = raw.replace("$TASK", json.dumps(task_id)[1:-1])
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise TypeError("arguments must be a JSON object")
    return value


@hookimpl
async def clawboo_runtime_run(ctx: RunContext) -> AsyncIterator[RuntimeEvent]:
    """Act on the ``!directive`` lines of ``ctx.prompt`` (see the module docstring)."""
    session_id = "mock-" + ctx.run_id
    last_text = DEFAULT_TEXT
    calls = 0

    def aborted() -> Done:
        return Done("aborted", summary=ABORTED_SUMMARY, session_id=session_id)

    def text(value: str) -> TextDelta:
        nonlocal last_text
        last_text = value
        return TextDelta(value)

    def call_id() -> str:
        nonlocal calls
        calls += 1
        return f"mock-{ctx.run_id}-{calls}"

    yield StatusEvent("running")
    if ctx.resume_session_id:
        yield TextDelta(f"resumed {ctx.resume_session_id}")

    directives = parse_directives(ctx.prompt or "")
    if not directives:
        if ctx.abort.is_set:
            yield aborted()
            return
        yield text(DEFAULT_TEXT)
        yield Done("success", summary=DEFAULT_TEXT, session_id=session_id)
        return

    for word, args in directives:
        if ctx.abort.is_set:
            yield aborted()
            return

        if word == "ok":
            yield text(args)
            yield Done("success", summary=args, session_id=session_id)
            return

        if word == "error":
            message = args or "mock error"
            yield ErrorEvent(message, fatal=True)
            yield Done("error", summary=message, session_id=session_id)
            return

        if word == "maxturns":
            yield Done("max_turns", summary=MAX_TURNS_SUMMARY, session_id=session_id)
            return

        if word == "hang":
            await ctx.abort.wait()
            yield aborted()
            return

        if word == "session":
            if args.strip():
                session_id = args.strip()
            else:
                yield ErrorEvent("!session needs an id")
            continue

        if word == "sleep":
            try:
                ms = float(args.split()[0])
            except (IndexError, ValueError):
                yield ErrorEvent(f"!sleep needs milliseconds, got {args!r}")
                continue
            with anyio.move_on_after(max(ms, 0) / 1000):
                await ctx.abort.wait()
            if ctx.abort.is_set:
                yield aborted()
                return
            continue

        if word == "cost":
            parts = args.split()
            try:
                if len(parts) not in (1, 3):
                    raise ValueError
                event = CostEvent(
                    cost_usd=float(parts[0]),
                    input_tokens=int(parts[1]) if len(parts) == 3 else 0,
                    output_tokens=int(parts[2]) if len(parts) == 3 else 0,
                    model="mock",
                )
            except ValueError:
                yield ErrorEvent(f"!cost needs <usd> [<in> <out>], got {args!r}")
                continue
            yield event
            continue

        if word == "tokens":
            parts = args.split()
            try:
                if len(parts) != 2:
                    raise ValueError
                event = CostEvent(
                    cost_usd=None,
                    input_tokens=int(parts[0]),
                    output_tokens=int(parts[1]),
                    model=ctx.model or "mock",
                )
            except ValueError:
                yield ErrorEvent(f"!tokens needs <in> <out>, got {args!r}")
                continue
            yield event
            continue

        if word == "write":
            relpath, _, content = args.partition(" ")
            tool_id = call_id()
            yield ToolCall(tool_id, "write_file", input={"path": relpath, "content": content})
            try:
                written = _write_inside(ctx.cwd, relpath, content)
            except (WriteRefused, OSError) as exc:
                refused = isinstance(exc, WriteRefused)
                message = str(exc) if refused else f"write {relpath!r} failed: {exc}"
                yield ToolResult(tool_id, "write_file", output=message, is_error=True)
                yield ErrorEvent(message, code="write_refused" if refused else "write_failed")
                continue
            yield ToolResult(tool_id, "write_file", output=f"wrote {written}")
            continue

        if word == "mcp":
            tool, _, raw_args = args.strip().partition(" ")
            if ctx.mcp_url is None:
                yield ErrorEvent(NO_MCP_MESSAGE, code="no_mcp")
                continue
            if not tool:
                yield ErrorEvent("!mcp needs a tool name")
                continue
            try:
                arguments = _mcp_arguments(raw_args, ctx.task_id)
            except (ValueError, TypeError) as exc:
                yield ErrorEvent(f"!mcp {tool}: bad JSON arguments: {exc}")
                continue
            from .mcp_client import call_tool  # the MCP SDK is only loaded when used

            tool_id = call_id()
            yield ToolCall(tool_id, tool, input=arguments)
            was_aborted, outcome, error = await _unless_aborted(
                ctx.abort,
                functools.partial(call_tool, ctx.mcp_url, ctx.mcp_token or "", tool, arguments),
            )
            if was_aborted:
                yield ToolResult(tool_id, tool, output=ABORTED_SUMMARY, is_error=True)
                yield aborted()
                return
            if error is not None or outcome is None:
                message = f"MCP call {tool!r} failed: {error}"
                yield ToolResult(tool_id, tool, output=message, is_error=True)
                yield ErrorEvent(message, code="mcp_failed")
                continue
            yield ToolResult(tool_id, tool, output=outcome.text, is_error=outcome.is_error)
            yield text(outcome.text)
            continue

        if word == "spawn":
            try:
                seconds = float(args.split()[0])
            except (IndexError, ValueError):
                yield ErrorEvent(f"!spawn needs seconds, got {args!r}")
                continue
            script = _SPAWN_SCRIPT.format(seconds=seconds)
            child = _Child(
                [sys.executable, "-c", script],
                cannot_start="!spawn could not start the child",
                name="!spawn child",
            )
            async for line in child.stdout(ctx):
                if line.startswith(PIDS_PREFIX):
                    yield text(line)
            if child.aborted:
                yield aborted()
                return
            if child.error:
                yield ErrorEvent(child.error)
            continue

        if word == "exec":
            try:
                argv = shlex.split(args)
            except ValueError as exc:
                yield ErrorEvent(f"!exec: {exc}")
                continue
            if not argv:
                yield ErrorEvent("!exec needs a command")
                continue
            child = _Child(
                argv, cannot_start=f"!exec could not start {argv[0]!r}", name=f"!exec {argv[0]}"
            )
            async for line in child.stdout(ctx):
                yield text(line)
            if child.aborted:
                yield aborted()
                return
            if child.error:
                yield ErrorEvent(child.error)
            continue

    if ctx.abort.is_set:
        yield aborted()
        return
    yield Done("success", summary=last_text, session_id=session_id)
