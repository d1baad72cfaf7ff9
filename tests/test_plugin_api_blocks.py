"""The building blocks CLI plugins share: LineCli, write_mcp_config, SummaryText,
tool_result_text — against real processes (fake executables on a temporary PATH)."""

from __future__ import annotations

import json
import stat

import pytest

from clawboo_host.plugin_api import (
    AbortSignal,
    Done,
    ErrorEvent,
    RunContext,
    TextDelta,
    ToolCall,
)
from clawboo_host.plugin_api.cli import LineCli, missing_cli, resolve_cli
from clawboo_host.plugin_api.mcp import mcp_server_entry, write_mcp_config
from clawboo_host.plugin_api.text import SummaryText, tool_result_text
from clawboo_host.testing.fakes import still_running

TOKEN = "run-token-0123456789abcdef"
URL = "http://127.0.0.1:9/api/mcp/tasks"

pytestmark = pytest.mark.anyio


def make_ctx(tmp_path, env, **overrides) -> RunContext:
    values = dict(
        run_id="r",
        task_id="t",
        agent_id="a",
        prompt="p",
        cwd=None,
        env=dict(env),
        home_dir=None,
        scratch_dir=tmp_path / "scratch",
        abort=AbortSignal(),
    )
    values.update(overrides)
    (tmp_path / "scratch").mkdir(exist_ok=True)
    return RunContext(**values)


def echo_parser(line: str):
    return [TextDelta(line)]


async def drive(cli: LineCli, **kwargs) -> list:
    return [event async for event in cli.events(echo_parser, **kwargs)]


# --------------------------------------------------------------------------- LineCli


async def test_lines_are_fed_to_the_parser_and_the_exit_is_reported(
    tmp_path, fake_executables, clawboo_env
):
    fake_executables.add(
        "acme",
        """
        import os, sys
        print("one"); print("two")
        print("warn " + os.environ["OPENAI_API_KEY"], file=sys.stderr)
        print(os.getcwd())
        sys.exit(3)
    """,
    )
    ctx = make_ctx(tmp_path, dict(clawboo_env, OPENAI_API_KEY="sk-granted-0123456789"))
    bin_path = await resolve_cli("acme", ctx)
    assert bin_path == str(fake_executables.path("acme"))
    cli = LineCli([bin_path], ctx=ctx)
    events = await drive(cli)
    work = tmp_path / "scratch" / "work"  # no worktree: a private dir, never the server's cwd
    assert events == [TextDelta("one"), TextDelta("two"), TextDelta(str(work))]
    assert (cli.exit.code, cli.exit.aborted, cli.exit.lingered) == (3, False, False)
    done = cli.exit.done(success="unused", scrub=ctx.scrub)
    assert done == Done("error", summary="warn [REDACTED]")  # the stderr tail, scrubbed
    assert cli.exit.error_events(done) == [
        ErrorEvent(done.summary, code="exit_3", fatal=True),
        done,
    ]


async def test_exit_zero_is_success_with_the_given_summary(tmp_path, fake_executables, clawboo_env):
    fake_executables.add("acme", "print('ok')\n")
    ctx = make_ctx(tmp_path, clawboo_env)
    cli = LineCli([await resolve_cli("acme", ctx)], ctx=ctx, cwd=tmp_path)
    await drive(cli)
    assert cli.exit.done(success="the answer", session_id="s1") == Done(
        "success", summary="the answer", session_id="s1"
    )
    assert cli.exit.done(success="x", error="the parser saw a failure") == Done(
        "error", summary="the parser saw a failure"
    )


async def test_a_cli_lingering_after_it_finished_is_killed(tmp_path, fake_executables, clawboo_env):
    fake_executables.add(
        "acme",
        """
        import time
        print("RESULT", flush=True)
        time.sleep(300)
    """,
    )
    ctx = make_ctx(tmp_path, clawboo_env)
    cli = LineCli([await resolve_cli("acme", ctx)], ctx=ctx, exit_grace=0.2)
    seen: list[str] = []

    def parser(line):
        seen.append(line)
        return [TextDelta(line)]

    events = [e async for e in cli.events(parser, finished=lambda: "RESULT" in seen)]
    assert events == [TextDelta("RESULT")]
    assert cli.exit.lingered and not cli.exit.aborted
    assert cli.exit.done(success="RESULT").reason == "success"


async def test_give_up_kills_at_once(tmp_path, fake_executables, clawboo_env):
    fake_executables.add(
        "acme",
        """
        import time
        for _ in range(1000):
            print("Reconnecting...", flush=True)
            time.sleep(0.01)
    """,
    )
    ctx = make_ctx(tmp_path, clawboo_env)
    cli = LineCli([await resolve_cli("acme", ctx)], ctx=ctx)
    events = await drive(cli, give_up=lambda: True)
    assert events == [TextDelta("Reconnecting...")]
    assert cli.exit.gave_up and not cli.exit.aborted and cli.exit.code is not None


async def test_abort_kills_a_sigterm_ignoring_grandchild(tmp_path, fake_executables, clawboo_env):
    pids = tmp_path / "pids"
    fake_executables.add(
        "acme",
        f"""
        import os, signal, subprocess, sys, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        child = subprocess.Popen([sys.executable, "-c", "import signal, time; "
                                  "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(300)"])
        open({str(pids)!r}, "w").write(f"{{os.getpid()}} {{child.pid}}")
        print("started", flush=True)
        time.sleep(300)
    """,
    )
    ctx = make_ctx(tmp_path, clawboo_env)
    cli = LineCli([await resolve_cli("acme", ctx)], ctx=ctx)
    events = []
    async for event in cli.events(echo_parser):
        events.append(event)
        ctx.abort.set("test")
    assert events == [TextDelta("started")]
    assert cli.exit.aborted
    assert cli.exit.done(success="partial") == Done("aborted", summary="partial")
    assert still_running([int(p) for p in pids.read_text().split()]) == []


async def test_a_cli_that_cannot_start_is_a_clean_error(tmp_path, fake_executables, clawboo_env):
    fake_executables.add("acme", "not a program\n", shebang="")
    ctx = make_ctx(tmp_path, clawboo_env)
    cli = LineCli([await resolve_cli("acme", ctx)], ctx=ctx)
    assert await drive(cli) == []
    assert cli.exit.start_error.startswith("could not start acme: ")
    assert cli.exit.done(success="x").reason == "error"
    assert cli.exit.error_events(cli.exit.done(success="x"))[0].code is None


async def test_a_missing_cli(tmp_path, clawboo_env):
    ctx = make_ctx(tmp_path, clawboo_env)
    assert await resolve_cli("acme", ctx) is None
    assert missing_cli("acme") == Done(
        "error", summary="acme not found on PATH or user-install dirs"
    )


# --------------------------------------------------------------------------- MCP config


def test_the_mcp_file_is_private_and_holds_only_the_hosts_server(tmp_path):
    ctx = make_ctx(tmp_path, {}, mcp_url=URL, mcp_token=TOKEN)
    user = {"model": "m", "mcpServers": {"mine": {"command": "x"}}}
    path = write_mcp_config(tmp_path / "home" / "settings.json", ctx, base=user, url_key="httpUrl")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert json.loads(path.read_text()) == {
        "model": "m",
        "mcpServers": {
            "clawboo-tasks": {"httpUrl": URL, "headers": {"Authorization": f"Bearer {TOKEN}"}}
        },
    }
    assert user["mcpServers"] == {"mine": {"command": "x"}}  # the caller's dict is untouched


def test_without_mcp_there_is_no_server(tmp_path):
    ctx = make_ctx(tmp_path, {})
    assert mcp_server_entry(ctx) is None
    path = write_mcp_config(tmp_path / "mcp.json", ctx, type="http")
    assert json.loads(path.read_text()) == {"mcpServers": {}}


# --------------------------------------------------------------------------- text


def test_the_summary_is_the_answer_after_the_last_tool_call():
    summary = SummaryText()
    for event in (
        TextDelta("Let me look. "),
        ToolCall("1", "ls"),
        TextDelta("thinking...", channel="reasoning"),
        TextDelta("All "),
        TextDelta("done. "),
    ):
        assert summary.observe(event) is event
    assert summary.text == "All done."
    assert summary.done("success", scrub=str.upper, session_id="s") == Done(
        "success", summary="ALL DONE.", session_id="s"
    )
    assert SummaryText().done("error", fallback="nothing said").summary == "nothing said"


def test_tool_result_text():
    assert tool_result_text(None) == ""
    assert tool_result_text("plain") == "plain"
    assert (
        tool_result_text([{"type": "text", "text": "a"}, {"type": "image"}, {"text": "b"}])
        == "a\nb"
    )
    assert tool_result_text([{"type": "image"}], {"ok": True}) == '{"ok": true}'
    assert tool_result_text({"k": "é"}) == '{"k": "é"}'
    assert tool_result_text([]) == ""
