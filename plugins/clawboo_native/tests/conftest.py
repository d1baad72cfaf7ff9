"""Shared fixtures for the native runtime's run tests: a fake provider and scripted answers."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from clawboo_host.testing.provider import FakeProvider


@pytest.fixture
def provider():
    with FakeProvider() as fake:
        yield fake


def anthropic_reply(
    text: str = "", calls=(), *, input_tokens=100, output_tokens=20, model="claude-haiku-4-5"
) -> dict:
    content = [{"type": "text", "text": text}] if text else []
    content += [
        {"type": "tool_use", "id": call_id, "name": name, "input": args}
        for call_id, name, args in calls
    ]
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": "tool_use" if calls else "end_turn",
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
    }


def openai_reply(
    text: str | None = None, calls=(), *, prompt_tokens=50, completion_tokens=10, cost=None
) -> dict:
    message: dict = {"role": "assistant", "content": text}
    if calls:
        message["tool_calls"] = [
            {
                "id": call_id,
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(args)},
            }
            for call_id, name, args in calls
        ]
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    if cost is not None:
        usage["cost"] = cost
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "m",
        "choices": [
            {"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop"}
        ],
        "usage": usage,
    }


@pytest.fixture
def wire():
    """The answer builders, for tests (conftest is not importable)."""
    return SimpleNamespace(anthropic=anthropic_reply, openai=openai_reply)
