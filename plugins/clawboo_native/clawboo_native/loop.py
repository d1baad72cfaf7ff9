"""The agent loop of the native runtime: model turn → tool calls → results → next turn.

One run, as events:

1. choose the provider and model (:func:`~clawboo_native.llm.choose_route`); none connected →
   ``Done("error", "no provider key connected (...)")`` with no request made;
2. the tools: the file tools when the run has a worktree (``ctx.cwd``), plus the host's board
   tools over MCP when ``ctx.mcp_url`` is set; sorted by name;
3. up to ``max_turns`` turns (16; ``CLAWBOO_NATIVE_MAX_TURNS`` overrides): call the model
   (``CostEvent`` after every call: tokens, model, and dollars from the provider's reported
   cost, else ``None`` so the host prices the tokens); its text is a
   ``TextDelta``; each tool call is a ``ToolCall``, run sequentially, then a ``ToolResult``;
   a turn without tool calls ends the run ``Done("success", summary=<its text>)``;
4. out of turns → ``Done("max_turns")``; a provider failure → ``ErrorEvent`` (fatal) then
   ``Done("error", "<provider>: <status> <message>")``; abort → the in-flight HTTP call (or
   MCP call) is cancelled and the run ends ``Done("aborted")`` at once.

``Done.session_id`` is the run id. The transcript is not persisted: a later run of the same
task resumes through the worktree and the handoff the host writes into the prompt (the
previous summary, next step and warnings), not by replaying the conversation.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import anyio
import httpx

from clawboo_host.plugin_api import (
    CostEvent,
    Done,
    ErrorEvent,
    RunContext,
    RuntimeEvent,
    TextDelta,
    ToolCall,
    ToolResult,
)

from .llm import (
    Aborted,
    ProviderError,
    Route,
    ToolSpec,
    abortable,
    call_model,
    choose_route,
    make_transport,
    scrub,
)
from .providers import NO_KEY_MESSAGE
from .tools import FILE_TOOL_NAMES, FILE_TOOLS, Workspace

if TYPE_CHECKING:
    from .board import BoardTools

DEFAULT_MAX_TURNS = 16
#: Run on the event loop: ``read_file`` reads at most 64 KiB and opens without blocking (a FIFO
#: is refused), so it costs less than the ~0.3 ms hop to a worker thread that the unbounded
#: tools (a 10 MiB write, a large directory) take.
INLINE_TOOLS = frozenset({"read_file"})
#: The model's copy of a tool result is capped (the emitted event keeps the full output).
TRANSCRIPT_OUTPUT_CAP = 64 * 1024


def max_turns(env: dict[str, str]) -> int:
    try:
        value = int((env.get("CLAWBOO_NATIVE_MAX_TURNS") or "").strip())
    except ValueError:
        return DEFAULT_MAX_TURNS
    return value if value > 0 else DEFAULT_MAX_TURNS


def system_prompt(ctx: RunContext, tools: list[ToolSpec], board: bool) -> str:
    if ctx.cwd is not None:
        lines = [
            f"You are a coding agent working in the directory {ctx.cwd} (a git worktree for "
            "this task). Use the tools to inspect and change files; file paths are relative "
            "to that directory."
        ]
    else:
        lines = ["You are an agent working on a task. You have no access to files in this run."]
    if board:
        lines.append(f"The task board is available through tools; this task's id is {ctx.task_id}.")
    if not tools:
        lines.append("You have no tools in this run: answer directly.")
    lines.append(
        "When the work is done, reply with a concise summary of what you did and how you "
        "checked it, without calling any more tools."
    )
    lines.append(f"Today: {dt.datetime.now(dt.UTC).date().isoformat()}")
    return "\n\n".join(lines)


def _capped(text: str) -> str:
    if len(text) <= TRANSCRIPT_OUTPUT_CAP:
        return text
    more = len(text) - TRANSCRIPT_OUTPUT_CAP
    return text[:TRANSCRIPT_OUTPUT_CAP] + f"\n…[truncated: {more} more characters]"


def _aborted(ctx: RunContext, text: str) -> Done:
    summary = text or f"aborted ({ctx.abort.reason or 'aborted'}) before the model finished"
    return Done("aborted", summary=summary, session_id=ctx.run_id)


async def run(ctx: RunContext) -> AsyncIterator[RuntimeEvent]:
    route = choose_route(ctx.env, ctx.model)
    if route is None:
        yield Done("error", summary=NO_KEY_MESSAGE, session_id=ctx.run_id)
        return
    if ctx.abort.is_set:
        yield _aborted(ctx, "")
        return

    workspace = Workspace(ctx.cwd) if ctx.cwd is not None else None
    tools: list[ToolSpec] = list(FILE_TOOLS) if workspace else []
    board: BoardTools | None = None
    if ctx.mcp_url:
        from .board import BoardTools  # the MCP SDK is imported only by runs that use it

        board = BoardTools(ctx.mcp_url, ctx.mcp_token)
        try:
            listed = await abortable(ctx.abort, board.list_tools)
        except Aborted:
            yield _aborted(ctx, "")
            return
        except Exception as exc:  # the run goes on without board tools
            message = board.describe_failure(exc)
            board = None
            yield ErrorEvent(f"board tools unavailable: {message}", code="mcp_unavailable")
        else:
            taken = {t.name for t in tools}
            tools += [t for t in listed if t.name not in taken]
    tools.sort(key=lambda t: t.name)

    system = system_prompt(ctx, tools, board is not None)
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": [{"type": "text", "text": ctx.prompt}]}
    ]
    try:
        transport = make_transport(route, ctx.env)
    except (ValueError, OSError, httpx.HTTPError) as exc:  # a malformed proxy URL or CA file
        message = f"{route.name}: cannot set up the HTTP client ({type(exc).__name__})"
        yield ErrorEvent(message, code="bad_request", fatal=True)
        yield Done("error", summary=message, session_id=ctx.run_id)
        return
    final_text = ""
    try:
        for _turn in range(max_turns(ctx.env)):
            if ctx.abort.is_set:
                yield _aborted(ctx, final_text)
                return
            try:
                turn = await call_model(
                    transport, route, ctx.env, system, messages, tools, ctx.abort
                )
            except Aborted:
                yield _aborted(ctx, final_text)
                return
            except ProviderError as err:
                yield ErrorEvent(str(err), code=err.code, fatal=True)
                yield Done("error", summary=str(err), session_id=ctx.run_id)
                return
            yield _cost(route, turn)
            text = scrub(turn.text, route.key)
            if text:
                yield TextDelta(text)
            parts: list[dict[str, Any]] = []
            if text:
                parts.append({"type": "text", "text": text})
            parts += [
                {"type": "tool-call", "id": c.id, "name": c.name, "input": c.input}
                for c in turn.tool_calls
            ]
            messages.append({"role": "assistant", "content": parts})
            if not turn.tool_calls:
                yield Done("success", summary=text or final_text, session_id=ctx.run_id)
                return
            results: list[dict[str, Any]] = []
            for call in turn.tool_calls:
                yield ToolCall(call.id, call.name, call.input)
                if ctx.abort.is_set:
                    yield _aborted(ctx, text or final_text)
                    return
                try:
                    output, is_error = await _dispatch(ctx, workspace, board, call.name, call.input)
                except Aborted:
                    yield _aborted(ctx, text or final_text)
                    return
                output = scrub(output, route.key)
                yield ToolResult(call.id, call.name, output, is_error)
                results.append(
                    {
                        "type": "tool-result",
                        "id": call.id,
                        "output": _capped(output) or "(no output)",
                        "is_error": is_error,
                    }
                )
            messages.append({"role": "user", "content": results})
            final_text = text or final_text
        yield Done("max_turns", summary=final_text, session_id=ctx.run_id)
    finally:
        with anyio.CancelScope(shield=True):
            await transport.aclose()


def _cost(route: Route, turn) -> CostEvent:
    """Dollars only when the provider reports them (OpenRouter); otherwise the host prices
    the tokens with its one price table."""
    return CostEvent(
        cost_usd=turn.reported_cost_usd,
        input_tokens=turn.input_tokens,
        output_tokens=turn.output_tokens,
        model=route.model,
    )


async def _dispatch(
    ctx: RunContext,
    workspace: Workspace | None,
    board: BoardTools | None,
    name: str,
    arguments: Any,
) -> tuple[str, bool]:
    args = arguments if isinstance(arguments, dict) else {}
    if workspace is not None and name in FILE_TOOL_NAMES:
        if name in INLINE_TOOLS:  # a bounded read: cheaper than the hop to a worker thread
            outcome = workspace.run(name, args)
        else:
            outcome = await anyio.to_thread.run_sync(workspace.run, name, args)
        return outcome.output, outcome.is_error
    if board is not None and name in board.names:
        return await abortable(ctx.abort, board.call, name, args)
    return f"unknown tool: {name}", True
