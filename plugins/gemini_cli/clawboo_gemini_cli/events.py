"""Gemini CLI's ``--output-format stream-json`` lines → run events.

One JSON object per line (captured from gemini-cli 0.61, see the transcripts' README):

- ``init`` (``session_id``, ``model`` — ``auto`` while the router picks) → ``StatusEvent``;
- ``message`` — ``role: "user"`` echoes the prompt (ignored); ``role: "assistant"`` with
  ``delta: true`` is streamed answer text → ``TextDelta``;
- ``tool_use`` (``tool_name``, ``tool_id``, ``parameters``) → ``ToolCall``; MCP tools are
  named ``mcp_<server>_<tool>``;
- ``tool_result`` (``tool_id``, ``status``, ``output``, ``error``) → ``ToolResult``;
- ``error`` (``severity``, ``message``) → a non-fatal ``ErrorEvent`` (the ``result`` decides);
- ``result`` (``status`` ``success``/``error``, ``error {type, message}``, ``stats`` with
  token counts per model) → the outcome and one ``CostEvent`` per model (the host prices
  the tokens: Gemini reports no dollars).
"""

from __future__ import annotations

import json

from clawboo_host.plugin_api import (
    CostEvent,
    ErrorEvent,
    RuntimeEvent,
    StatusEvent,
    TextDelta,
    ToolCall,
    ToolResult,
)
from clawboo_host.plugin_api.text import SummaryText, tool_result_text

__all__ = ["MAX_TURNS_ERROR", "GeminiStream"]

#: The ``result.error.type`` of a run stopped by ``model.maxSessionTurns``.
MAX_TURNS_ERROR = "FatalTurnLimitedError"


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


class GeminiStream:
    """Feed stdout lines with :meth:`feed`; afterwards read :attr:`result`,
    :attr:`session_id`, :attr:`summary` (the final answer), :meth:`error_message`."""

    def __init__(self, model: str | None = None) -> None:
        self.model = model
        self.session_id: str | None = None
        self.result: dict | None = None
        self.summary = SummaryText()
        self.last_error: str | None = None
        self.other_lines: list[str] = []  # non-JSON stdout, for an error summary
        self._tool_names: dict[str, str] = {}

    def feed(self, line: str) -> list[RuntimeEvent]:
        text = line.strip()
        if not text:
            return []
        try:
            event = json.loads(text)
        except ValueError:
            event = None
        if not isinstance(event, dict):
            self.other_lines = [*self.other_lines[-49:], text[:2000]]
            return []
        kind = event.get("type")
        if kind == "init":
            if isinstance(event.get("session_id"), str):
                self.session_id = event["session_id"] or self.session_id
            if isinstance(event.get("model"), str) and event["model"] not in ("", "auto"):
                self.model = self.model or event["model"]
            return [StatusEvent("running")]
        if kind == "message":
            content = event.get("content")
            if event.get("role") == "assistant" and isinstance(content, str) and content:
                return [self.summary.observe(TextDelta(content))]
            return []
        if kind == "tool_use":
            call_id = str(event.get("tool_id") or "")
            name = str(event.get("tool_name") or "")
            self._tool_names[call_id] = name
            return [self.summary.observe(ToolCall(call_id, name, event.get("parameters")))]
        if kind == "tool_result":
            call_id = str(event.get("tool_id") or "")
            failed = event.get("status") != "success"
            error = event.get("error") if isinstance(event.get("error"), dict) else {}
            output = tool_result_text(event.get("output"))
            if failed and not output:
                output = str(error.get("message") or "tool error")
            return [ToolResult(call_id, self._tool_names.get(call_id, ""), output, failed)]
        if kind == "error":
            message = str(event.get("message") or "").strip()
            if not message:
                return []
            self.last_error = message
            return [ErrorEvent(message, code=str(event.get("severity") or "") or None)]
        if kind == "result":
            self.result = event
        return []

    # ------------------------------------------------------------------ the end

    @property
    def succeeded(self) -> bool:
        return (self.result or {}).get("status") == "success"

    @property
    def max_turns(self) -> bool:
        error = (self.result or {}).get("error")
        return isinstance(error, dict) and error.get("type") == MAX_TURNS_ERROR

    def error_message(self) -> str | None:
        """Why the ``result`` says ``error`` (its message, else the last ``error`` event)."""
        if self.result is None or self.succeeded:
            return None
        error = self.result.get("error")
        if isinstance(error, dict) and str(error.get("message") or "").strip():
            return str(error["message"]).strip()
        return self.last_error or "gemini reported an error"

    def cost_events(self) -> list[CostEvent]:
        """One ``CostEvent`` per model in ``result.stats.models`` (else the totals)."""
        stats = (self.result or {}).get("stats")
        if not isinstance(stats, dict):
            return []
        models = stats.get("models") if isinstance(stats.get("models"), dict) else {}
        events = [
            CostEvent(
                input_tokens=_int(usage.get("input_tokens")),
                output_tokens=_int(usage.get("output_tokens")),
                model=str(name),
            )
            for name, usage in models.items()
            if isinstance(usage, dict)
            and (_int(usage.get("input_tokens")) or _int(usage.get("output_tokens")))
        ]
        if events or models:
            return events
        tokens_in, tokens_out = _int(stats.get("input_tokens")), _int(stats.get("output_tokens"))
        if not (tokens_in or tokens_out):
            return []
        return [CostEvent(input_tokens=tokens_in, output_tokens=tokens_out, model=self.model)]
