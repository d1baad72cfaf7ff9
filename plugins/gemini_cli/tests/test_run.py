"""The Gemini CLI run hook against a fake ``gemini`` replaying the real transcripts."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from clawboo_gemini_cli import clawboo_runtime_run
from clawboo_gemini_cli.events import GeminiStream
from clawboo_gemini_cli.home import run_settings

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
from clawboo_host.testing.helpers import wait_until

KEY = "gemini-test-key-0123456789abcdef"
TOKEN = "run-token-abcdefghijklmnopqrstuvwxyz"
MCP_URL = "http://127.0.0.1:18790/api/mcp/tasks"
PROMPT = "--help me: reply with exactly PLAIN-OK.\n\nA second line; 'quotes' and $VARS."
SESSION_PLAIN = None  # read from the transcript below

pytestmark = pytest.mark.anyio


@pytest.fixture
def env(clawboo_env):
    return dict(clawboo_env, GEMINI_API_KEY=KEY)


@pytest.fixture
def worktree(tmp_path) -> Path:
    path = tmp_path / "worktree"
    path.mkdir()
    (path / "README.md").write_text("hi\n")
    return path


def make_ctx(tmp_path, env, cwd, **overrides) -> RunContext:
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    values = dict(
        run_id="run-1",
        task_id="task-1",
        agent_id="agent-1",
        prompt=PROMPT,
        cwd=cwd,
        env=dict(env),
        home_dir=None,
        scratch_dir=scratch,
        abort=AbortSignal(),
    )
    values.update(overrides)
    return RunContext(**values)


async def collect(ctx: RunContext) -> list:
    return [event async for event in clawboo_runtime_run(ctx)]


def done_of(events) -> Done:
    assert isinstance(events[-1], Done)
    assert sum(isinstance(e, Done) for e in events) == 1
    return events[-1]


def session_of(fake, scenario: str) -> str:
    return json.loads(fake.transcript(scenario).stdout[0])["session_id"]


def user_settings(env: dict, settings: dict | str) -> Path:
    path = Path(env["HOME"]) / ".gemini" / "settings.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(settings if isinstance(settings, str) else json.dumps(settings))
    os.utime(path, (1_600_000_000, 1_600_000_000))
    return path


async def test_plain_run_argv_env_settings_and_events(tmp_path, env, worktree, fake_gemini):
    fake_gemini.install("plain")
    ctx = make_ctx(tmp_path, env, worktree)
    events = await collect(ctx)
    assert events == [
        StatusEvent("running"),
        TextDelta("All done: PLAIN-OK"),
        CostEvent(input_tokens=50, output_tokens=14, model="gemini-scripted"),
        Done("success", summary="All done: PLAIN-OK", session_id=session_of(fake_gemini, "plain")),
    ]
    [call] = fake_gemini.calls()
    # One argv element for the prompt, so "--help me" is never read as an option.
    assert call["argv"] == [f"--prompt={PROMPT}", "--output-format", "stream-json", "--yolo"]
    assert call["cwd"] == str(worktree)
    home = Path(call["env"]["GEMINI_CLI_HOME"])
    assert home == tmp_path / "scratch" / "gemini-home"
    assert call["env"]["GEMINI_CLI_TRUST_WORKSPACE"] == "true"
    assert call["env"]["GEMINI_API_KEY"] == KEY
    assert call["env"]["HOME"] == env["HOME"]
    # its error reports (they quote the request) go to the run's scratch, not the shared /tmp
    assert call["env"]["TMPDIR"] == str(tmp_path / "scratch" / "tmp")
    settings = call["settings"]
    assert settings["path"] == str(home / ".gemini" / "settings.json")
    assert settings["mode"] == "0o600"
    assert settings["parsed"] == {
        "security": {"auth": {"selectedType": "gemini-api-key"}},
        "general": {"enableAutoUpdate": False, "enableAutoUpdateNotification": False},
        "mcpServers": {},
    }
    # nothing in the worktree or the user's home
    assert sorted(os.listdir(worktree)) == ["README.md"]
    assert not (Path(env["HOME"]) / ".gemini").exists()


async def test_mcp_run_carries_the_hosts_server_with_its_bearer_header(
    tmp_path, env, worktree, fake_gemini
):
    fake_gemini.install("mcp")
    ctx = make_ctx(tmp_path, env, worktree, mcp_url=MCP_URL, mcp_token=TOKEN)
    events = await collect(ctx)
    call_id = json.loads(fake_gemini.transcript("mcp").stdout[2])["tool_id"]
    assert events[1] == ToolCall(
        call_id,
        "mcp_clawboo-tasks_add_comment",
        {"taskId": "T-42", "body": "hello from the real CLI"},
    )
    assert isinstance(events[2], ToolResult) and events[2].tool_call_id == call_id
    assert events[2].name == "mcp_clawboo-tasks_add_comment" and not events[2].is_error
    assert '"authorType": "agent"' in events[2].output
    assert done_of(events) == Done(
        "success", summary="DONE-123", session_id=session_of(fake_gemini, "mcp")
    )
    [call] = fake_gemini.calls()
    assert call["settings"]["parsed"]["mcpServers"] == {
        "clawboo-tasks": {
            "trust": True,
            "httpUrl": MCP_URL,
            "headers": {"Authorization": f"Bearer {TOKEN}"},
        }
    }
    assert TOKEN not in json.dumps(call["argv"]) and TOKEN not in json.dumps(call["env"])


async def test_the_users_settings_are_carried_over_with_only_the_hosts_mcp_server(
    tmp_path, env, worktree, fake_gemini
):
    mine = user_settings(
        env,
        """{
          // my settings
          "model": {"name": "gemini-2.5-pro", "maxSessionTurns": 40},
          "security": {"auth": {"selectedType": "gemini-api-key"}},
          "general": {"enableAutoUpdate": true},
          "mcp": {"allowed": ["my-own-server"], "serverCommand": "x"},
          "mcpServers": {"my-own-server": {"command": "/nonexistent/server"}},
        }""",
    )
    before = (mine.read_bytes(), mine.stat().st_mtime)
    fake_gemini.install("plain")
    events = await collect(make_ctx(tmp_path, env, worktree, mcp_url=MCP_URL, mcp_token=TOKEN))
    assert done_of(events).reason == "success"
    [call] = fake_gemini.calls()
    parsed = call["settings"]["parsed"]
    assert parsed["model"] == {"name": "gemini-2.5-pro", "maxSessionTurns": 40}
    assert parsed["general"] == {"enableAutoUpdate": True, "enableAutoUpdateNotification": False}
    assert parsed["mcp"] == {"serverCommand": "x"}  # their allow-list would drop our server
    assert list(parsed["mcpServers"]) == ["clawboo-tasks"]
    assert (mine.read_bytes(), mine.stat().st_mtime) == before


async def test_an_unparsable_user_settings_file_fails_the_run_without_spawning(
    tmp_path, env, worktree, fake_gemini
):
    path = user_settings(env, "{ not json")
    fake_gemini.install("plain")
    events = await collect(make_ctx(tmp_path, env, worktree))
    done = done_of(events)
    assert done.reason == "error" and done.summary.startswith(f"{path} is not valid JSON")
    assert fake_gemini.calls() == []


async def test_a_rejected_key_is_an_error_with_the_apis_message(
    tmp_path, env, worktree, fake_gemini
):
    fake_gemini.install("auth401")
    events = await collect(make_ctx(tmp_path, env, worktree))
    message = '[API Error: {"error":{"code":401,"message":"API key not valid.","status":"UNAUTHENTICATED"}}]'
    assert events[-2:] == [
        ErrorEvent(message, code="result_error", fatal=True),
        Done("error", summary=message, session_id=session_of(fake_gemini, "auth401")),
    ]
    costs = [e for e in events if isinstance(e, CostEvent)]
    assert costs == [CostEvent(input_tokens=25, output_tokens=7, model="gemini-scripted")]


async def test_max_turns(tmp_path, env, worktree, fake_gemini):
    fake_gemini.install("maxturns")
    done = done_of(await collect(make_ctx(tmp_path, env, worktree)))
    assert done.reason == "max_turns"
    assert done.summary.startswith("Reached max session turns for this session.")


async def test_without_a_key_the_clis_own_message_is_the_summary(
    tmp_path, clawboo_env, worktree, fake_gemini
):
    fake_gemini.install("plain")
    events = await collect(make_ctx(tmp_path, clawboo_env, worktree))
    done = done_of(events)
    assert done.reason == "error"
    assert done.summary.startswith("When using Gemini API, you must specify the GEMINI_API_KEY")
    assert events[-2] == ErrorEvent(done.summary, code="exit_41", fatal=True)


async def test_a_missing_binary_fails_cleanly(tmp_path, env, worktree, fake_gemini):
    done = done_of(await collect(make_ctx(tmp_path, env, worktree)))
    assert done == Done("error", summary="gemini not found on PATH or user-install dirs")


async def test_exit_zero_without_a_result_is_an_error(tmp_path, env, worktree, fake_gemini):
    fake_gemini.install("plain", stdout=["not json at all"], stderr=[], exit_code=0)
    done = done_of(await collect(make_ctx(tmp_path, env, worktree)))
    assert done == Done("error", summary="gemini exited without a result")


async def test_a_crash_reports_the_stderr_tail_scrubbed(tmp_path, env, worktree, fake_gemini):
    fake_gemini.install("plain", stdout=[], stderr=[f"boom with {KEY} inside"], exit_code=3)
    done = done_of(await collect(make_ctx(tmp_path, env, worktree)))
    assert done == Done("error", summary="boom with [REDACTED] inside")


async def test_abort_mid_run_kills_the_tree(tmp_path, env, worktree, fake_gemini):
    fake_gemini.install("plain", sleep_after=1, stubborn=True)
    ctx = make_ctx(tmp_path, env, worktree)
    events = []
    async for event in clawboo_runtime_run(ctx):
        events.append(event)
        if event == StatusEvent("running"):
            ctx.abort.set("test")
    assert events == [
        StatusEvent("running"),
        Done("aborted", summary="", session_id=session_of(fake_gemini, "plain")),
    ]
    [call] = fake_gemini.calls()
    assert still_running([call["pid"], *fake_gemini.grandchildren()]) == []


async def test_research_runs_never_use_the_server_cwd(tmp_path, env, fake_gemini):
    fake_gemini.install("plain")
    await collect(make_ctx(tmp_path, env, None))
    [call] = fake_gemini.calls()
    assert call["cwd"] == str(tmp_path / "scratch" / "work")


def test_the_parser_maps_errors_and_failed_tool_results():
    parser = GeminiStream()
    assert parser.feed('{"type":"init","session_id":"s1","model":"gemini-2.5-pro"}') == [
        StatusEvent("running")
    ]
    assert parser.feed('{"type":"message","role":"assistant","content":"thinking aloud"}') == [
        TextDelta("thinking aloud")
    ]
    assert parser.feed(
        '{"type":"tool_use","tool_name":"run_shell_command","tool_id":"t1",'
        '"parameters":{"command":"ls"}}'
    ) == [ToolCall("t1", "run_shell_command", {"command": "ls"})]
    assert parser.feed(
        '{"type":"tool_result","tool_id":"t1","status":"error",'
        '"error":{"type":"X","message":"denied"}}'
    ) == [ToolResult("t1", "run_shell_command", "denied", is_error=True)]
    assert parser.feed('{"type":"error","severity":"warning","message":"loop detected"}') == [
        ErrorEvent("loop detected", code="warning")
    ]
    parser.feed('{"type":"message","role":"assistant","content":"final","delta":true}')
    parser.feed('{"type":"result","status":"error","stats":{"input_tokens":3,"output_tokens":2}}')
    assert parser.summary.text == "final"  # the answer after the last tool call
    assert parser.error_message() == "loop detected"
    assert parser.cost_events() == [
        CostEvent(input_tokens=3, output_tokens=2, model="gemini-2.5-pro")
    ]


def test_an_oauth_user_keeps_their_auth_type():
    settings = run_settings({"security": {"auth": {"selectedType": "oauth-personal"}}})
    assert settings["security"]["auth"]["selectedType"] == "oauth-personal"
    assert run_settings({})["security"] == {"auth": {"selectedType": "gemini-api-key"}}


def _google_login(env: dict) -> Path:
    user_settings(env, {"security": {"auth": {"selectedType": "oauth-personal"}}})
    creds = Path(env["HOME"]) / ".gemini" / "oauth_creds.json"
    creds.write_text(json.dumps({"access_token": "ya29.user", "refresh_token": "1//user"}))
    return creds


def test_a_google_login_in_the_users_gemini_makes_it_ready(
    clawboo_env, clawboo_host_factory, fake_gemini
):
    import clawboo_gemini_cli

    fake_gemini.install("plain")
    env = dict(clawboo_env, CLAWBOO_STATUS_TTL_S="0.2")  # the status snapshot's TTL
    server = clawboo_host_factory(plugins=[("gemini-cli", clawboo_gemini_cli)], env=env)
    with server.client() as client:

        def row():
            rows = client.get("/api/runtimes").json()["runtimes"]
            return next(r for r in rows if r["id"] == "gemini-cli")

        assert row()["connectionState"] != "ready"
        _google_login(env)  # made outside the host: seen once the snapshot refreshes
        ready = wait_until(lambda: (r := row())["connectionState"] == "ready" and r, what="ready")
        assert ready["hasVaultCredential"] is False


async def test_the_users_google_login_is_copied_into_the_run_home(
    tmp_path, clawboo_env, worktree, fake_gemini
):
    creds = _google_login(clawboo_env)
    fake_gemini.install("plain", exit_code=0)
    await collect(make_ctx(tmp_path, clawboo_env, worktree))
    [call] = fake_gemini.calls()
    copied = Path(call["env"]["GEMINI_CLI_HOME"]) / ".gemini" / "oauth_creds.json"
    assert call["settings"]["parsed"]["security"]["auth"]["selectedType"] == "oauth-personal"
    assert copied.read_bytes() == creds.read_bytes()
    assert copied.stat().st_mode & 0o777 == 0o600
