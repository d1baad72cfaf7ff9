"""The native agent loop, driven directly against a fake provider on loopback (real HTTP)."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import anyio
import clawboo_native
import pytest
from clawboo_native.llm import choose_route, make_transport
from clawboo_native.tools import GIT_DIR, OUTSIDE, Workspace
from clawboo_native.transport import StreamsTransport

from clawboo_host.plugin_api import (
    AbortSignal,
    CostEvent,
    Done,
    ErrorEvent,
    RunContext,
    TextDelta,
    ToolCall,
    ToolResult,
)
from clawboo_host.testing.helpers import self_signed_cert
from clawboo_host.testing.provider import FakeProvider

pytestmark = pytest.mark.anyio

KEY = "sk-ant-loop-test-key-0001"
OPENAI_KEY = "sk-openai-loop-test-key-0002"


def make_ctx(
    tmp_path: Path, env: dict, *, cwd: Path | None = None, model=None, prompt="Write hello.txt"
) -> RunContext:
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    return RunContext(
        run_id="exec-1",
        task_id="task-1",
        agent_id="clawboo-native",
        prompt=prompt,
        cwd=cwd,
        env=env,
        home_dir=None,
        scratch_dir=scratch,
        abort=AbortSignal(),
        model=model,
    )


async def collect(ctx: RunContext) -> list:
    return [event async for event in clawboo_native.clawboo_runtime_run(ctx)]


def body(request) -> dict:
    return json.loads(request.body)


@pytest.fixture
def workdir(tmp_path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


@pytest.fixture
def anthropic_env(provider) -> dict:
    return {
        "ANTHROPIC_API_KEY": KEY,
        "ANTHROPIC_BASE_URL": provider.url,
        "CLAWBOO_NATIVE_RETRIES": "1",
    }


# ------------------------------------------------------------------ choosing a provider


def test_route_follows_the_first_connected_provider():
    assert choose_route({}, None) is None
    assert choose_route({"OPENAI_API_KEY": "  "}, "gpt-4o") is None
    route = choose_route({"OPENROUTER_API_KEY": "or", "GROQ_API_KEY": "g"}, None)
    assert (route.name, route.model, route.key) == (
        "openrouter",
        "anthropic/claude-haiku-4.5",
        "or",
    )
    route = choose_route({"GROQ_API_KEY": "g", "ANTHROPIC_API_KEY": "a"}, "my-model")
    assert (route.name, route.model) == ("anthropic", "my-model")
    route = choose_route({"OLLAMA_BASE_URL": "http://h:11434"}, None)
    assert (route.name, route.model, route.key) == ("ollama", "llama3.2", "ollama")
    route = choose_route({"ANTHROPIC_API_KEY": "a", "OPENAI_API_KEY": "o"}, "openai:gpt-4o")
    assert (route.name, route.model, route.key) == ("openai", "gpt-4o", "o")
    assert choose_route({"ANTHROPIC_API_KEY": "a"}, "openai:gpt-4o") is None
    route = choose_route({"ANTHROPIC_API_KEY": "a"}, "ollama:llama3.2:3b")
    assert (route.name, route.model) == ("ollama", "llama3.2:3b")


async def test_no_key_makes_no_request(tmp_path, provider):
    events = await collect(make_ctx(tmp_path, {"ANTHROPIC_BASE_URL": provider.url}))
    assert len(events) == 1 and events[0].reason == "error"
    assert events[0].summary.startswith("no provider key connected (")
    assert provider.requests == []


# ------------------------------------------------------------------ the loop


async def test_two_turns_write_a_file(tmp_path, provider, anthropic_env, workdir, wire):
    provider.respond(
        "POST",
        "/v1/messages",
        200,
        wire.anthropic(
            "Writing it.",
            [("toolu_1", "write_file", {"path": "docs/hello.txt", "content": "hi\n"})],
        ),
        times=1,
    )
    provider.respond("POST", "/v1/messages", 200, wire.anthropic("Wrote docs/hello.txt."), times=1)
    events = await collect(make_ctx(tmp_path, anthropic_env, cwd=workdir))

    assert (workdir / "docs" / "hello.txt").read_text() == "hi\n"
    kinds = [type(e).__name__ for e in events]
    assert kinds == [
        "CostEvent",
        "TextDelta",
        "ToolCall",
        "ToolResult",
        "CostEvent",
        "TextDelta",
        "Done",
    ]
    assert events[2] == ToolCall(
        "toolu_1", "write_file", {"path": "docs/hello.txt", "content": "hi\n"}
    )
    assert events[3] == ToolResult("toolu_1", "write_file", "wrote docs/hello.txt", False)
    assert events[-1] == Done("success", "Wrote docs/hello.txt.", "exec-1")
    assert events[0] == CostEvent(
        cost_usd=None, input_tokens=100, output_tokens=20, model="claude-sonnet-4-6"
    )

    first, second = (body(r) for r in provider.requests)
    assert first["model"] == "claude-sonnet-4-6" and first["max_tokens"] == 8192
    assert str(workdir) in first["system"]
    assert first["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Write hello.txt"}]}
    ]
    assert [t["name"] for t in first["tools"]] == ["list_files", "read_file", "write_file"]
    assert set(first["tools"][0]) == {"name", "description", "input_schema"}
    assert second["messages"][1]["content"][1]["type"] == "tool_use"
    assert second["messages"][2] == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "wrote docs/hello.txt"}
        ],
    }
    for request in provider.requests:
        assert request.path == "/v1/messages"
        assert request.headers["x-api-key"] == KEY
        assert request.headers["anthropic-version"] == "2023-06-01"


async def test_the_key_appears_only_in_request_headers(
    tmp_path, provider, anthropic_env, workdir, wire
):
    provider.respond(
        "POST",
        "/v1/messages",
        200,
        wire.anthropic("", [("t1", "read_file", {"path": "secret-echo.txt"})]),
        times=1,
    )
    provider.respond("POST", "/v1/messages", 200, wire.anthropic(f"The key is {KEY}"), times=1)
    (workdir / "secret-echo.txt").write_text(f"key={KEY}\n")
    events = await collect(make_ctx(tmp_path, anthropic_env, cwd=workdir))
    rendered = json.dumps([e.to_json() for e in events]) + events[-1].summary
    assert KEY not in rendered and "***" in rendered
    for request in provider.requests:
        assert KEY not in request.body.decode()
        assert request.headers["x-api-key"] == KEY
    assert not list((tmp_path / "scratch").iterdir())


async def test_no_cwd_means_no_file_tools(tmp_path, provider, anthropic_env, wire):
    provider.respond(
        "POST",
        "/v1/messages",
        200,
        wire.anthropic("", [("t1", "read_file", {"path": "x"})]),
        times=1,
    )
    provider.respond("POST", "/v1/messages", 200, wire.anthropic("done"), times=1)
    events = await collect(make_ctx(tmp_path, anthropic_env))
    assert "tools" not in body(provider.requests[0])
    result = next(e for e in events if isinstance(e, ToolResult))
    assert (result.output, result.is_error) == ("unknown tool: read_file", True)
    assert events[-1].reason == "success"


async def test_max_turns(tmp_path, provider, anthropic_env, workdir, wire):
    env = dict(anthropic_env, CLAWBOO_NATIVE_MAX_TURNS="3")
    provider.respond(
        "POST", "/v1/messages", 200, wire.anthropic("Looking.", [("t", "list_files", {})])
    )
    events = await collect(make_ctx(tmp_path, env, cwd=workdir))
    assert len(provider.requests) == 3
    assert events[-1] == Done("max_turns", "Looking.", "exec-1")
    assert sum(isinstance(e, ToolResult) for e in events) == 3  # the last turn's tools still ran
    assert sum(isinstance(e, CostEvent) for e in events) == 3


@pytest.mark.parametrize("status", [401, 403])
async def test_a_bad_key_is_an_error_without_retry(tmp_path, provider, anthropic_env, status):
    provider.respond(
        "POST",
        "/v1/messages",
        status,
        {
            "type": "error",
            "error": {"type": "authentication_error", "message": f"invalid x-api-key {KEY}"},
        },
    )
    events = await collect(make_ctx(tmp_path, anthropic_env))
    assert len(provider.requests) == 1
    assert events == [
        ErrorEvent(f"anthropic: {status} Invalid API key.", code="auth", fatal=True),
        Done("error", f"anthropic: {status} Invalid API key.", "exec-1"),
    ]


async def test_overload_is_retried_then_reported(tmp_path, provider, anthropic_env, wire):
    provider.respond(
        "POST",
        "/v1/messages",
        529,
        {"error": {"message": "Overloaded"}},
        headers={"retry-after": "0"},
        times=1,
    )
    provider.respond("POST", "/v1/messages", 200, wire.anthropic("fine"), times=1)
    events = await collect(make_ctx(tmp_path, anthropic_env))
    assert events[-1] == Done("success", "fine", "exec-1")
    provider.respond(
        "POST", "/v1/messages", 500, {"error": {"message": "boom"}}, headers={"retry-after": "0"}
    )
    events = await collect(make_ctx(tmp_path, anthropic_env))
    assert len(provider.requests) == 4  # 2 + one retry
    assert events[-1] == Done("error", "anthropic: 500 boom", "exec-1")
    assert events[-2].code == "overloaded"


async def test_context_overflow_is_named(tmp_path, provider, anthropic_env):
    provider.respond(
        "POST",
        "/v1/messages",
        400,
        {"error": {"message": "prompt is too long: 250000 tokens > 200000 maximum"}},
    )
    events = await collect(make_ctx(tmp_path, anthropic_env))
    assert events[-1].summary == (
        "anthropic: 400 The task was too large for the model's context window."
    )
    assert events[-2].code == "context_overflow"


async def test_unreachable_provider(tmp_path):
    env = {
        "ANTHROPIC_API_KEY": KEY,
        "ANTHROPIC_BASE_URL": "http://127.0.0.1:9",
        "CLAWBOO_NATIVE_RETRIES": "0",
    }
    events = await collect(make_ctx(tmp_path, env))
    assert events[-1].reason == "error"
    assert events[-1].summary.startswith("anthropic: could not reach the provider")


async def test_a_redirect_is_not_followed(tmp_path, provider, anthropic_env):
    provider.redirect_to("POST", "/v1/messages", "http://127.0.0.1:9/steal")
    events = await collect(make_ctx(tmp_path, anthropic_env))
    assert len(provider.requests) == 1
    assert events[-1].summary.startswith("anthropic: 302 ")


async def test_abort_cancels_the_call_in_flight(tmp_path, provider, anthropic_env, wire):
    provider.respond("POST", "/v1/messages", 200, wire.anthropic("too late"), delay=30)
    ctx = make_ctx(tmp_path, anthropic_env)
    events: list = []

    async def drive():
        async for event in clawboo_native.clawboo_runtime_run(ctx):
            events.append(event)

    async with anyio.create_task_group() as tg:
        tg.start_soon(drive)
        while not provider.requests:
            await anyio.sleep(0.01)
        ctx.abort.set("aborted by request")
    assert events == [
        Done("aborted", "aborted (aborted by request) before the model finished", "exec-1")
    ]


async def test_abort_before_the_run(tmp_path, provider, anthropic_env):
    ctx = make_ctx(tmp_path, anthropic_env)
    ctx.abort.set()
    events = await collect(ctx)
    assert [e.reason for e in events] == ["aborted"] and provider.requests == []


# ------------------------------------------------------------------ OpenAI-compatible


async def test_openai_compatible_round_trip(tmp_path, provider, workdir, wire):
    env = {"OPENAI_API_KEY": OPENAI_KEY, "OPENAI_BASE_URL": provider.url + "/v1"}
    (workdir / "a.txt").write_text("alpha\n")
    provider.respond(
        "POST",
        "/v1/chat/completions",
        200,
        wire.openai(None, [("call_1", "read_file", {"path": "a.txt"})]),
        times=1,
    )
    provider.respond("POST", "/v1/chat/completions", 200, wire.openai("It says alpha."), times=1)
    events = await collect(make_ctx(tmp_path, env, cwd=workdir, model="gpt-4o-mini"))
    assert events[-1] == Done("success", "It says alpha.", "exec-1")
    assert next(e for e in events if isinstance(e, ToolResult)).output == "alpha\n"
    assert events[0] == CostEvent(
        cost_usd=None, input_tokens=50, output_tokens=10, model="gpt-4o-mini"
    )
    first, second = (body(r) for r in provider.requests)
    assert provider.requests[0].headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert first["model"] == "gpt-4o-mini" and first["max_tokens"] == 8192
    assert "max_completion_tokens" not in first and "usage" not in first
    assert first["messages"][0]["role"] == "system"
    assert first["messages"][1] == {"role": "user", "content": "Write hello.txt"}
    assert first["tools"][1]["type"] == "function"
    assert first["tools"][1]["function"]["name"] == "read_file"
    assert second["messages"][2] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "read_file", "arguments": '{"path": "a.txt"}'},
            }
        ],
    }
    assert second["messages"][3] == {"role": "tool", "tool_call_id": "call_1", "content": "alpha\n"}


async def test_openrouter_reports_its_cost(tmp_path, provider, wire):
    env = {"OPENROUTER_API_KEY": "or-key-0001", "OPENROUTER_BASE_URL": provider.url + "/api/v1"}
    provider.respond("POST", "/api/v1/chat/completions", 200, wire.openai("hello", cost=0.0042))
    events = await collect(make_ctx(tmp_path, env))
    assert events[0] == CostEvent(
        cost_usd=0.0042, input_tokens=50, output_tokens=10, model="anthropic/claude-haiku-4.5"
    )
    assert body(provider.requests[0])["usage"] == {"include": True}


async def test_without_a_reported_cost_the_host_prices(tmp_path, provider, wire):
    env = {"GROQ_API_KEY": "groq-key-0001", "GROQ_BASE_URL": provider.url + "/openai/v1"}
    provider.respond("POST", "/openai/v1/chat/completions", 200, wire.openai("hi"))
    events = await collect(make_ctx(tmp_path, env))
    assert events[0] == CostEvent(
        cost_usd=None, input_tokens=50, output_tokens=10, model="llama-3.3-70b-versatile"
    )
    assert provider.requests[0].headers["authorization"] == "Bearer groq-key-0001"


@pytest.mark.parametrize("suffix", ["", "/v1"])
async def test_ollama_is_keyless_and_gets_v1(tmp_path, provider, wire, suffix):
    env = {"OLLAMA_BASE_URL": provider.url + suffix}
    provider.respond("POST", "/v1/chat/completions", 200, wire.openai("hi from llama"))
    events = await collect(make_ctx(tmp_path, env))
    assert events[-1] == Done("success", "hi from llama", "exec-1")
    request = provider.requests[0]
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer ollama"
    assert body(request)["model"] == "llama3.2"


async def test_malformed_tool_arguments_are_passed_raw(tmp_path, provider, workdir):
    env = {"OPENAI_API_KEY": OPENAI_KEY, "OPENAI_BASE_URL": provider.url + "/v1"}
    reply = {
        "choices": [
            {
                "message": {
                    "content": "",
                    "tool_calls": [
                        {
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "list_files", "arguments": "{oops"},
                        }
                    ],
                }
            }
        ]
    }
    provider.respond("POST", "/v1/chat/completions", 200, reply, times=1)
    provider.respond(
        "POST", "/v1/chat/completions", 200, {"choices": [{"message": {"content": "ok"}}]}, times=1
    )
    events = await collect(make_ctx(tmp_path, env, cwd=workdir))
    assert next(e for e in events if isinstance(e, ToolCall)).input == {"_raw": "{oops"}
    assert next(e for e in events if isinstance(e, ToolResult)).output == "(empty)"
    assert events[-1].reason == "success"


# ------------------------------------------------------------------ path confinement


def test_workspace_refuses_escapes(tmp_path, workdir):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    (workdir / "link").symlink_to(outside)
    (workdir / "file-link").symlink_to(outside / "secret.txt")
    (workdir / "dangling").symlink_to(outside / "new.txt")
    (workdir / "ok").mkdir()
    ws = Workspace(workdir)
    for path in (
        "../x",
        "../../etc/passwd",
        "/etc/passwd",
        "docs/../../escape.txt",
        "",
        str(outside / "secret.txt"),
        "link/secret.txt",
        "file-link",
        "link",
        "dangling",
        None,
        ".git",
        ".git/config",
        "ok/../.GIT/hooks/x",
    ):
        for tool, args in (
            ("read_file", {"path": path}),
            ("write_file", {"path": path, "content": "x"}),
            ("list_files", {"path": path} if path else {"path": "link"}),
        ):
            outcome = ws.run(tool, args)
            assert outcome.is_error, (tool, path)
            assert outcome.output in (OUTSIDE, GIT_DIR), (tool, path, outcome.output)
    assert not (outside / "new.txt").exists()
    assert (outside / "secret.txt").read_text() == "secret"
    assert (
        ws.run("write_file", {"path": "ok/inside.txt", "content": "in"}).output
        == "wrote ok/inside.txt"
    )
    assert ws.run("read_file", {"path": "ok/./inside.txt"}).output == "in"


def test_file_tool_details(workdir):
    ws = Workspace(workdir)
    assert ws.run("list_files", {}).output == "(empty)"
    ws.run("write_file", {"path": "a/b/c.txt", "content": "deep"})
    ws.run("write_file", {"path": "z.txt", "content": None})
    (workdir / ".git").write_text("gitdir: /elsewhere\n")
    assert ws.run("list_files", {"path": ""}).output == "dir  a\nfile z.txt"
    assert ws.run("list_files", {"path": "a"}).output == "dir  b"
    assert ws.run("read_file", {"path": "a"}).output == "not a file"
    missing = ws.run("read_file", {"path": "nope.txt"})
    assert missing.is_error and "nope.txt" in missing.output
    (workdir / "big.txt").write_bytes(b"x" * (64 * 1024 + 10))
    text = ws.run("read_file", {"path": "big.txt"}).output
    assert text.endswith("…[truncated at 65536 bytes]") and text.count("x") == 64 * 1024
    assert (workdir / ".git").read_text() == "gitdir: /elsewhere\n"


async def test_escapes_through_the_loop_change_nothing(
    tmp_path, provider, anthropic_env, workdir, wire
):
    outside = tmp_path / "outside"
    outside.mkdir()
    (workdir / "out").symlink_to(outside)
    calls = [
        ("t1", "write_file", {"path": "../x", "content": "x"}),
        ("t2", "write_file", {"path": str(tmp_path / "abs.txt"), "content": "x"}),
        ("t3", "write_file", {"path": "out/x", "content": "x"}),
        ("t4", "read_file", {"path": "/etc/hostname"}),
    ]
    provider.respond("POST", "/v1/messages", 200, wire.anthropic("", calls), times=1)
    provider.respond("POST", "/v1/messages", 200, wire.anthropic("refused"), times=1)
    events = await collect(make_ctx(tmp_path, anthropic_env, cwd=workdir))
    results = [e for e in events if isinstance(e, ToolResult)]
    assert [(r.output, r.is_error) for r in results] == [(OUTSIDE, True)] * 4
    assert not (tmp_path / "x").exists() and not (tmp_path / "abs.txt").exists()
    assert os.listdir(outside) == []
    blocks = body(provider.requests[1])["messages"][2]["content"]
    assert [b["is_error"] for b in blocks] == [True] * 4
    assert events[-1].reason == "success"
    assert any(isinstance(e, TextDelta) and e.text == "refused" for e in events)


# ------------------------------------------------------------------ degraded setups


async def test_an_unreachable_board_is_reported_and_the_run_goes_on(
    tmp_path, provider, anthropic_env, wire
):
    provider.respond("POST", "/v1/messages", 200, wire.anthropic("done without the board"))
    ctx = dataclasses.replace(
        make_ctx(tmp_path, anthropic_env),
        mcp_url="http://127.0.0.1:9/api/mcp/tasks",
        mcp_token="run-token-secret-0001",
    )
    events = await collect(ctx)
    assert isinstance(events[0], ErrorEvent) and events[0].code == "mcp_unavailable"
    assert not events[0].fatal and "run-token-secret" not in events[0].message
    assert events[-1] == Done("success", "done without the board", "exec-1")
    assert "tools" not in body(provider.requests[0])


async def test_a_malformed_base_url_is_an_error(tmp_path):
    env = {"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": "not a url"}
    events = await collect(make_ctx(tmp_path, env))
    assert events[-1].reason == "error" and events[-1].summary.startswith("anthropic: ")
    assert KEY not in events[-1].summary


async def test_an_empty_tool_output_is_sent_as_a_placeholder(
    tmp_path, provider, anthropic_env, workdir, wire
):
    (workdir / "empty.txt").write_text("")
    provider.respond(
        "POST",
        "/v1/messages",
        200,
        wire.anthropic("", [("t1", "read_file", {"path": "empty.txt"})]),
        times=1,
    )
    provider.respond("POST", "/v1/messages", 200, wire.anthropic("It is empty."), times=1)
    events = await collect(make_ctx(tmp_path, anthropic_env, cwd=workdir))
    assert next(e for e in events if isinstance(e, ToolResult)).output == ""
    block = body(provider.requests[1])["messages"][2]["content"][0]
    assert block == {"type": "tool_result", "tool_use_id": "t1", "content": "(no output)"}
    assert body(provider.requests[1])["messages"][1]["content"] == [
        {"type": "tool_use", "id": "t1", "name": "read_file", "input": {"path": "empty.txt"}}
    ]


async def test_a_slow_provider_times_out(tmp_path, provider, anthropic_env, wire):
    env = dict(anthropic_env, CLAWBOO_NATIVE_TIMEOUT_S="0.3")
    provider.respond("POST", "/v1/messages", 200, wire.anthropic("late"), delay=3)
    events = await collect(make_ctx(tmp_path, env))
    assert events[-1] == Done("error", "anthropic: timed out after 0.3s", "exec-1")
    assert events[-2].code == "network" and len(provider.requests) == 1


# ------------------------------------------------------------------ garbage from the provider


@pytest.mark.parametrize(
    "answer",
    [
        {"choices": [{"message": "oops"}]},
        {"choices": [{"message": {"content": "x", "tool_calls": 5}}]},
        {"choices": [{"message": {"content": "x", "tool_calls": {"a": 1}}}]},
        {"choices": [{"message": {"content": 7}}], "usage": "lots"},
    ],
    ids=["message-string", "tool-calls-int", "tool-calls-dict", "content-int"],
)
async def test_a_wrong_shaped_openai_answer_ends_the_run_cleanly(tmp_path, provider, answer):
    env = {
        "OPENAI_API_KEY": OPENAI_KEY,
        "OPENAI_BASE_URL": provider.url + "/v1",
        "CLAWBOO_NATIVE_RETRIES": "0",
    }
    provider.respond("POST", "/v1/chat/completions", 200, answer)
    events = await collect(make_ctx(tmp_path, env))
    assert sum(isinstance(e, Done) for e in events) == 1
    assert events[-1].reason in ("error", "success")
    if events[-1].reason == "error":
        assert events[-1].summary.startswith("openai: 200 unreadable answer")


async def test_a_wrong_shaped_anthropic_answer_ends_the_run_cleanly(
    tmp_path, provider, anthropic_env
):
    answer = {"content": [{"type": "text", "text": "hi"}], "usage": ["not", "a", "dict"]}
    provider.respond("POST", "/v1/messages", 200, answer)
    events = await collect(make_ctx(tmp_path, anthropic_env))
    assert sum(isinstance(e, Done) for e in events) == 1
    assert events[-1] == Done("success", "hi", "exec-1")


async def test_a_nan_retry_after_is_still_retried(tmp_path, provider, anthropic_env, wire):
    provider.respond(
        "POST",
        "/v1/messages",
        429,
        {"error": {"message": "slow down"}},
        headers={"retry-after": "nan"},
        times=1,
    )
    provider.respond("POST", "/v1/messages", 200, wire.anthropic("fine"), times=1)
    with anyio.fail_after(30):
        events = await collect(make_ctx(tmp_path, anthropic_env))
    assert events[-1] == Done("success", "fine", "exec-1")
    assert len(provider.requests) == 2


async def test_a_huge_answer_is_refused_not_buffered(
    tmp_path, provider, anthropic_env, wire, monkeypatch
):
    from clawboo_native import llm

    monkeypatch.setattr(llm, "MAX_RESPONSE_BYTES", 1024 * 1024)
    provider.respond("POST", "/v1/messages", 200, wire.anthropic("x" * (3 * 1024 * 1024)))
    events = await collect(make_ctx(tmp_path, anthropic_env))
    assert events[-1].reason == "error"
    assert events[-1].summary == "anthropic: 200 the answer is larger than 1048576 bytes"
    assert not any(isinstance(e, TextDelta) for e in events)


async def test_reading_a_fifo_does_not_block_the_run(
    tmp_path, provider, anthropic_env, workdir, wire
):
    fifo = workdir / "pipe"
    os.mkfifo(fifo)
    provider.respond(
        "POST",
        "/v1/messages",
        200,
        wire.anthropic(
            "",
            [
                ("t1", "read_file", {"path": "pipe"}),
                ("t2", "write_file", {"path": "pipe", "content": "x"}),
            ],
        ),
        times=1,
    )
    provider.respond("POST", "/v1/messages", 200, wire.anthropic("done"), times=1)
    hung = []
    events: list = []

    async def drive():
        events.extend(await collect(make_ctx(tmp_path, anthropic_env, cwd=workdir)))

    async with anyio.create_task_group() as tg:
        tg.start_soon(drive)
        with anyio.move_on_after(5):
            while not events:
                await anyio.sleep(0.05)
        if not events:  # blocked opening the FIFO: open its other end so the test ends
            hung.append(True)
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            os.close(fd)
    assert not hung
    results = [(e.output, e.is_error) for e in events if isinstance(e, ToolResult)]
    assert results == [("not a file", True), ("not a file", True)]
    assert events[-1] == Done("success", "done", "exec-1")


# ------------------------------------------------------------------ the run's HTTP


async def test_a_run_keeps_one_connection_to_its_provider(tmp_path, workdir, wire):
    (workdir / "a.txt").write_text("hello")
    with FakeProvider(keep_alive=30) as provider:
        for n in range(2):
            call = (f"toolu_{n}", "read_file", {"path": "a.txt"})
            provider.respond("POST", "/v1/messages", 200, wire.anthropic(calls=[call]), times=1)
        provider.respond("POST", "/v1/messages", 200, wire.anthropic("done"))
        env = {"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": provider.url}
        events = await collect(make_ctx(tmp_path, env, cwd=workdir))
        assert events[-1] == Done("success", summary="done", session_id="exec-1")
        assert len(provider.requests) == 3
        assert len({r.connection for r in provider.requests}) == 1


async def test_tls_is_verified_against_the_runs_ca_file(tmp_path, wire):
    cert_file, key_file = self_signed_cert(tmp_path)
    with FakeProvider(tls=(cert_file, key_file)) as provider:
        provider.respond("POST", "/v1/messages", 200, wire.anthropic("over tls"))
        env = {"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": provider.url}
        # without the run's CA the certificate is refused: no request is sent
        failed = await collect(make_ctx(tmp_path, {**env, "CLAWBOO_NATIVE_RETRIES": "0"}))
        assert failed[-1].reason == "error" and "could not reach" in failed[-1].summary
        assert provider.requests == []
        events = await collect(make_ctx(tmp_path, {**env, "SSL_CERT_FILE": str(cert_file)}))
        assert events[-1] == Done("success", summary="over tls", session_id="exec-1")
        assert len(provider.requests) == 1


async def test_a_proxy_in_the_runs_env_carries_the_call(tmp_path, wire):
    with FakeProvider() as proxy:
        target = "http://provider.invalid/v1/messages"
        proxy.respond("POST", target, 200, wire.anthropic("via proxy"))
        env = {
            "ANTHROPIC_API_KEY": KEY,
            "ANTHROPIC_BASE_URL": "http://provider.invalid",
            "HTTP_PROXY": proxy.url,
        }
        assert not isinstance(make_transport(choose_route(env, None), env), StreamsTransport)
        events = await collect(make_ctx(tmp_path, env))
        assert events[-1] == Done("success", summary="via proxy", session_id="exec-1")
        assert [r.path for r in proxy.requests] == [target]
        assert proxy.requests[0].headers["x-api-key"] == KEY
