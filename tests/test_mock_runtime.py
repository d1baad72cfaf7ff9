"""The ``clawboo-mock`` fault-injection runtime: every directive, called as the host calls it.

Real files, real child processes and (for ``!mcp``) the real MCP tasks server on a loopback
socket with the real MCP client; nothing is mocked.
"""

from __future__ import annotations

import json
import sys
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
from fastapi import FastAPI

from clawboo_host.board.store import BoardStore
from clawboo_host.mcp_tasks import MCP_TASKS_PATH, build_mcp_tasks
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
from clawboo_host.plugin_api.childenv import build_child_env
from clawboo_host.run_tokens import RunScope, RunTokens
from clawboo_host.testing import mock_runtime
from clawboo_host.testing.fakes import still_running
from clawboo_host.testing.mock_runtime import (
    DESCRIPTOR,
    clawboo_runtime_descriptor,
    clawboo_runtime_health,
    clawboo_runtime_run,
    parse_directives,
)
from clawboo_host.testing.server import LiveServer

LIMIT = 60  # seconds: an upper bound against hangs, never a timing assertion


@pytest.fixture
def anyio_backend():
    return "asyncio"


def make_ctx(tmp_path: Path, description: str = "", **overrides) -> RunContext:
    (tmp_path / "work").mkdir(exist_ok=True)
    fields = {
        "run_id": "run1",
        "task_id": "task1",
        "agent_id": "agent1",
        "prompt": f"# Task: mock task\n\n{description}",
        "cwd": tmp_path / "work",
        "env": build_child_env(),
        "home_dir": None,
        "scratch_dir": tmp_path / "scratch",
        "abort": AbortSignal(),
        "model": None,
    }
    fields.update(overrides)
    return RunContext(**fields)


async def collect(ctx: RunContext) -> list:
    events = []
    with anyio.fail_after(LIMIT):
        async for event in clawboo_runtime_run(ctx):
            events.append(event)
    dones = [e for e in events if isinstance(e, Done)]
    assert len(dones) == 1 and events[-1] is dones[0], events  # exactly one Done, last
    assert events[0] == StatusEvent("running")
    return events


async def collect_aborting(ctx: RunContext, after: float = 0.3, *, when_text: str = "") -> list:
    """Run, and set the abort from a concurrent task after ``after`` seconds (or once a
    text delta starting with ``when_text`` was seen)."""
    events: list = []

    async def aborter() -> None:
        if when_text:
            while not any(
                isinstance(e, TextDelta) and e.text.startswith(when_text) for e in events
            ):
                await anyio.sleep(0.02)
        await anyio.sleep(after)
        ctx.abort.set("test")

    with anyio.fail_after(LIMIT):
        async with anyio.create_task_group() as tg:
            tg.start_soon(aborter)
            async for event in clawboo_runtime_run(ctx):
                events.append(event)
    assert sum(isinstance(e, Done) for e in events) == 1 and isinstance(events[-1], Done)
    return events


def texts(events: list) -> list[str]:
    return [e.text for e in events if isinstance(e, TextDelta)]


def of(events: list, kind: type) -> list:
    return [e for e in events if isinstance(e, kind)]


# --------------------------------------------------------------------------- the plugin


def test_descriptor_and_health_are_kept():
    assert clawboo_runtime_descriptor() is DESCRIPTOR
    assert DESCRIPTOR.id == "clawboo-mock"
    assert clawboo_runtime_health().ok


def test_the_run_hook_is_a_hookimpl():
    assert hasattr(clawboo_runtime_run, "clawboo_impl")


def test_parse_directives_takes_known_words_at_line_start_only():
    prompt = (
        "# Task: t\n\n!ok first\n!okay no\n !ok indented\n!bogus x\nplain !ok\n"
        "!maxturns\n!write a/b c  d\n!OK upper\n"
    )
    assert parse_directives(prompt) == [("ok", "first"), ("maxturns", ""), ("write", "a/b c  d")]


# --------------------------------------------------------------------------- basics


@pytest.mark.anyio
async def test_no_directive_says_mock_done(tmp_path: Path):
    events = await collect(make_ctx(tmp_path, "just a description\n!unknown thing"))
    assert events == [
        StatusEvent("running"),
        TextDelta("mock done"),
        Done("success", summary="mock done", session_id="mock-run1"),
    ]


@pytest.mark.anyio
async def test_ok_finishes_at_once(tmp_path: Path):
    events = await collect(make_ctx(tmp_path, "!ok all good here\n!error never reached"))
    assert events == [
        StatusEvent("running"),
        TextDelta("all good here"),
        Done("success", summary="all good here", session_id="mock-run1"),
    ]


@pytest.mark.anyio
async def test_directives_in_later_host_sections_count(tmp_path: Path):
    ctx = make_ctx(tmp_path, "desc", prompt="# Task: t\n\ndesc\n\n## Handoff\n\n!ok from later")
    events = await collect(ctx)
    assert events[-1] == Done("success", summary="from later", session_id="mock-run1")


@pytest.mark.anyio
async def test_resume_is_announced_after_the_status(tmp_path: Path):
    events = await collect(make_ctx(tmp_path, "!ok x", resume_session_id="mock-old"))
    assert events[:2] == [StatusEvent("running"), TextDelta("resumed mock-old")]
    assert events[-1].summary == "x"  # the resume line is not the summary


@pytest.mark.anyio
async def test_session_directive_sets_the_done_session_id(tmp_path: Path):
    events = await collect(make_ctx(tmp_path, "!session native-42\n!ok done"))
    assert events[-1] == Done("success", summary="done", session_id="native-42")


@pytest.mark.anyio
async def test_error_is_fatal(tmp_path: Path):
    events = await collect(make_ctx(tmp_path, "!error boom went the disk\n!ok never"))
    assert events[1:] == [
        ErrorEvent("boom went the disk", fatal=True),
        Done("error", summary="boom went the disk", session_id="mock-run1"),
    ]


@pytest.mark.anyio
async def test_maxturns(tmp_path: Path):
    events = await collect(make_ctx(tmp_path, "!maxturns\n!ok never"))
    assert events[-1] == Done("max_turns", summary="mock hit max turns", session_id="mock-run1")
    assert texts(events) == []


@pytest.mark.anyio
async def test_cost_and_tokens(tmp_path: Path):
    events = await collect(
        make_ctx(tmp_path, "!cost 0.25\n!cost 1.5 1000 200\n!tokens 300 40\n!cost nope")
    )
    assert of(events, CostEvent) == [
        CostEvent(cost_usd=0.25, input_tokens=0, output_tokens=0, model="mock"),
        CostEvent(cost_usd=1.5, input_tokens=1000, output_tokens=200, model="mock"),
        CostEvent(cost_usd=None, input_tokens=300, output_tokens=40, model="mock"),
    ]
    assert "!cost" in of(events, ErrorEvent)[0].message  # a malformed one is reported
    # No terminal directive: success with the default text.
    assert events[-1] == Done("success", summary="mock done", session_id="mock-run1")


@pytest.mark.anyio
async def test_tokens_carry_the_run_model_for_pricing(tmp_path: Path):
    events = await collect(make_ctx(tmp_path, "!tokens 10 20", model="gpt-4o"))
    assert of(events, CostEvent) == [CostEvent(None, 10, 20, model="gpt-4o")]


@pytest.mark.anyio
async def test_running_out_of_directives_succeeds_with_the_last_text(tmp_path: Path):
    events = await collect(make_ctx(tmp_path, "!sleep 1\n!cost 0.1"))
    assert events[-1] == Done("success", summary="mock done", session_id="mock-run1")


# --------------------------------------------------------------------------- !write


@pytest.mark.anyio
async def test_write_creates_the_file_and_its_parents(tmp_path: Path):
    events = await collect(make_ctx(tmp_path, "!write src/deep/a.txt hello  world \n!ok done"))
    assert (tmp_path / "work/src/deep/a.txt").read_text() == "hello  world "
    calls, results = of(events, ToolCall), of(events, ToolResult)
    assert [c.name for c in calls] == ["write_file"] and calls[0].input["path"] == "src/deep/a.txt"
    assert results[0].tool_call_id == calls[0].tool_call_id
    assert results[0].name == "write_file" and not results[0].is_error
    assert events.index(calls[0]) < events.index(results[0])
    assert of(events, ErrorEvent) == []


@pytest.mark.anyio
async def test_write_overwrites_and_follows_an_inside_symlink(tmp_path: Path):
    ctx = make_ctx(tmp_path, "!write link.txt new")
    (ctx.cwd / "real.txt").write_text("old")
    (ctx.cwd / "link.txt").symlink_to("real.txt")
    events = await collect(ctx)
    assert (ctx.cwd / "real.txt").read_text() == "new"
    assert not of(events, ErrorEvent)


def _refused(events: list) -> None:
    errors = of(events, ErrorEvent)
    assert len(errors) == 1 and "refused" in errors[0].message and not errors[0].fatal
    results = of(events, ToolResult)
    assert len(results) == 1 and results[0].is_error and results[0].name == "write_file"
    # The run goes on to the next directive.
    assert events[-1] == Done("success", summary="after", session_id="mock-run1")


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.mark.anyio
async def test_write_refuses_dotdot_escape(tmp_path: Path):
    ctx = make_ctx(tmp_path, "!write ../x escaped\n!write sub/../../y escaped\n!ok after")
    before = _files(tmp_path)
    events = await collect(ctx)
    errors = of(events, ErrorEvent)
    assert len(errors) == 2 and all("refused" in e.message for e in errors)
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
    assert _files(tmp_path) == before
    assert events[-1].reason == "success"


@pytest.mark.anyio
async def test_write_refuses_an_absolute_path(tmp_path: Path):
    target = tmp_path / "abs.txt"
    events = await collect(make_ctx(tmp_path, f"!write {target} escaped\n!ok after"))
    _refused(events)
    assert not target.exists()


@pytest.mark.anyio
async def test_write_refuses_a_symlinked_dir_to_outside(tmp_path: Path):
    outside = tmp_path / "outside"
    outside.mkdir()
    ctx = make_ctx(tmp_path, "!write out/x.txt escaped\n!ok after")
    (ctx.cwd / "out").symlink_to(outside)
    events = await collect(ctx)
    _refused(events)
    assert list(outside.iterdir()) == []


@pytest.mark.anyio
async def test_write_refuses_a_file_symlink_to_outside_even_dangling(tmp_path: Path):
    outside = tmp_path / "outside"
    outside.mkdir()
    ctx = make_ctx(tmp_path, "!write a.txt escaped\n!write b.txt escaped\n!ok after")
    (outside / "a.txt").write_text("original")
    (ctx.cwd / "a.txt").symlink_to(outside / "a.txt")
    (ctx.cwd / "b.txt").symlink_to(outside / "b.txt")  # dangling
    events = await collect(ctx)
    assert len(of(events, ErrorEvent)) == 2
    assert (outside / "a.txt").read_text() == "original"
    assert not (outside / "b.txt").exists()
    assert events[-1].reason == "success"


@pytest.mark.anyio
async def test_write_without_cwd_is_refused(tmp_path: Path):
    events = await collect(make_ctx(tmp_path, "!write a.txt x\n!ok after", cwd=None))
    _refused(events)
    assert "working directory" in of(events, ErrorEvent)[0].message


# --------------------------------------------------------------------------- waiting / abort


@pytest.mark.anyio
async def test_sleep_completes(tmp_path: Path):
    events = await collect(make_ctx(tmp_path, "!sleep 50\n!ok woke"))
    assert events[-1] == Done("success", summary="woke", session_id="mock-run1")


@pytest.mark.anyio
async def test_sleep_is_abortable(tmp_path: Path):
    ctx = make_ctx(tmp_path, "!sleep 600000\n!ok never")
    start = anyio.current_time()
    events = await collect_aborting(ctx, 0.2)
    assert events[-1] == Done("aborted", summary="mock aborted", session_id="mock-run1")
    assert anyio.current_time() - start < 30
    assert texts(events) == []


@pytest.mark.anyio
async def test_hang_until_aborted(tmp_path: Path):
    ctx = make_ctx(tmp_path, "!session s-9\n!hang\n!ok never")
    events = await collect_aborting(ctx, 0.2)
    assert events[-1] == Done("aborted", summary="mock aborted", session_id="s-9")


@pytest.mark.anyio
async def test_abort_set_before_the_run(tmp_path: Path):
    ctx = make_ctx(tmp_path, "!write a.txt x\n!ok never")
    ctx.abort.set()
    events = await collect(ctx)
    assert events[-1] == Done("aborted", summary="mock aborted", session_id="mock-run1")
    assert not (ctx.cwd / "a.txt").exists()


@pytest.mark.anyio
async def test_spawn_runs_to_completion(tmp_path: Path):
    events = await collect(make_ctx(tmp_path, "!spawn 0.2\n!ok finished"))
    pid_lines = [t for t in texts(events) if t.startswith("PIDS ")]
    assert len(pid_lines) == 1
    assert events[-1] == Done("success", summary="finished", session_id="mock-run1")
    pids = [int(p) for p in pid_lines[0].split()[1:]]
    assert still_running(pids) == []


@pytest.mark.anyio
async def test_exec_runs_a_program_as_a_cli_and_streams_its_stdout(tmp_path: Path):
    ctx = make_ctx(
        tmp_path,
        f"!exec {sys.executable} -c \"import os; print('in', os.getcwd())\"\n"
        f"!exec {sys.executable} -c 'raise SystemExit(3)'\n"
        "!exec no-such-program-anywhere\n"
        "!exec 'unclosed",
    )
    events = await collect(ctx)
    texts = [e.text for e in of(events, TextDelta)]
    assert texts == [f"in {ctx.cwd}"]
    errors = [e.message for e in of(events, ErrorEvent)]
    assert "exited with code 3" in errors[0]
    assert "could not start 'no-such-program-anywhere'" in errors[1]
    assert errors[2].startswith("!exec:")
    assert events[-1] == Done("success", summary=f"in {ctx.cwd}", session_id="mock-run1")


@pytest.mark.anyio
async def test_spawn_abort_kills_the_whole_sigterm_ignoring_tree(tmp_path: Path):
    ctx = make_ctx(tmp_path, "!spawn 300\n!ok never")
    events = await collect_aborting(ctx, 0.3, when_text="PIDS ")
    pid_line = next(t for t in texts(events) if t.startswith("PIDS "))
    child, grandchild = (int(p) for p in pid_line.split()[1:])
    assert child != grandchild
    assert events[-1] == Done("aborted", summary="mock aborted", session_id="mock-run1")
    assert still_running([child, grandchild]) == []


# --------------------------------------------------------------------------- !mcp


@pytest.mark.anyio
async def test_mcp_without_attachment_is_reported_and_the_run_goes_on(tmp_path: Path):
    events = await collect(make_ctx(tmp_path, '!mcp get_task {"taskId": "$TASK"}\n!ok after'))
    assert of(events, ErrorEvent) == [ErrorEvent("no MCP attached", code="no_mcp")]
    assert of(events, ToolCall) == []
    assert events[-1] == Done("success", summary="after", session_id="mock-run1")


class McpWorld:
    def __init__(self, board: BoardStore, tokens: RunTokens, server: LiveServer) -> None:
        self.board = board
        self.tokens = tokens
        self.url = server.url + MCP_TASKS_PATH
        team = board.seed_team("alpha", [{"name": "lead", "role": "leader"}])
        self.agent_id = team["agent_ids"][0]
        self.task = board.create_task("mcp task", team_id=team["team_id"])
        self.token = tokens.mint(
            RunScope("run1", self.task["id"], team["team_id"], self.agent_id, "clawboo-mock")
        )


@pytest.fixture
def mcp_world(tmp_path: Path):
    board = BoardStore(tmp_path / "clawboo.db")
    board.open()
    tokens = RunTokens()

    def factory(port: int) -> FastAPI:
        mcp = build_mcp_tasks(lambda: board, tokens)

        @asynccontextmanager
        async def lifespan(_app: FastAPI):
            async with mcp.lifespan():
                yield

        app = FastAPI(lifespan=lifespan)
        mcp.mount(app)
        return app

    with LiveServer(factory) as server:
        yield McpWorld(board, tokens, server)
    board.close()


def mcp_ctx(tmp_path: Path, world: McpWorld, description: str, **overrides) -> RunContext:
    fields = {
        "task_id": world.task["id"],
        "agent_id": world.agent_id,
        "mcp_url": world.url,
        "mcp_token": world.token,
    }
    return make_ctx(tmp_path, description, **{**fields, **overrides})


@pytest.mark.anyio
async def test_mcp_calls_the_real_server_with_task_substitution(tmp_path: Path, mcp_world):
    ctx = mcp_ctx(
        tmp_path,
        mcp_world,
        '!mcp get_task {"taskId": "$TASK"}\n'
        '!mcp add_comment {"taskId": "$TASK", "body": "hi from mock"}\n'
        '!mcp get_task {"taskId": "nope"}\n'
        "!mcp list_tasks {}\n",
    )
    events = await collect(ctx)
    assert of(events, ErrorEvent) == []
    calls, results = of(events, ToolCall), of(events, ToolResult)
    assert [c.name for c in calls] == ["get_task", "add_comment", "get_task", "list_tasks"]
    assert calls[0].input == {"taskId": mcp_world.task["id"]}
    assert [r.tool_call_id for r in results] == [c.tool_call_id for c in calls]
    assert [r.is_error for r in results] == [False, False, True, False]

    got = json.loads(results[0].output)
    assert got["task"]["id"] == mcp_world.task["id"]
    assert results[2].output == "not found: nope"
    comments = mcp_world.board.list_comments(mcp_world.task["id"])
    assert [c["body"] for c in comments] == ["hi from mock"]
    # Each result's text is re-emitted as a text delta; the last one is the summary.
    assert texts(events) == [r.output for r in results]
    assert events[-1] == Done("success", summary=results[-1].output, session_id="mock-run1")


@pytest.mark.anyio
async def test_mcp_with_a_bad_token_or_bad_json_is_reported(tmp_path: Path, mcp_world):
    ctx = mcp_ctx(
        tmp_path,
        mcp_world,
        "!mcp get_task {not json\n!mcp get_task []\n!mcp list_tasks {}\n!ok after",
        mcp_token="not-a-live-token",
    )
    events = await collect(ctx)
    errors = of(events, ErrorEvent)
    assert len(errors) == 3
    assert "bad JSON" in errors[0].message and "bad JSON" in errors[1].message
    assert "401" in errors[2].message
    assert [r.is_error for r in of(events, ToolResult)] == [True]
    assert events[-1] == Done("success", summary="after", session_id="mock-run1")


def test_module_exports_the_directive_set():
    assert {
        "ok",
        "write",
        "cost",
        "tokens",
        "sleep",
        "hang",
        "error",
        "maxturns",
        "mcp",
        "spawn",
        "exec",
        "session",
    } == mock_runtime.DIRECTIVES
