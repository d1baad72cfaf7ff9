"""Turn ``codex exec --json`` lines into the host's normalized run events.

One JSON object per stdout line (codex-cli 0.171, ``codex-rs/exec/src/exec_events.rs``):

- ``thread.started {thread_id}`` → the session id (what ``codex exec resume`` takes);
  ``StatusEvent("running")``.
- ``item.started`` / ``item.updated`` / ``item.completed {item: {id, type, ...}}``:

  ==================== =========================================================
  item type            events
  ==================== =========================================================
  ``agent_message``    completed: ``TextDelta(text)``; the last one is the summary
  ``reasoning``/``plan`` completed: ``TextDelta(text, channel="reasoning")``
  ``mcp_tool_call``    started: ``ToolCall(id, "mcp__<server>__<tool>", arguments)``;
                       completed: ``ToolResult`` (text content; ``is_error`` when
                       failed)
  ``command_execution`` started: ``ToolCall(id, "command_execution", {command})``;
                       completed: ``ToolResult`` (output; ``is_error`` on a failed,
                       declined or non-zero command)
  ``file_change``      completed: ``ToolCall`` + ``ToolResult`` (``kind path`` lines)
  ``web_search``       started: ``ToolCall``; completed: ``ToolResult``
  ``collab_tool_call`` started: ``ToolCall("collab__<tool>")``; completed: ``ToolResult``
  ``todo_list``        ``StatusEvent("todo <done>/<total>")`` when it changes
  ``error``            ``ErrorEvent`` (codex calls these non-fatal)
  ==================== =========================================================

  A completion without a start (some versions only print ``item.completed``) still gets
  its ``ToolCall`` first, so every ``ToolResult`` follows its call.
- ``turn.completed {usage}`` → ``CostEvent(cost_usd=None, input/output tokens, model)``
  (codex reports tokens, never dollars: the host prices them); the turn succeeded.
- ``error {message}`` → ``ErrorEvent``; ``turn.failed {error: {message}}`` → the turn
  failed with that message (an ``ErrorEvent(fatal=True)`` unless it repeats the last
  ``error``).

**Reconnect loop.** With an unreachable provider codex never exits: it prints
``error`` events ``Reconnecting... waiting for network (...)`` with a growing back-off
(3 s, 8 s, 13 s, 22 s, 44 s...). :attr:`CodexStream.reconnects` counts them in a row (any
other event resets it) so the run can give up. ``Reconnecting... k/N (...)`` messages are
not counted: codex stops by itself after the N-th one (``error`` + ``turn.failed``).
"""

from __future__ import annotations

import json
import re

from clawboo_host.plugin_api import (
    CostEvent,
    ErrorEvent,
    RuntimeEvent,
    StatusEvent,
    TextDelta,
    ToolCall,
    ToolResult,
)
from clawboo_host.plugin_api.text import tool_result_text

__all__ = ["CodexStream", "is_reconnect", "is_unbounded_reconnect"]

#: Tool output kept per ToolResult (a command can print megabytes).
MAX_TOOL_OUTPUT_CHARS = 20_000
_RECONNECT = re.compile(r"^\s*Reconnecting\b", re.I)
_BOUNDED_RECONNECT = re.compile(r"^\s*Reconnecting\.*\s*\d+\s*/\s*\d+", re.I)


def is_reconnect(message: str) -> bool:
    return bool(_RECONNECT.match(message or ""))


def is_unbounded_reconnect(message: str) -> bool:
    """A ``Reconnecting...`` error with no ``k/N`` counter: codex will retry for ever."""
    return is_reconnect(message) and not _BOUNDED_RECONNECT.match(message)


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _int(value: object) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return max(value, 0)
    if isinstance(value, float):
        return max(int(value), 0)
    return 0


def _clip(text: str, limit: int = MAX_TOOL_OUTPUT_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + f"\n… ({len(text) - limit} more chars)"


def _mcp_output(item: dict) -> str:
    """An MCP result as text: the text blocks joined, else the structured content as JSON."""
    error = item.get("error")
    if isinstance(error, dict) and _str(error.get("message")):
        return error["message"]
    result = item.get("result")
    if not isinstance(result, dict):
        return ""
    return tool_result_text(result.get("content"), result.get("structured_content"))


class CodexStream:
    """Stateful parser: :meth:`feed` one stdout line, get the events it means.

    After the stream: :attr:`session_id`, :attr:`last_message` (the summary),
    :attr:`completed` / :attr:`failed` (the turn's outcome, ``failed`` holds the message),
    :attr:`last_error`, :attr:`reconnects` (unbounded reconnect errors in a row),
    :attr:`other_lines` (non-JSON stdout, for error summaries).
    """

    def __init__(self, model: str | None = None) -> None:
        self.model = model
        self.session_id: str | None = None
        self.last_message = ""
        self.completed = False
        self.failed: str | None = None
        self.last_error: str | None = None
        self.last_reconnect: str | None = None
        self.reconnects = 0
        self.saw_json = False
        self.other_lines: list[str] = []
        self._called: dict[str, str] = {}  # tool call id -> name, for calls already yielded
        self._todo: tuple[int, int] | None = None

    @property
    def terminal(self) -> bool:
        """The turn ended (``turn.completed`` or ``turn.failed``)."""
        return self.completed or self.failed is not None

    # ------------------------------------------------------------------ lines

    def feed(self, line: str) -> list[RuntimeEvent]:
        text = line.strip()
        if not text:
            return []
        try:
            event = json.loads(text)
        except ValueError:
            event = None
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            self.other_lines.append(text[:2000])
            del self.other_lines[:-50]
            return []
        self.saw_json = True
        kind = event["type"]
        if kind == "error":
            return self._error(_str(event.get("message")) or "error")
        self.reconnects = 0  # anything but another error means codex is getting somewhere
        if kind == "thread.started":
            thread_id = _str(event.get("thread_id"))
            if thread_id:
                self.session_id = thread_id
            return [StatusEvent("running")]
        if kind in ("item.started", "item.updated", "item.completed"):
            item = event.get("item")
            if isinstance(item, dict):
                return self._item(kind.split(".", 1)[1], item)
            return []
        if kind == "turn.completed":
            return self._turn_completed(event)
        if kind == "turn.failed":
            error = event.get("error")
            message = _str(error.get("message")) if isinstance(error, dict) else ""
            message = message or self.last_error or "codex turn failed"
            repeated = message == self.last_error
            self.failed = message
            return [] if repeated else [ErrorEvent(message, code="turn_failed", fatal=True)]
        return []  # turn.started, item.plan.delta, request_user_input, future kinds

    def _error(self, message: str) -> list[RuntimeEvent]:
        if is_reconnect(message):
            self.last_reconnect = message
            if is_unbounded_reconnect(message):
                self.reconnects += 1
            return [ErrorEvent(message, code="reconnecting", fatal=False)]
        self.reconnects = 0
        self.last_error = message
        return [ErrorEvent(message, code="stream_error", fatal=False)]

    def _turn_completed(self, event: dict) -> list[RuntimeEvent]:
        self.completed = True
        usage = event.get("usage")
        if not isinstance(usage, dict):
            return []
        tokens_in, tokens_out = _int(usage.get("input_tokens")), _int(usage.get("output_tokens"))
        if not tokens_in and not tokens_out:
            return []
        return [
            CostEvent(
                cost_usd=None, input_tokens=tokens_in, output_tokens=tokens_out, model=self.model
            )
        ]

    # ------------------------------------------------------------------ items

    def _call(self, call_id: str, name: str, arguments: object) -> list[RuntimeEvent]:
        if call_id in self._called:
            return []
        self._called[call_id] = name
        return [ToolCall(call_id, name, arguments)]

    def _result(
        self, call_id: str, name: str, arguments: object, output: object, is_error: bool
    ) -> list[RuntimeEvent]:
        events = self._call(call_id, name, arguments)
        events.append(ToolResult(call_id, name, output, is_error=is_error))
        return events

    def _item(self, phase: str, item: dict) -> list[RuntimeEvent]:
        kind = _str(item.get("type"))
        item_id = _str(item.get("id")) or f"{kind}-{len(self._called)}"
        done = phase == "completed"

        if kind == "agent_message":
            text = _str(item.get("text"))
            if done and text:
                self.last_message = text
                return [TextDelta(text)]
            return []
        if kind in ("reasoning", "plan"):
            text = _str(item.get("text"))
            return [TextDelta(text, channel="reasoning")] if done and text else []
        if kind == "mcp_tool_call":
            server, tool = _str(item.get("server")), _str(item.get("tool"))
            name = f"mcp__{server}__{tool}" if server else tool or "mcp_tool"
            arguments = item.get("arguments")
            if not done:
                return self._call(item_id, name, arguments)
            failed = _str(item.get("status")) == "failed" or isinstance(item.get("error"), dict)
            return self._result(item_id, name, arguments, _clip(_mcp_output(item)), failed)
        if kind == "command_execution":
            arguments = {"command": _str(item.get("command"))}
            if not done:
                return self._call(item_id, "command_execution", arguments)
            exit_code = item.get("exit_code")
            failed = _str(item.get("status")) in ("failed", "declined") or (
                isinstance(exit_code, int) and not isinstance(exit_code, bool) and exit_code != 0
            )
            output = _clip(_str(item.get("aggregated_output")))
            return self._result(item_id, "command_execution", arguments, output, failed)
        if kind == "file_change":
            changes = item.get("changes") if isinstance(item.get("changes"), list) else []
            if not done:
                return []
            summary = "\n".join(
                f"{_str(c.get('kind')) or 'update'} {_str(c.get('path'))}"
                for c in changes
                if isinstance(c, dict)
            )
            failed = _str(item.get("status")) == "failed"
            return self._result(item_id, "file_change", {"changes": changes}, summary, failed)
        if kind == "web_search":
            arguments = {"query": _str(item.get("query"))}
            if not done:
                return self._call(item_id, "web_search", arguments)
            return self._result(item_id, "web_search", arguments, item.get("action"), False)
        if kind == "collab_tool_call":
            name = f"collab__{_str(item.get('tool')) or 'tool'}"
            arguments = {
                "prompt": item.get("prompt"),
                "receiver_thread_ids": item.get("receiver_thread_ids"),
            }
            if not done:
                return self._call(item_id, name, arguments)
            failed = _str(item.get("status")) == "failed"
            return self._result(item_id, name, arguments, item.get("agents_states"), failed)
        if kind == "todo_list":
            raw = item.get("items")
            entries = [e for e in raw if isinstance(e, dict)] if isinstance(raw, list) else []
            progress = (sum(1 for e in entries if e.get("completed") is True), len(entries))
            if not entries or progress == self._todo:
                return []
            self._todo = progress
            return [StatusEvent(f"todo {progress[0]}/{progress[1]}")]
        if kind == "error":
            message = _str(item.get("message"))
            return [ErrorEvent(message, code="warning", fatal=False)] if done and message else []
        return []
