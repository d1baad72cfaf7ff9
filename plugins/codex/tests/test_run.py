"""The codex run hook against a fake ``codex`` replaying the real transcripts (real processes)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import tomllib
from pathlib import Path

import anyio
import clawboo_codex
import pytest
from clawboo_codex import run as codex_run
from clawboo_codex.home import render_config

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

PROMPT = "Reply with exactly PLAIN-OK and nothing else.\n-- a line that starts like an option"
MCP_URL = "http://127.0.0.1:18790/api/mcp/tasks"
MCP_TOKEN = "run-token-0123456789abcdef"
THREAD_PLAIN = "01a2244f-0ad1-7a82-b87f-fe55b08bb842"
AUTH = {
    "OPENAI_API_KEY": None,
    "tokens": {"access_token": "at-user-login", "refresh_token": "rt-user"},
    "last_refresh": "2026-01-01T00:00:00Z",
}
RECONNECT = (
    '{"type":"error","message":"Reconnecting... waiting for network '
    '(Connection failed: error sending request)"}'
)


def login(path: Path, auth: dict = AUTH, *, mtime: float | None = None) -> Path:
    """Write a ``codex login`` auth.json into ``path`` (a CODEX_HOME-like dir)."""
    path.mkdir(parents=True, exist_ok=True)
    file = path / "auth.json"
    file.write_text(json.dumps(auth))
    file.chmod(0o600)
    if mtime is not None:
        os.utime(file, (mtime, mtime))
    return file


def user_codex_home(env: dict) -> Path:
    return Path(env["CODEX_HOME"])


@pytest.fixture
def env(clawboo_env) -> dict:
    """The server env the host would hand over (scrubbed), with the user logged in."""
    login(user_codex_home(clawboo_env))
    return dict(clawboo_env)


@pytest.fixture
def worktree(tmp_path) -> Path:
    path = tmp_path / "worktree"
    path.mkdir()
    (path / "README.md").write_text("hi\n")
    return path


def make_ctx(
    tmp_path: Path,
    env: dict,
    *,
    cwd: Path | None,
    home: bool = True,
    mcp: bool = False,
    resume: str | None = None,
    model: str | None = None,
    prompt: str = PROMPT,
    name: str = "run",
) -> RunContext:
    scratch = tmp_path / "scratch" / name
    scratch.mkdir(parents=True, exist_ok=True)
    home_dir = tmp_path / "identity-home" if home else None
    if home_dir is not None:
        home_dir.mkdir(mode=0o700, exist_ok=True)
    return RunContext(
        run_id=name,
        task_id="t1",
        agent_id="codex",
        prompt=prompt,
        cwd=cwd,
        env=dict(env),
        home_dir=home_dir,
        scratch_dir=scratch,
        abort=AbortSignal(),
        model=model,
        mcp_url=MCP_URL if mcp else None,
        mcp_token=MCP_TOKEN if mcp else None,
        resume_session_id=resume,
    )


async def collect(ctx: RunContext) -> list:
    return [event async for event in clawboo_codex.clawboo_runtime_run(ctx)]


def done_of(events: list) -> Done:
    assert isinstance(events[-1], Done)
    assert sum(isinstance(e, Done) for e in events) == 1
    return events[-1]


# --------------------------------------------------------------------------- success


@pytest.mark.anyio
async def test_plain_run_argv_env_home_and_events(tmp_path, env, worktree, fake_codex):
    fake_codex.install("plain")
    ctx = make_ctx(tmp_path, env, cwd=worktree)
    events = await collect(ctx)

    assert events == [
        StatusEvent("running"),
        TextDelta("PLAIN-OK"),
        CostEvent(cost_usd=None, input_tokens=12, output_tokens=7, model=None),
        Done("success", summary="PLAIN-OK", session_id=THREAD_PLAIN),
    ]
    [call] = fake_codex.calls()
    assert call["argv"] == [
        "exec",
        "--json",
        "--dangerously-bypass-approvals-and-sandbox",
        "--skip-git-repo-check",
        "-C",
        str(worktree),
        "--",
        PROMPT,
    ]
    assert call["cwd"] == str(worktree)
    assert call["stdin_devnull"] is True
    # CODEX_HOME is the identity home, never the user's.
    assert call["env"]["CODEX_HOME"] == str(ctx.home_dir)
    assert call["env"]["HOME"] == env["HOME"]
    assert "CLAWBOO_MCP_TOKEN" not in call["env_present"]
    # The user's login was seeded into it, 0600; the source was not touched.
    assert call["auth"]["mode"] == "0o600"
    assert call["auth"]["parsed"] == AUTH
    assert json.loads((user_codex_home(env) / "auth.json").read_text()) == AUTH
    # config.toml: features off, no MCP entry, 0600.
    assert call["config"]["mode"] == "0o600"
    assert call["config"]["parsed"] == {
        "features": {"plugins": False, "remote_plugin": False, "apps": False}
    }
    assert sorted(p.name for p in user_codex_home(env).iterdir()) == ["auth.json"]
    assert sorted(os.listdir(worktree)) == ["README.md"]


@pytest.mark.anyio
async def test_mcp_run_attaches_the_tasks_server_with_the_token_in_the_env_only(
    tmp_path, env, worktree, fake_codex
):
    fake_codex.install("mcp")
    ctx = make_ctx(tmp_path, env, cwd=worktree, mcp=True, model="gpt-5-codex")
    events = await collect(ctx)

    name = "mcp__tasks__add_comment"
    args = {"taskId": "T-42", "body": "hello from realcli"}
    assert events == [
        StatusEvent("running"),
        ToolCall("item_0", name, args),
        ToolResult("item_0", name, "comment added to T-42 (id c-1)", is_error=False),
        TextDelta("DONE-123"),
        CostEvent(cost_usd=None, input_tokens=36, output_tokens=21, model="gpt-5-codex"),
        Done("success", summary="DONE-123", session_id="01a2244f-14a5-7141-9bc7-12f01e7ee0a4"),
    ]
    [call] = fake_codex.calls()
    assert call["argv"] == [
        "exec",
        "--json",
        "--dangerously-bypass-approvals-and-sandbox",
        "--skip-git-repo-check",
        "-C",
        str(worktree),
        "-m",
        "gpt-5-codex",
        "--",
        PROMPT,
    ]
    assert call["config"]["parsed"]["mcp_servers"] == {
        "clawboo-tasks": {"url": MCP_URL, "bearer_token_env_var": "CLAWBOO_MCP_TOKEN"}
    }
    assert MCP_TOKEN not in call["config"]["text"]
    assert call["config"]["mode"] == "0o600"
    assert call["env"]["CLAWBOO_MCP_TOKEN"] == MCP_TOKEN


@pytest.mark.anyio
async def test_a_stale_mcp_entry_does_not_survive_a_run_without_mcp(
    tmp_path, env, worktree, fake_codex
):
    fake_codex.install("plain")
    await collect(make_ctx(tmp_path, env, cwd=worktree, mcp=True, name="first"))
    await collect(make_ctx(tmp_path, env, cwd=worktree, mcp=False, name="second"))
    first, second = fake_codex.calls()
    assert "mcp_servers" in first["config"]["parsed"]
    assert "mcp_servers" not in second["config"]["parsed"]
    assert "CLAWBOO_MCP_TOKEN" not in second["env_present"]


@pytest.mark.anyio
async def test_user_settings_in_the_identity_config_are_rewritten(
    tmp_path, env, worktree, fake_codex
):
    fake_codex.install("plain")
    ctx = make_ctx(tmp_path, env, cwd=worktree)
    (ctx.home_dir / "config.toml").write_text('model = "o3"\n[mcp_servers.other]\nurl = "x"\n')
    await collect(ctx)
    [call] = fake_codex.calls()
    assert call["config"]["parsed"] == {
        "features": {"plugins": False, "remote_plugin": False, "apps": False}
    }


@pytest.mark.anyio
async def test_without_a_worktree_codex_works_in_the_scratch_dir(tmp_path, env, fake_codex):
    fake_codex.install("plain")
    ctx = make_ctx(tmp_path, env, cwd=None, home=False)
    events = await collect(ctx)
    assert done_of(events).reason == "success"
    [call] = fake_codex.calls()
    assert call["cwd"] == str(ctx.scratch_dir)
    assert call["argv"][call["argv"].index("-C") + 1] == str(ctx.scratch_dir)
    # No identity home: a throw-away CODEX_HOME in scratch, with the login seeded.
    assert call["env"]["CODEX_HOME"] == str(ctx.scratch_dir / "codex-home")
    assert call["auth"]["parsed"] == AUTH


# --------------------------------------------------------------------------- failures


@pytest.mark.anyio
async def test_a_rejected_key_fails_with_the_providers_message(tmp_path, env, worktree, fake_codex):
    fake_codex.install("auth401")
    events = await collect(make_ctx(tmp_path, env, cwd=worktree))
    message = (
        "unexpected status 401 Unauthorized: mock: invalid x-api-key, url: "
        "http://127.0.0.1:9/v1/responses, request id: req_mock_3087db6f59aa"
    )
    errors = [e for e in events if isinstance(e, ErrorEvent)]
    assert errors == [ErrorEvent(message, code="stream_error", fatal=False)]
    assert done_of(events) == Done(
        "error", summary=message, session_id="01a2244f-1e65-7472-ba34-5e9e3d7116ed"
    )


@pytest.mark.anyio
async def test_no_credentials_anywhere_fails_without_spawning(
    tmp_path, clawboo_env, worktree, fake_codex
):
    fake_codex.install("plain")
    events = await collect(make_ctx(tmp_path, clawboo_env, cwd=worktree))
    assert events == [
        Done("error", summary="no Codex credentials: run `codex login` on this machine")
    ]
    assert fake_codex.calls() == []


@pytest.mark.anyio
async def test_a_granted_api_key_is_enough_without_a_login(
    tmp_path, clawboo_env, worktree, fake_codex
):
    fake_codex.install("plain")
    env = dict(clawboo_env, CODEX_API_KEY="sk-codex-granted-0123456789")
    events = await collect(make_ctx(tmp_path, env, cwd=worktree))
    assert done_of(events).reason == "success"
    [call] = fake_codex.calls()
    assert call["env"]["CODEX_API_KEY"] == "sk-codex-granted-0123456789"
    assert call["auth"] is None


@pytest.mark.anyio
async def test_a_missing_binary_fails_cleanly(tmp_path, env, worktree, fake_codex):
    events = await collect(make_ctx(tmp_path, env, cwd=worktree))
    assert events == [Done("error", summary="codex not found on PATH or user-install dirs")]
    assert fake_codex.calls() == []


@pytest.mark.anyio
async def test_a_crash_without_json_reports_the_useful_stderr(tmp_path, env, worktree, fake_codex):
    fake_codex.install(
        None,
        stdout=[],
        exit_code=1,
        stderr=[
            "WARNING: proceeding, even though we could not create PATH aliases: nope",
            "Reading additional input from stdin...",
            "Error: unsupported model 'nope' sk-codex-secret-0123456789",
            "",
            "Stack backtrace:",
            "   0: <unknown>",
        ],
    )
    env = dict(env, CODEX_API_KEY="sk-codex-secret-0123456789")
    events = await collect(make_ctx(tmp_path, env, cwd=worktree))
    assert done_of(events) == Done("error", summary="Error: unsupported model 'nope' [REDACTED]")


@pytest.mark.anyio
async def test_a_silent_nonzero_exit_says_so(tmp_path, env, worktree, fake_codex):
    fake_codex.install(None, stdout=[], stderr=[], exit_code=3)
    events = await collect(make_ctx(tmp_path, env, cwd=worktree))
    assert done_of(events) == Done("error", summary="codex exited with code 3")


# --------------------------------------------------------------------------- reconnects


@pytest.mark.anyio
async def test_an_unreachable_provider_is_given_up_after_five_reconnects(
    tmp_path, env, worktree, fake_codex
):
    lines = [
        '{"type":"thread.started","thread_id":"th-1"}',
        '{"type":"turn.started"}',
        *[RECONNECT] * 6,
    ]
    fake_codex.install(None, stdout=lines, sleep_after=len(lines))
    events = await collect(make_ctx(tmp_path, env, cwd=worktree))
    reconnects = [e for e in events if isinstance(e, ErrorEvent) and e.code == "reconnecting"]
    assert len(reconnects) == codex_run.RECONNECT_LIMIT == 5
    assert done_of(events) == Done(
        "error",
        session_id="th-1",
        summary="codex could not reach its provider: Reconnecting... waiting for network "
        "(Connection failed: error sending request)",
    )
    [call] = fake_codex.calls()
    assert still_running([call["pid"], *fake_codex.grandchildren()]) == []


@pytest.mark.anyio
async def test_progress_resets_the_reconnect_count(tmp_path, env, worktree, fake_codex):
    progress = '{"type":"item.completed","item":{"id":"r","type":"reasoning","text":"hm"}}'
    lines = [
        '{"type":"thread.started","thread_id":"th-2"}',
        *[RECONNECT] * 4,
        progress,
        *[RECONNECT] * 4,
        '{"type":"item.completed","item":{"id":"m","type":"agent_message","text":"OK"}}',
        '{"type":"turn.completed","usage":{"input_tokens":1,"output_tokens":2}}',
    ]
    fake_codex.install(None, stdout=lines)
    events = await collect(make_ctx(tmp_path, env, cwd=worktree))
    assert done_of(events) == Done("success", summary="OK", session_id="th-2")


@pytest.mark.anyio
async def test_counted_reconnects_are_left_to_codex(tmp_path, env, worktree, fake_codex):
    """``Reconnecting... k/N`` (a failing provider): codex gives up by itself (real output,
    codex-cli 0.171 against a server answering 500)."""
    busy = "We’re currently experiencing high demand, which may cause temporary errors."
    lines = [
        '{"type":"thread.started","thread_id":"01a224c7-5919-71c2-bdfe-7f3276a8699a"}',
        '{"type":"item.completed","item":{"id":"item_0","type":"error","message":"Model metadata '
        "for `gpt-5` not found. Defaulting to fallback metadata; this can degrade performance "
        'and cause issues."}}',
        '{"type":"turn.started"}',
        *[
            json.dumps(
                {"type": "error", "message": f"Reconnecting... {n}/5 ({busy})"}, ensure_ascii=False
            )
            for n in range(1, 6)
        ],
        json.dumps({"type": "error", "message": busy}, ensure_ascii=False),
        json.dumps({"type": "turn.failed", "error": {"message": busy}}, ensure_ascii=False),
    ]
    fake_codex.install(None, stdout=lines, exit_code=1)
    events = await collect(make_ctx(tmp_path, env, cwd=worktree))
    assert [e.code for e in events if isinstance(e, ErrorEvent)] == (
        ["warning"] + ["reconnecting"] * 5 + ["stream_error"]
    )
    assert done_of(events) == Done(
        "error", summary=busy, session_id="01a224c7-5919-71c2-bdfe-7f3276a8699a"
    )


# --------------------------------------------------------------------------- abort, linger


@pytest.mark.anyio
async def test_abort_mid_run_kills_the_whole_tree(tmp_path, env, worktree, fake_codex):
    fake_codex.install("plain", sleep_after=1)
    ctx = make_ctx(tmp_path, env, cwd=worktree)
    events = []
    async for event in clawboo_codex.clawboo_runtime_run(ctx):
        events.append(event)
        if event == StatusEvent("running"):
            ctx.abort.set("test")
    assert events == [StatusEvent("running"), Done("aborted", summary="", session_id=THREAD_PLAIN)]
    [call] = fake_codex.calls()
    assert still_running([call["pid"], *fake_codex.grandchildren()]) == []


@pytest.mark.anyio
async def test_closing_the_generator_kills_the_tree(tmp_path, env, worktree, fake_codex):
    fake_codex.install("plain", sleep_after=1)
    ctx = make_ctx(tmp_path, env, cwd=worktree)
    events = clawboo_codex.clawboo_runtime_run(ctx)
    assert await events.__anext__() == StatusEvent("running")
    await events.aclose()
    [call] = fake_codex.calls()
    assert still_running([call["pid"], *fake_codex.grandchildren()]) == []


@pytest.mark.anyio
async def test_a_codex_that_lingers_after_its_turn_is_killed(
    tmp_path, env, worktree, fake_codex, monkeypatch
):
    monkeypatch.setattr(codex_run, "TERMINAL_EXIT_GRACE_S", 0.2)
    fake_codex.install("plain", linger=True)
    events = await collect(make_ctx(tmp_path, env, cwd=worktree))
    assert done_of(events) == Done("success", summary="PLAIN-OK", session_id=THREAD_PLAIN)
    [call] = fake_codex.calls()
    assert still_running([call["pid"]]) == []


# --------------------------------------------------------------------------- resume


@pytest.mark.anyio
async def test_resume_uses_codex_exec_resume_in_the_identity_home(
    tmp_path, env, worktree, fake_codex
):
    fake_codex.install("plain")
    first = done_of(await collect(make_ctx(tmp_path, env, cwd=worktree, name="a")))
    events = await collect(
        make_ctx(tmp_path, env, cwd=worktree, resume=first.session_id, model="gpt-5", name="b")
    )
    assert events[0] == StatusEvent(f"resuming {THREAD_PLAIN}")
    assert done_of(events) == Done("success", summary="PLAIN-OK", session_id=THREAD_PLAIN)
    call = fake_codex.calls()[-1]
    assert call["argv"] == [
        "exec",
        "-C",
        str(worktree),
        "resume",
        "--json",
        "--dangerously-bypass-approvals-and-sandbox",
        "--skip-git-repo-check",
        "-m",
        "gpt-5",
        "--",
        THREAD_PLAIN,
        PROMPT,
    ]
    assert call["cwd"] == str(worktree)


@pytest.mark.anyio
async def test_an_unknown_session_starts_a_new_one(tmp_path, env, worktree, fake_codex):
    fake_codex.install("plain")
    events = await collect(make_ctx(tmp_path, env, cwd=worktree, resume="0000-gone"))
    assert StatusEvent("resume-failed: starting a new Codex session") in events
    assert done_of(events) == Done("success", summary="PLAIN-OK", session_id=THREAD_PLAIN)
    resumed, fresh = fake_codex.calls()
    assert "resume" in resumed["argv"] and "resume" not in fresh["argv"]


@pytest.mark.anyio
async def test_no_resume_without_a_persistent_home(tmp_path, env, worktree, fake_codex):
    fake_codex.install("plain")
    await collect(make_ctx(tmp_path, env, cwd=worktree, home=False, resume=THREAD_PLAIN))
    [call] = fake_codex.calls()
    assert "resume" not in call["argv"]


# --------------------------------------------------------------------------- auth seeding


@pytest.mark.anyio
async def test_a_newer_identity_login_is_kept_and_an_older_one_replaced(
    tmp_path, clawboo_env, worktree, fake_codex
):
    fake_codex.install("plain")
    source = login(user_codex_home(clawboo_env), mtime=1_700_000_000)
    ctx = make_ctx(tmp_path, clawboo_env, cwd=worktree)
    refreshed = dict(AUTH, tokens={"access_token": "at-refreshed-by-codex"})
    login(ctx.home_dir, refreshed, mtime=1_800_000_000)
    await collect(ctx)
    assert fake_codex.calls()[-1]["auth"]["parsed"] == refreshed

    os.utime(source, (1_900_000_000, 1_900_000_000))  # the user logged in again since
    await collect(make_ctx(tmp_path, clawboo_env, cwd=worktree, name="again"))
    assert fake_codex.calls()[-1]["auth"]["parsed"] == AUTH
    assert fake_codex.calls()[-1]["auth"]["mode"] == "0o600"


@pytest.mark.anyio
async def test_the_login_in_home_dot_codex_is_used_without_codex_home(
    tmp_path, clawboo_env, worktree, fake_codex
):
    fake_codex.install("plain")
    env = {k: v for k, v in clawboo_env.items() if k != "CODEX_HOME"}
    login(Path(env["HOME"]) / ".codex")
    events = await collect(make_ctx(tmp_path, env, cwd=worktree))
    assert done_of(events).reason == "success"
    [call] = fake_codex.calls()
    assert call["env"]["CODEX_HOME"] == str(tmp_path / "identity-home")
    assert call["auth"]["parsed"] == AUTH
    assert sorted(os.listdir(Path(env["HOME"]) / ".codex")) == ["auth.json"]


@pytest.mark.anyio
async def test_an_unusable_login_does_not_count(tmp_path, clawboo_env, worktree, fake_codex):
    fake_codex.install("plain")
    login(user_codex_home(clawboo_env), {"tokens": {"access_token": "", "refresh_token": " "}})
    events = await collect(make_ctx(tmp_path, clawboo_env, cwd=worktree))
    assert done_of(events).summary.startswith("no Codex credentials")
    assert fake_codex.calls() == []


# --------------------------------------------------------------------------- parsing


def test_other_item_types_map_to_tool_calls_text_and_status():
    from clawboo_codex.events import CodexStream

    parser = CodexStream()
    lines = [
        {"type": "item.completed", "item": {"id": "r", "type": "reasoning", "text": "think"}},
        {
            "type": "item.started",
            "item": {
                "id": "c",
                "type": "command_execution",
                "command": "ls",
                "aggregated_output": "",
                "exit_code": None,
                "status": "in_progress",
            },
        },
        {
            "type": "item.completed",
            "item": {
                "id": "c",
                "type": "command_execution",
                "command": "ls",
                "aggregated_output": "a\n",
                "exit_code": 2,
                "status": "failed",
            },
        },
        {
            "type": "item.completed",
            "item": {
                "id": "f",
                "type": "file_change",
                "status": "completed",
                "changes": [{"path": "a.py", "kind": "add"}],
            },
        },
        {
            "type": "item.started",
            "item": {"id": "t", "type": "todo_list", "items": [{"text": "x", "completed": False}]},
        },
        {
            "type": "item.updated",
            "item": {"id": "t", "type": "todo_list", "items": [{"text": "x", "completed": False}]},
        },
        {
            "type": "item.updated",
            "item": {"id": "t", "type": "todo_list", "items": [{"text": "x", "completed": True}]},
        },
        {
            "type": "item.completed",
            "item": {
                "id": "m",
                "type": "mcp_tool_call",
                "server": "s",
                "tool": "t",
                "arguments": {},
                "result": None,
                "error": {"message": "denied"},
                "status": "failed",
            },
        },
    ]
    events = [e for line in lines for e in parser.feed(json.dumps(line))]
    events += parser.feed("not json at all")
    assert events == [
        TextDelta("think", channel="reasoning"),
        ToolCall("c", "command_execution", {"command": "ls"}),
        ToolResult("c", "command_execution", "a\n", is_error=True),
        ToolCall("f", "file_change", {"changes": [{"path": "a.py", "kind": "add"}]}),
        ToolResult("f", "file_change", "add a.py", is_error=False),
        StatusEvent("todo 0/1"),
        StatusEvent("todo 1/1"),
        ToolCall("m", "mcp__s__t", {}),
        ToolResult("m", "mcp__s__t", "denied", is_error=True),
    ]
    assert parser.other_lines == ["not json at all"]
    assert parser.last_message == "" and not parser.terminal


def test_the_config_is_valid_toml_and_escapes_the_url():
    text = render_config({}, 'http://127.0.0.1:1/api/mcp/tasks?x="y"\\z\x7f', bearer_token=True)
    parsed = tomllib.loads(text)
    assert parsed["mcp_servers"]["clawboo-tasks"] == {
        "url": 'http://127.0.0.1:1/api/mcp/tasks?x="y"\\z\x7f',
        "bearer_token_env_var": "CLAWBOO_MCP_TOKEN",
    }
    assert tomllib.loads(render_config({}, MCP_URL, bearer_token=False))["mcp_servers"] == {
        "clawboo-tasks": {"url": MCP_URL}
    }


@pytest.mark.anyio
@pytest.mark.parametrize("setsid", [False, True], ids=["same-group", "setsid"])
async def test_a_grandchild_holding_the_pipes_does_not_hang_a_crashed_codex(
    tmp_path, env, worktree, fake_executables, setsid
):
    # codex dies before its turn ends, but a child it started (an MCP server, a
    # background command) inherited its stdout/stderr and keeps them open.
    pid_file = tmp_path / "grandchild.pid"
    fake_executables.add(
        "codex",
        f"""
        import subprocess, sys
        print('{{"type":"thread.started","thread_id":"th-1"}}', flush=True)
        child = subprocess.Popen(["sleep", "300"], start_new_session={setsid!r})
        open({str(pid_file)!r}, "w").write(str(child.pid))
        sys.stderr.write("codex crashed\\n")
        sys.exit(1)
        """,
    )
    try:
        with anyio.fail_after(20):
            events = await collect(make_ctx(tmp_path, env, cwd=worktree))
    finally:
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
    assert done_of(events) == Done("error", summary="codex crashed", session_id="th-1")


# --------------------------------------------------------------------------- the user's setup

GATEWAY_CONFIG = """\
# my gateway
model = "gw-model"
model_provider = "gateway"
approval_policy = "never"
profile = "work"

[model_providers.gateway]
name = "Company gateway"
base_url = "https://gateway.example/v1"
env_key = "GATEWAY_KEY"
wire_api = "responses"

[model_providers.local]
name = "Local"
base_url = "http://127.0.0.1:11434/v1"

[profiles.work]
model = "gw-model-large"

[features]
apps = true

[mcp_servers.my-own]
command = "my-mcp-server"

[mcp_servers.clawboo-tasks]
url = "http://evil.example/mcp"
"""


def user_config(env: dict, text: str, *, mtime: float = 1_600_000_000) -> Path:
    path = user_codex_home(env) / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.utime(path, (mtime, mtime))
    return path


@pytest.mark.anyio
async def test_the_users_config_is_carried_over_with_only_the_hosts_mcp_server(
    tmp_path, clawboo_env, worktree, fake_codex
):
    fake_codex.install("plain")
    source = user_config(clawboo_env, GATEWAY_CONFIG)
    env = dict(clawboo_env, GATEWAY_KEY="gw-key-granted-0123456789")
    ctx = make_ctx(tmp_path, env, cwd=worktree, mcp=True)
    events = await collect(ctx)
    assert done_of(events).reason == "success"

    [call] = fake_codex.calls()
    parsed = call["config"]["parsed"]
    expected = tomllib.loads(GATEWAY_CONFIG)
    for key in ("model", "model_provider", "approval_policy", "profile", "model_providers",
                "profiles"):
        assert parsed[key] == expected[key]
    # the user's own choice of a feature stands; the rest are switched off
    assert parsed["features"] == {"apps": True, "plugins": False, "remote_plugin": False}
    # the user's MCP servers are gone; ours is the only one (a same-named one is replaced)
    assert parsed["mcp_servers"] == {
        "clawboo-tasks": {"url": MCP_URL, "bearer_token_env_var": "CLAWBOO_MCP_TOKEN"}
    }
    assert call["env"]["GATEWAY_KEY"] == "gw-key-granted-0123456789"
    # the user's file is untouched, its mtime too
    assert source.read_text() == GATEWAY_CONFIG
    assert source.stat().st_mtime == 1_600_000_000


@pytest.mark.anyio
async def test_the_config_is_made_afresh_at_every_run(tmp_path, clawboo_env, worktree, fake_codex):
    fake_codex.install("plain")
    env = dict(clawboo_env, GATEWAY_KEY="gw-key")
    user_config(clawboo_env, GATEWAY_CONFIG)
    await collect(make_ctx(tmp_path, env, cwd=worktree, name="first"))
    user_config(clawboo_env, 'model = "o3"\n')
    login(user_codex_home(clawboo_env))
    await collect(make_ctx(tmp_path, env, cwd=worktree, name="second"))
    first, second = fake_codex.calls()
    assert first["config"]["parsed"]["model_provider"] == "gateway"
    assert "model_provider" not in second["config"]["parsed"]
    assert second["config"]["parsed"]["model"] == "o3"


@pytest.mark.anyio
async def test_a_gateway_provider_needs_its_env_key_not_a_login(
    tmp_path, clawboo_env, worktree, fake_codex
):
    fake_codex.install("plain")
    user_config(clawboo_env, GATEWAY_CONFIG)
    events = await collect(make_ctx(tmp_path, clawboo_env, cwd=worktree))
    assert events == [
        Done(
            "error",
            summary="no key for Codex's model provider 'gateway': set GATEWAY_KEY in the "
            "server's environment or connect a key",
        )
    ]
    assert fake_codex.calls() == []


@pytest.mark.anyio
@pytest.mark.parametrize(
    "text",
    [
        'model_provider = "oss"\n',
        'model_provider = "local"\n[model_providers.local]\nbase_url = "http://127.0.0.1:1/v1"\n',
        'profile = "p"\n[profiles.p]\nmodel_provider = "ollama"\n',
    ],
    ids=["builtin-oss", "custom-without-key", "profile-selects-ollama"],
)
async def test_a_local_provider_runs_without_any_credential(
    tmp_path, clawboo_env, worktree, fake_codex, text
):
    fake_codex.install("plain")
    user_config(clawboo_env, text)
    events = await collect(make_ctx(tmp_path, clawboo_env, cwd=worktree))
    assert done_of(events).reason == "success"
    assert len(fake_codex.calls()) == 1


@pytest.mark.anyio
async def test_an_unparsable_user_config_fails_the_run_clearly(
    tmp_path, env, worktree, fake_codex
):
    fake_codex.install("plain")
    path = user_config(env, "model = [unclosed\n")
    events = await collect(make_ctx(tmp_path, env, cwd=worktree))
    [done] = events
    assert done.reason == "error"
    assert done.summary.startswith(f"your Codex config {path} is not valid TOML")
    assert fake_codex.calls() == []


def test_the_selected_provider_and_its_key_name():
    from clawboo_codex.home import selected_provider

    config = tomllib.loads(GATEWAY_CONFIG)
    assert selected_provider(config).env_key == "GATEWAY_KEY"
    assert selected_provider({}).openai_auth is True
    assert selected_provider({"model_provider": "lmstudio"}).keyless is True
    config["profiles"]["work"]["model_provider"] = "local"
    assert selected_provider(config).keyless is True
    assert clawboo_codex.clawboo_runtime_key_names({"CODEX_HOME": "/nonexistent"}) == ()
