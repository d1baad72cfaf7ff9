"""clawboo_runtime_run against a fake ``claude`` replaying the real transcripts."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import stat
from pathlib import Path

import anyio
import clawboo_claude_code
import pytest
from clawboo_claude_code import run as run_module

from clawboo_host.plugin_api import (
    AbortSignal,
    CostEvent,
    Done,
    ErrorEvent,
    RunContext,
    StatusEvent,
    TextDelta,
    ToolCall,
    ToolResult,
)
from clawboo_host.testing.fakes import still_running

pytestmark = pytest.mark.anyio

PROMPT = 'Reply with exactly PLAIN-OK and nothing else.\n\nSecond paragraph; $HOME `id` "quoted"'
TOKEN = "run-token-0123456789abcdef"
KEY = "sk-ant-" + "test-key-abcdefghijklmnop"  # split: not a committed key
MCP_URL = "http://127.0.0.1:9/api/mcp/tasks"


@pytest.fixture
def worktree(tmp_path) -> Path:
    path = tmp_path / "worktree"
    path.mkdir()
    (path / "README.md").write_text("hi\n")
    return path


@pytest.fixture
def make_ctx(tmp_path, fake_executables, worktree):
    user_home = tmp_path / "user-home"
    user_home.mkdir()

    def make(**overrides) -> RunContext:
        env = fake_executables.path_env(
            {
                "HOME": str(user_home),
                "ANTHROPIC_API_KEY": KEY,
                "CLAUDE_CONFIG_DIR": str(user_home / ".claude"),  # the user's: must be overridden
            }
        )
        fields = dict(
            run_id="exec-1",
            task_id="task-1",
            agent_id="agent-1",
            prompt=PROMPT,
            cwd=worktree,
            env=env,
            home_dir=None,
            scratch_dir=tmp_path / "scratch",
            abort=AbortSignal(),
        )
        fields.update(overrides)
        scratch = Path(fields["scratch_dir"])
        scratch.mkdir(parents=True, exist_ok=True)
        return RunContext(**fields)

    make.user_home = user_home
    return make


async def collect(ctx: RunContext) -> list:
    return [event async for event in clawboo_claude_code.clawboo_runtime_run(ctx)]


def only_done(events) -> Done:
    dones = [e for e in events if isinstance(e, Done)]
    assert len(dones) == 1 and events[-1] is dones[0], events
    return dones[0]


def files_under(path: Path) -> list[Path]:
    return [p for p in path.rglob("*")] if path.exists() else []


async def test_plain_success(make_ctx, fake_claude, worktree, tmp_path):
    fake_claude.install("plain")
    ctx = make_ctx()
    events = await collect(ctx)
    assert events == [
        StatusEvent("running"),
        TextDelta("PLAIN-OK"),
        CostEvent(cost_usd=0.000235, input_tokens=12, output_tokens=7, model="claude-opus-4-8[1m]"),
        Done("success", summary="PLAIN-OK", session_id="9f7dbbb3-66d6-4c57-9652-19fa824dfb2f"),
    ]
    [call] = fake_claude.calls()
    scratch = tmp_path / "scratch"
    mcp_path = str(scratch / "mcp.json")
    assert call["argv"] == [
        "-p",
        "--output-format",
        "stream-json",
        "--verbose",
        "--mcp-config",
        mcp_path,
        "--strict-mcp-config",
        "--dangerously-skip-permissions",
        "--",
        PROMPT,
    ]
    assert call["cwd"] == str(worktree)
    # No MCP for this run: an empty server list, so the user's own servers never load.
    assert call["mcp"] == {"path": mcp_path, "mode": "0o600", "config": {"mcpServers": {}}}
    home = scratch / "home"
    assert call["env"]["HOME"] == str(home)
    assert call["env"]["CLAUDE_CONFIG_DIR"] == str(home / ".claude")
    assert call["env"]["IS_SANDBOX"] == "1"
    assert call["env"]["CLAUDE_CODE_MAX_RETRIES"] == "2"
    assert call["env"]["ANTHROPIC_API_KEY"] == KEY
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    # The CLI's own state went to the private home, nothing to the user's or the worktree.
    assert (home / ".claude" / ".claude.json").exists()
    assert files_under(make_ctx.user_home) == []
    assert sorted(p.name for p in worktree.iterdir()) == ["README.md"]


async def test_mcp_tool_call_and_config(make_ctx, fake_claude):
    fake_claude.install("mcp")
    ctx = make_ctx(mcp_url=MCP_URL, mcp_token=TOKEN)
    events = await collect(ctx)
    call_id = "toolu_mock_c45c4ddda7224a40"
    name = "mcp__tasks__add_comment"
    assert [e for e in events if isinstance(e, (ToolCall, ToolResult))] == [
        ToolCall(call_id, name, {"taskId": "T-42", "body": "hello from realcli"}),
        ToolResult(call_id, name, '{"result":"comment added to T-42 (id c-1)"}', is_error=False),
    ]
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["DONE-123"]
    cost = [e for e in events if isinstance(e, CostEvent)]
    assert cost == [
        CostEvent(cost_usd=0.00047, input_tokens=24, output_tokens=14, model="claude-opus-4-8[1m]")
    ]
    done = only_done(events)
    assert (done.reason, done.summary, done.session_id) == (
        "success",
        "DONE-123",
        "64f0dcab-2b11-4363-b771-2680a1316f8f",
    )
    [call] = fake_claude.calls()
    assert call["mcp"]["mode"] == "0o600"
    assert call["mcp"]["config"] == {
        "mcpServers": {
            "clawboo-tasks": {
                "type": "http",
                "url": MCP_URL,
                "headers": {"Authorization": f"Bearer {TOKEN}"},
            }
        }
    }
    assert TOKEN not in json.dumps(call["argv"])
    assert all(TOKEN not in json.dumps(e.to_json()) for e in events)


async def test_auth_401_is_an_error_with_the_result_text(make_ctx, fake_claude):
    fake_claude.install("auth401")
    events = await collect(make_ctx())
    done = only_done(events)
    assert done == Done(
        "error",
        summary="Invalid API key · Fix external API key",
        session_id="6c831846-ba8b-4a0b-b82f-d248dacc44f5",
    )
    assert (
        ErrorEvent("Invalid API key · Fix external API key", code="http_401", fatal=True) in events
    )
    assert (
        CostEvent(cost_usd=0.0, input_tokens=0, output_tokens=0, model="claude-opus-4-8[1m]")
        in events
    )


async def test_auth_401_retries_are_non_fatal_errors(make_ctx, fake_claude):
    fake_claude.install("auth401retry")
    events = await collect(make_ctx())
    retries = [e for e in events if isinstance(e, ErrorEvent) and e.code == "api_retry"]
    assert [e.fatal for e in retries] == [False, False]
    assert retries[0].message.startswith("API error 401 (authentication_failed); retry 1/2")
    assert only_done(events).reason == "error"


async def test_max_turns(make_ctx, fake_claude):
    fake_claude.install("maxturns")
    events = await collect(make_ctx(mcp_url=MCP_URL, mcp_token=TOKEN))
    assert [type(e).__name__ for e in events] == [
        "StatusEvent",
        "ToolCall",
        "ToolResult",
        "CostEvent",
        "Done",
    ]
    assert only_done(events) == Done(
        "max_turns",
        summary="Reached maximum number of turns (1)",
        session_id="2677573b-5a45-403f-8224-aa5a51c05376",
    )


async def test_exit_1_without_result_reports_the_stderr_tail(make_ctx, fake_claude):
    noise = [f"trace line {i} " + "x" * 100 for i in range(40)]
    fake_claude.install(
        None,
        stdout=["not json at all"],
        stderr=[*noise, f"Error: MCP auth failed with Bearer {TOKEN} and key {KEY}"],
        exit_code=1,
    )
    events = await collect(make_ctx(mcp_url=MCP_URL, mcp_token=TOKEN))
    done = only_done(events)
    assert done.reason == "error"
    assert len(done.summary) <= 2000
    assert done.summary.endswith("Error: MCP auth failed with Bearer [REDACTED] and key [REDACTED]")
    assert TOKEN not in done.summary and KEY not in done.summary
    assert any(isinstance(e, ErrorEvent) and e.fatal for e in events)


async def test_exit_without_any_output(make_ctx, fake_claude):
    fake_claude.install(None, stdout=[], stderr=[], exit_code=3)
    done = only_done(await collect(make_ctx()))
    assert done == Done("error", summary="claude exited with code 3 without a result")


async def test_missing_binary_spawns_nothing(make_ctx, fake_claude, tmp_path):
    ctx = make_ctx()
    events = await collect(ctx)
    assert events == [Done("error", summary="claude not found on PATH or user-install dirs")]
    assert not (tmp_path / "scratch" / "mcp.json").exists()


async def test_an_unstartable_binary_is_an_error(make_ctx, fake_executables):
    fake_executables.add("claude", "this is not a program\n", shebang="")
    done = only_done(await collect(make_ctx()))
    assert done.reason == "error" and done.summary.startswith("could not start claude: ")


async def test_abort_mid_run_kills_the_tree(make_ctx, fake_claude):
    fake_claude.install("plain", sleep_after=1)
    ctx = make_ctx()
    events = []
    async for event in clawboo_claude_code.clawboo_runtime_run(ctx):
        events.append(event)
        if isinstance(event, StatusEvent):
            ctx.abort.set("test abort")
    done = only_done(events)
    assert (done.reason, done.session_id) == ("aborted", "9f7dbbb3-66d6-4c57-9652-19fa824dfb2f")
    pids = [call["pid"] for call in fake_claude.calls()] + fake_claude.grandchildren()
    assert len(pids) == 2
    assert still_running(pids) == []


async def test_a_claude_lingering_after_its_result_is_stopped(make_ctx, fake_claude, monkeypatch):
    monkeypatch.setattr(run_module, "RESULT_EXIT_GRACE_S", 0.5)
    fake_claude.install("plain", linger=True)
    events = await collect(make_ctx())
    assert only_done(events) == Done(
        "success", summary="PLAIN-OK", session_id="9f7dbbb3-66d6-4c57-9652-19fa824dfb2f"
    )
    assert still_running([c["pid"] for c in fake_claude.calls()]) == []


async def test_model_and_resume_with_a_persistent_home(make_ctx, fake_claude, tmp_path):
    fake_claude.install("plain")
    identity_home = tmp_path / "identity-home"
    first = await collect(make_ctx(home_dir=identity_home, model="sonnet"))
    session = only_done(first).session_id
    # The same identity home holds the transcript: the next run resumes it.
    second = await collect(
        make_ctx(
            home_dir=identity_home,
            model="sonnet",
            resume_session_id=session,
            scratch_dir=tmp_path / "scratch2",
        )
    )
    assert only_done(second) == Done("success", summary="PLAIN-OK", session_id=session)
    one, two = fake_claude.calls()
    assert one["argv"][-4:] == ["--model", "sonnet", "--", PROMPT]
    assert two["argv"][-6:] == ["--model", "sonnet", "--resume", session, "--", PROMPT]
    assert one["env"]["HOME"] == two["env"]["HOME"] == str(identity_home)


async def test_resume_without_the_transcript_starts_a_new_session(make_ctx, fake_claude):
    fake_claude.install("plain")
    events = await collect(make_ctx(resume_session_id="0b6f0e6c-1111-2222-3333-444455556666"))
    assert events[0].code == "resume_unavailable" and events[0].fatal is False
    assert only_done(events).reason == "success"
    [call] = fake_claude.calls()
    assert "--resume" not in call["argv"]


async def test_research_runs_never_use_the_server_cwd(make_ctx, fake_claude, tmp_path):
    fake_claude.install("plain")
    await collect(make_ctx(cwd=None))
    [call] = fake_claude.calls()
    assert call["cwd"] == str(tmp_path / "scratch" / "work")
    assert call["cwd"] != os.getcwd()


def test_parser_maps_thinking_tool_results_and_cache_tokens():
    parser = run_module.StreamParser(default_model="sonnet")
    events = []
    for message in [
        {
            "type": "assistant",
            "message": {
                "content": [
                    {"type": "thinking", "thinking": "let me think"},
                    {"type": "text", "text": "hello"},
                    {"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "ls"}},
                ]
            },
        },
        {
            "type": "user",
            "message": {
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "t1",
                        "is_error": True,
                        "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
                    },
                    {"type": "tool_result", "tool_use_id": "t2", "content": {"k": 1}},
                ]
            },
        },
        {"type": "system", "subtype": "compact_boundary"},
        {
            "type": "result",
            "subtype": "error_during_execution",
            "is_error": True,
            "session_id": "s-1",
            "errors": ["boom"],
            "usage": {
                "input_tokens": 5,
                "cache_creation_input_tokens": 100,
                "cache_read_input_tokens": 1000,
                "output_tokens": 9,
            },
        },
    ]:
        events += parser.feed(json.dumps(message))
    assert events == [
        TextDelta("let me think", channel="reasoning"),
        TextDelta("hello"),
        ToolCall("t1", "Bash", {"command": "ls"}),
        ToolResult("t1", "Bash", "a\nb", is_error=True),
        ToolResult("t2", "", '{"k": 1}'),
    ]
    assert parser.terminal(lambda text: text) == [
        CostEvent(cost_usd=None, input_tokens=1105, output_tokens=9, model="sonnet"),
        ErrorEvent("boom", code="error_during_execution", fatal=True),
        Done("error", summary="boom", session_id="s-1"),
    ]


@pytest.mark.parametrize("setsid", [False, True], ids=["same-group", "setsid"])
async def test_a_grandchild_holding_the_pipes_does_not_hang_a_run_without_result(
    make_ctx, fake_executables, tmp_path, setsid
):
    # claude dies without a result line, but a child it started (an MCP server, a
    # background shell) inherited its stdout/stderr and keeps them open.
    pid_file = tmp_path / "grandchild.pid"
    fake_executables.add(
        "claude",
        f"""
        import json, subprocess, sys
        print(json.dumps({{"type": "system", "subtype": "init", "session_id": "s-1"}}), flush=True)
        child = subprocess.Popen(["sleep", "300"], start_new_session={setsid!r})
        open({str(pid_file)!r}, "w").write(str(child.pid))
        sys.stderr.write("claude crashed\\n")
        sys.exit(1)
        """,
    )
    try:
        with anyio.fail_after(20):
            events = await collect(make_ctx())
    finally:
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
    done = only_done(events)
    assert (done.reason, done.summary, done.session_id) == ("error", "claude crashed", "s-1")


@pytest.mark.parametrize("prompt", ["--help", "-x marks the spot", "--model=opus fix it"])
async def test_a_prompt_that_looks_like_an_option_reaches_claude_whole(
    make_ctx, fake_executables, tmp_path, prompt
):
    # Claude Code parses its command line with commander: ``-p`` is a flag (--print) and
    # the prompt a positional, so an option-looking prompt is read as an option unless
    # it comes after ``--``.
    from clawboo_host.testing.fakes import read_transcript

    seen = tmp_path / "prompt.json"
    out = read_transcript("claude", "plain").stdout
    fake_executables.add(
        "claude",
        f"""
        import json, sys
        flags = {{"-p", "--print", "--verbose", "--strict-mcp-config",
                  "--dangerously-skip-permissions"}}
        valued = {{"--output-format", "--mcp-config", "--model", "--resume"}}
        args, operands = sys.argv[1:], []
        while args:
            arg = args.pop(0)
            if arg == "--":
                operands += args
                break
            if arg.startswith("-") and len(arg) > 1:
                name = arg.split("=", 1)[0]
                if name in flags:
                    continue
                if name in valued:
                    if "=" not in arg:
                        args.pop(0)
                    continue
                sys.stderr.write(f"error: unknown option '{{arg}}'\\\\n")
                sys.exit(1)
            operands.append(arg)
        json.dump(operands, open({str(seen)!r}, "w"))
        for line in {out!r}:
            print(line)
        """,
    )
    done = only_done(await collect(make_ctx(prompt=prompt)))
    assert (done.reason, done.summary) == ("success", "PLAIN-OK")
    assert json.loads(seen.read_text()) == [prompt]
