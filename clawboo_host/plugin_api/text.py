"""Small text helpers for building run summaries and tool results."""

from __future__ import annotations

import json

from .types import Done, DoneReason, RuntimeEvent, TextDelta, ToolCall

__all__ = ["SummaryText", "tail", "tool_result_text"]


def tail(text: str, limit: int = 2000) -> str:
    """The end of ``text`` (stripped), at most ``limit`` characters, ``…``-prefixed when cut.

    Error output says what went wrong last: keep the end, not the beginning.
    """
    text = text.strip()
    return text if len(text) <= limit else "…" + text[-(limit - 1) :]


def tool_result_text(content: object, structured: object = None) -> str:
    """A tool result as text, the way every CLI reports MCP/tool output.

    A string as is; a list of content blocks as their ``text`` blocks joined by newlines;
    otherwise ``structured`` (an MCP ``structuredContent``) as JSON, else ``content`` as JSON;
    nothing at all is ``""``.
    """
    if content is None and structured is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [
            block["text"]
            for block in content
            if isinstance(block, dict) and isinstance(block.get("text"), str)
        ]
        if parts:
            return "\n".join(parts)
    if structured is not None:
        return json.dumps(structured, ensure_ascii=False)
    return json.dumps(content, ensure_ascii=False) if content else ""


class SummaryText:
    """The run's summary, accumulated from the events a plugin yields.

    The summary rule: a run's summary is the agent's **final answer** — the assistant text
    streamed after its last tool call (reasoning text never counts). Feed every event to
    :meth:`observe`; read :attr:`text`; :meth:`done` builds the terminal event with it.
    """

    def __init__(self, limit: int = 20_000) -> None:
        self._parts: list[str] = []
        self._chars = 0
        self._limit = limit

    def observe(self, event: RuntimeEvent) -> RuntimeEvent:
        """Note ``event`` (returned unchanged, so ``yield summary.observe(event)`` works)."""
        if isinstance(event, ToolCall):
            self.reset()
        elif isinstance(event, TextDelta) and event.channel != "reasoning":
            self.add(event.text)
        return event

    def add(self, text: str) -> None:
        self._parts.append(text)
        self._chars += len(text)
        while self._chars > self._limit and len(self._parts) > 1:
            self._chars -= len(self._parts.pop(0))

    def reset(self) -> None:
        """A new answer starts (after a tool call): the text so far was narration."""
        self._parts.clear()
        self._chars = 0

    @property
    def text(self) -> str:
        return "".join(self._parts).strip()

    def done(
        self,
        reason: DoneReason,
        *,
        scrub=lambda text: text,
        session_id: str | None = None,
        fallback: str = "",
    ) -> Done:
        """``Done(reason)`` whose summary is the final answer (else ``fallback``), scrubbed."""
        return Done(reason, summary=scrub(self.text or fallback), session_id=session_id)
