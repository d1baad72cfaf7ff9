"""The MCP tasks server over a real loopback socket, a real board and the real MCP client."""

from __future__ import annotations

import json
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import anyio.lowlevel
import httpx
import pytest
from fastapi import FastAPI
from mcp.shared.exceptions import MCPError

from clawboo_host.board.store import BoardStore
from clawboo_host.mcp_tasks import MCP_TASKS_PATH, TOOL_NAMES, build_mcp_tasks, mcp_tasks_url
from clawboo_host.run_tokens import RunScope, RunTokens
from clawboo_host.testing.mcp_client import McpCallError, call_tool, connect, list_tools
from clawboo_host.testing.server import LiveServer

UNAUTHORIZED = {"error": "MCP access needs a live run token"}
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "raw-test", "version": "0"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@pytest.fixture
def anyio_backend():
    return "asyncio"


class World:
    """Two teams and a teamless tree on a real board, tokens, and a live host serving MCP."""

    def __init__(self, board: BoardStore, tokens: RunTokens, server: LiveServer) -> None:
        self.board = board
        self.tokens = tokens
        self.server = server
        self.url = server.url + MCP_TASKS_PATH

        a = board.seed_team("alpha", [{"name": "lead-a", "role": "leader"}, {"name": "dev-a"}])
        b = board.seed_team("beta", [{"name": "lead-b", "role": "leader"}])
        self.team_a, self.agent_a = a["team_id"], a["agent_ids"][1]
        self.team_b, self.agent_b = b["team_id"], b["agent_ids"][0]

        # team alpha: root_a > child_a > grandchild_a, and a second root
        self.root_a = board.create_task("alpha root", team_id=self.team_a)
        self.child_a = board.create_task(
            "alpha child", team_id=self.team_a, parent_task_id=self.root_a["id"]
        )
        self.grandchild_a = board.create_task(
            "alpha grandchild", team_id=self.team_a, parent_task_id=self.child_a["id"]
        )
        self.other_a = board.create_task("alpha other", status="backlog", team_id=self.team_a)
        # team beta
        self.root_b = board.create_task("beta root", team_id=self.team_b)
        # teamless: mission > run task > sub, and a sibling of the run task
        self.mission = board.create_task("mission")
        self.solo = board.create_task("solo", parent_task_id=self.mission["id"])
        self.solo_sub = board.create_task("solo sub", parent_task_id=self.solo["id"])
        self.solo_sibling = board.create_task("solo sibling", parent_task_id=self.mission["id"])

        self.token_a = tokens.mint(
            RunScope("run-a", self.child_a["id"], self.team_a, self.agent_a, "mock")
        )
        self.token_b = tokens.mint(
            RunScope("run-b", self.root_b["id"], self.team_b, self.agent_b, "mock")
        )
        self.token_solo = tokens.mint(
            RunScope("run-solo", self.solo["id"], None, self.agent_a, "mock")
        )

    def snapshot(self) -> tuple:
        tasks = self.board.list_tasks()
        comments = [c for t in tasks for c in self.board.list_comments(t["id"])]
        return tasks, comments


@pytest.fixture
def world(tmp_path: Path):
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

        @app.get("/api/ping")
        async def ping() -> dict:
            return {"ok": True}

        mcp.mount(app)
        return app

    with LiveServer(factory) as server:
        yield World(board, tokens, server)
    board.close()


async def _ok(url: str, token: str, tool: str, arguments: dict, **kw) -> dict:
    outcome = await call_tool(url, token, tool, arguments, **kw)
    assert not outcome.is_error, outcome.text
    data = json.loads(outcome.text)
    assert outcome.text == json.dumps(data, indent=2, ensure_ascii=False)  # pretty, 2 spaces
    return data


async def _err(url: str, token: str, tool: str, arguments: dict) -> str:
    outcome = await call_tool(url, token, tool, arguments)
    assert outcome.is_error, outcome.text
    return outcome.text


def _ids(tasks: list[dict]) -> set[str]:
    return {t["id"] for t in tasks}


# --- tokens ----------------------------------------------------------------------------------------


def test_run_tokens_mint_lookup_revoke():
    tokens = RunTokens()
    scope = RunScope("r", "t", None, "a", "mock")
    one, two = tokens.mint(scope), tokens.mint(RunScope("r2", "t2", "team", "a2", "codex"))
    assert one != two and len(one) >= 43
    assert tokens.lookup(one) == scope
    assert tokens.lookup(two).team_id == "team"
    for bad in (None, "", "x", one + "x", one[:-1]):
        assert tokens.lookup(bad) is None
    assert one not in repr(vars(tokens))  # only digests are kept
    assert tokens.revoke(one) is True and tokens.revoke(one) is False
    assert tokens.lookup(one) is None and tokens.lookup(two) is not None
    assert tokens.revoke_run("r2") == 1 and len(tokens) == 0
    with pytest.raises(AttributeError):
        scope.task_id = "other"  # type: ignore[misc]


def test_url_is_loopback():
    assert mcp_tasks_url(4321) == "http://127.0.0.1:4321/api/mcp/tasks"


# --- transport and auth ----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_lists_the_five_tools(world: World):
    assert await list_tools(world.url, world.token_a) == list(TOOL_NAMES)
    assert set(TOOL_NAMES) == {
        "list_tasks",
        "get_task",
        "create_subtask",
        "add_comment",
        "update_task_status",
    }


def test_exact_path_post_get_delete_without_redirect(world: World):
    auth = {"Authorization": f"Bearer {world.token_a}"}
    with world.server.client(follow_redirects=False) as http:
        r = http.post(MCP_TASKS_PATH, json=INIT, headers={**MCP_HEADERS, **auth})
        assert r.status_code == 200, r.text
        session = r.headers["mcp-session-id"]
        assert "clawboo-tasks" in r.text
        common = {**auth, "mcp-session-id": session, "mcp-protocol-version": "2025-06-18"}
        r = http.post(
            MCP_TASKS_PATH,
            json={"jsonrpc": "2.0", "method": "notifications/initialized"},
            headers={**MCP_HEADERS, **common},
        )
        assert r.status_code == 202, r.text
        with http.stream(
            "GET", MCP_TASKS_PATH, headers={**common, "Accept": "text/event-stream"}
        ) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
        r = http.delete(MCP_TASKS_PATH, headers=common)
        assert r.status_code == 200, r.text
        # the session is gone
        r = http.post(
            MCP_TASKS_PATH,
            json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
            headers={**MCP_HEADERS, **common},
        )
        assert r.status_code == 404
        # the rest of the app is untouched
        assert http.get("/api/ping").json() == {"ok": True}


def test_loopback_hosts_pass_dns_rebinding_check_and_others_do_not(world: World):
    auth = {"Authorization": f"Bearer {world.token_a}", **MCP_HEADERS}
    port = world.server.port
    with world.server.client() as http:
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", "127.0.0.1"):
            r = http.post(MCP_TASKS_PATH, json=INIT, headers={**auth, "Host": host})
            assert r.status_code == 200, (host, r.status_code, r.text)
        r = http.post(MCP_TASKS_PATH, json=INIT, headers={**auth, "Host": f"evil.test:{port}"})
        assert r.status_code == 421
        r = http.post(MCP_TASKS_PATH, json=INIT, headers={**auth, "Origin": "http://evil.test"})
        assert r.status_code == 403


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Bearer nope", "Basic abc", "bearer-token", "REVOKED", "Token {token}"],
)
def test_missing_or_wrong_token_is_401_before_the_sdk(world: World, authorization):
    token = world.token_a
    if authorization == "REVOKED":
        world.tokens.revoke(token)
        authorization = f"Bearer {token}"
    headers = dict(MCP_HEADERS)
    if authorization is not None:
        headers["Authorization"] = authorization.format(token=token)
    with world.server.client(follow_redirects=False) as http:
        for method in ("POST", "GET", "DELETE"):
            r = http.request(method, MCP_TASKS_PATH, json=INIT, headers=headers)
            assert r.status_code == 401, (method, r.status_code)
            assert r.json() == UNAUTHORIZED
            assert r.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.anyio
async def test_bad_tokens_change_nothing_on_the_board(world: World):
    revoked = world.tokens.mint(RunScope("run-x", world.root_a["id"], world.team_a, "x", "mock"))
    world.tokens.revoke(revoked)
    before = world.snapshot()
    calls = [
        ("create_subtask", {"parentTaskId": world.root_a["id"], "title": "sneaky"}),
        ("add_comment", {"taskId": world.root_a["id"], "body": "sneaky"}),
        ("update_task_status", {"taskId": world.root_a["id"], "status": "cancelled"}),
    ]
    for token in ("", "not-a-token", revoked, world.token_a + "x"):
        for tool, args in calls:
            with pytest.raises(McpCallError) as info:
                await call_tool(world.url, token, tool, args)
            assert info.value.status == 401
            assert "MCP access needs a live run token" in str(info.value)
    assert world.snapshot() == before


@pytest.mark.anyio
async def test_revoking_mid_session_cuts_the_session_off(world: World):
    async with connect(world.url, world.token_a) as client:
        first = await client.call_tool("list_tasks", {})
        assert not first.is_error
        world.tokens.revoke(world.token_a)
        with pytest.raises(MCPError):  # the POST was answered 401
            await client.call_tool("add_comment", {"taskId": world.root_a["id"], "body": "late"})
    assert world.board.list_comments(world.root_a["id"]) == []


def test_a_session_cannot_be_borrowed_by_another_run(world: World):
    with world.server.client() as http:
        r = http.post(
            MCP_TASKS_PATH,
            json=INIT,
            headers={**MCP_HEADERS, "Authorization": f"Bearer {world.token_a}"},
        )
        session = r.headers["mcp-session-id"]
        r = http.post(
            MCP_TASKS_PATH,
            json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
            headers={
                **MCP_HEADERS,
                "Authorization": f"Bearer {world.token_b}",
                "mcp-session-id": session,
                "mcp-protocol-version": "2025-06-18",
            },
        )
        assert r.status_code == 404


# --- list_tasks ------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_list_tasks_is_the_runs_team(world: World):
    data = await _ok(world.url, world.token_a, "list_tasks", {})
    assert _ids(data["tasks"]) == {
        world.root_a["id"],
        world.child_a["id"],
        world.grandchild_a["id"],
        world.other_a["id"],
    }
    task = next(t for t in data["tasks"] if t["id"] == world.child_a["id"])
    assert task["teamId"] == world.team_a and task["parentTaskId"] == world.root_a["id"]
    assert set(task) >= {"id", "title", "description", "status", "priority", "createdAt"}

    backlog = await _ok(world.url, world.token_a, "list_tasks", {"status": "backlog"})
    assert _ids(backlog["tasks"]) == {world.other_a["id"]}

    data = await _ok(world.url, world.token_b, "list_tasks", {})
    assert _ids(data["tasks"]) == {world.root_b["id"]}

    text = await _err(world.url, world.token_a, "list_tasks", {"status": "bogus"})
    assert text.startswith("invalid args: unknown status 'bogus'")


@pytest.mark.anyio
async def test_list_tasks_without_a_team_is_the_runs_subtree(world: World):
    data = await _ok(world.url, world.token_solo, "list_tasks", {})
    assert _ids(data["tasks"]) == {world.solo["id"], world.solo_sub["id"]}
    world.board.update_status(world.solo_sub["id"], "blocked")
    data = await _ok(world.url, world.token_solo, "list_tasks", {"status": "blocked"})
    assert _ids(data["tasks"]) == {world.solo_sub["id"]}


# --- get_task --------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_get_task_returns_task_comments_and_ancestors(world: World):
    world.board.add_comment(world.grandchild_a["id"], "first", author_type="user")
    data = await _ok(world.url, world.token_a, "get_task", {"taskId": world.grandchild_a["id"]})
    assert set(data) == {"task", "comments", "ancestors"}
    assert data["task"]["id"] == world.grandchild_a["id"]
    assert [c["body"] for c in data["comments"]] == ["first"]
    assert data["comments"][0]["authorType"] == "user"
    assert [a["id"] for a in data["ancestors"]] == [world.child_a["id"], world.root_a["id"]]


@pytest.mark.anyio
async def test_get_task_outside_the_scope_is_not_found(world: World):
    for task_id in (world.root_b["id"], world.mission["id"], "no-such-task"):
        assert await _err(world.url, world.token_a, "get_task", {"taskId": task_id}) == (
            f"not found: {task_id}"
        )
    # teamless: own task and descendants only; ancestors outside the subtree are not shown
    data = await _ok(world.url, world.token_solo, "get_task", {"taskId": world.solo_sub["id"]})
    assert [a["id"] for a in data["ancestors"]] == [world.solo["id"]]
    for task_id in (world.mission["id"], world.solo_sibling["id"], world.root_a["id"]):
        text = await _err(world.url, world.token_solo, "get_task", {"taskId": task_id})
        assert text == f"not found: {task_id}"


@pytest.mark.anyio
async def test_invalid_arguments_and_unknown_tools_are_tool_errors(world: World):
    assert await _err(world.url, world.token_a, "get_task", {}) == (
        "invalid args: taskId is required"
    )
    assert await _err(world.url, world.token_a, "get_task", {"taskId": 7}) == (
        "invalid args: taskId must be a string"
    )
    assert (await _err(world.url, world.token_a, "get_task", {"taskId": "x", "y": 1})).startswith(
        "invalid args: unexpected argument"
    )
    assert await _err(world.url, world.token_a, "delete_everything", {}) == (
        "unknown tool: delete_everything"
    )


# --- create_subtask --------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_create_subtask_inherits_team_and_starts_todo(world: World):
    world.board.update_status(world.root_a["id"], "in_progress")
    data = await _ok(
        world.url,
        world.token_a,
        "create_subtask",
        {"parentTaskId": world.root_a["id"], "title": "split off", "description": "the rest"},
    )
    task = data["task"]
    assert task["parentTaskId"] == world.root_a["id"]
    assert task["teamId"] == world.team_a
    assert task["status"] == "todo"
    assert (task["title"], task["description"]) == ("split off", "the rest")
    row = world.board.get_task(task["id"])
    assert row is not None and row["team_id"] == world.team_a

    # teamless run: the subtask stays teamless and inside the run's subtree
    data = await _ok(
        world.url,
        world.token_solo,
        "create_subtask",
        {"parentTaskId": world.solo["id"], "title": "solo part"},
    )
    assert data["task"]["teamId"] is None and data["task"]["description"] == ""
    listed = await _ok(world.url, world.token_solo, "list_tasks", {})
    assert data["task"]["id"] in _ids(listed["tasks"])


@pytest.mark.anyio
async def test_create_subtask_depth_cap(world: World):
    before = world.snapshot()
    # grandchild_a has depth 2: nothing may be created under it
    text = await _err(
        world.url,
        world.token_a,
        "create_subtask",
        {"parentTaskId": world.grandchild_a["id"], "title": "too deep"},
    )
    assert text == "depth cap reached: subtasks may nest at most 2 levels"
    assert world.snapshot() == before
    # depth 1 parent → a depth 2 subtask is fine
    data = await _ok(
        world.url,
        world.token_a,
        "create_subtask",
        {"parentTaskId": world.child_a["id"], "title": "just deep enough"},
    )
    assert world.board.depth(data["task"]["id"]) == 2
    text = await _err(
        world.url,
        world.token_a,
        "create_subtask",
        {"parentTaskId": data["task"]["id"], "title": "one more"},
    )
    assert text.startswith("depth cap reached")


@pytest.mark.anyio
async def test_create_subtask_outside_the_scope_is_refused(world: World):
    before = world.snapshot()
    for token, parent in (
        (world.token_a, world.root_b["id"]),
        (world.token_b, world.root_a["id"]),
        (world.token_solo, world.mission["id"]),
        (world.token_solo, world.solo_sibling["id"]),
        (world.token_a, "missing"),
    ):
        text = await _err(
            world.url, token, "create_subtask", {"parentTaskId": parent, "title": "x"}
        )
        assert text == f"not found: {parent}"
    text = await _err(
        world.url,
        world.token_a,
        "create_subtask",
        {"parentTaskId": world.root_a["id"], "title": " "},
    )
    assert text == "invalid args: title must not be empty"
    assert world.snapshot() == before


# --- add_comment -----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_add_comment_is_authored_by_the_runs_agent(world: World):
    data = await _ok(
        world.url, world.token_a, "add_comment", {"taskId": world.other_a["id"], "body": "on it"}
    )
    comment = data["comment"]
    assert comment["taskId"] == world.other_a["id"]
    assert comment["authorType"] == "agent"
    assert comment["authorAgentId"] == world.agent_a
    assert comment["body"] == "on it"
    stored = world.board.list_comments(world.other_a["id"])
    assert [(c["author_type"], c["author_agent_id"], c["body"]) for c in stored] == [
        ("agent", world.agent_a, "on it")
    ]


@pytest.mark.anyio
async def test_add_comment_outside_the_scope_is_refused(world: World):
    before = world.snapshot()
    for token, task_id in (
        (world.token_a, world.root_b["id"]),
        (world.token_solo, world.mission["id"]),
        (world.token_b, "missing"),
    ):
        text = await _err(world.url, token, "add_comment", {"taskId": task_id, "body": "hi"})
        assert text == f"not found: {task_id}"
    assert world.snapshot() == before


# --- update_task_status ----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_update_task_status_goes_through_the_state_machine(world: World):
    tid = world.other_a["id"]  # backlog
    data = await _ok(
        world.url, world.token_a, "update_task_status", {"taskId": tid, "status": "todo"}
    )
    assert data["task"]["status"] == "todo"
    assert world.board.get_task(tid)["status"] == "todo"

    text = await _err(
        world.url, world.token_a, "update_task_status", {"taskId": tid, "status": "done"}
    )
    assert text == "status change failed: illegal_transition"
    assert world.board.get_task(tid)["status"] == "todo"

    text = await _err(
        world.url, world.token_a, "update_task_status", {"taskId": tid, "status": "nah"}
    )
    assert text.startswith("status change failed: unknown status 'nah'")

    data = await _ok(
        world.url, world.token_a, "update_task_status", {"taskId": tid, "status": "cancelled"}
    )
    assert data["task"]["status"] == "cancelled" and data["task"]["completedAt"]
    text = await _err(
        world.url, world.token_a, "update_task_status", {"taskId": tid, "status": "todo"}
    )
    assert text == "status change failed: illegal_transition"


@pytest.mark.anyio
async def test_update_task_status_outside_the_scope_is_refused(world: World):
    before = world.snapshot()
    for token, task_id in (
        (world.token_a, world.root_b["id"]),
        (world.token_solo, world.solo_sibling["id"]),
        (world.token_solo, world.mission["id"]),
    ):
        text = await _err(
            world.url, token, "update_task_status", {"taskId": task_id, "status": "cancelled"}
        )
        assert text == f"not found: {task_id}"
    assert world.snapshot() == before


# --- concurrency and protocol eras -----------------------------------------------------------------


@pytest.mark.anyio
async def test_concurrent_runs_each_see_their_own_scope(world: World):
    expected = {
        world.token_a: _ids(world.board.list_tasks(team_id=world.team_a)),
        world.token_b: {world.root_b["id"]},
        world.token_solo: {world.solo["id"], world.solo_sub["id"]},
    }
    seen: list[tuple[str, set[str]]] = []

    async def one_shot(token: str) -> None:
        data = await _ok(world.url, token, "list_tasks", {})
        seen.append((token, _ids(data["tasks"])))

    async def long_session(token: str) -> None:
        async with connect(world.url, token) as client:
            for _ in range(8):
                result = await client.call_tool("list_tasks", {})
                assert not result.is_error
                seen.append((token, _ids(json.loads(result.content[0].text)["tasks"])))
                await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as tg:
        for token in expected:
            tg.start_soon(long_session, token)
            for _ in range(4):
                tg.start_soon(one_shot, token)

    assert len(seen) == 3 * (8 + 4)
    for token, ids in seen:
        assert ids == expected[token]


@pytest.mark.anyio
async def test_concurrent_writes_are_attributed_to_each_caller(world: World):
    async def comment(token: str, task_id: str, n: int) -> None:
        await _ok(world.url, token, "add_comment", {"taskId": task_id, "body": f"c{n}"})

    async with anyio.create_task_group() as tg:
        for n in range(5):
            tg.start_soon(comment, world.token_a, world.root_a["id"], n)
            tg.start_soon(comment, world.token_b, world.root_b["id"], n)
    a = world.board.list_comments(world.root_a["id"])
    b = world.board.list_comments(world.root_b["id"])
    assert {c["author_agent_id"] for c in a} == {world.agent_a} and len(a) == 5
    assert {c["author_agent_id"] for c in b} == {world.agent_b} and len(b) == 5


@pytest.mark.anyio
async def test_modern_protocol_clients_are_scoped_too(world: World):
    data = await _ok(world.url, world.token_b, "list_tasks", {}, mode="auto")
    assert _ids(data["tasks"]) == {world.root_b["id"]}
    text = await call_tool(
        world.url, world.token_b, "get_task", {"taskId": world.root_a["id"]}, mode="auto"
    )
    assert text.is_error and text.text == f"not found: {world.root_a['id']}"
    with pytest.raises(McpCallError) as info:
        await call_tool(world.url, "wrong", "list_tasks", {}, mode="auto")
    assert info.value.status == 401


def test_not_running_without_the_lifespan(tmp_path: Path):
    """Forgetting the host lifespan answers 503 JSON instead of crashing inside the SDK."""
    tokens = RunTokens()
    token = tokens.mint(RunScope("r", "t", None, "a", "mock"))

    def factory(_port: int) -> FastAPI:
        app = FastAPI()
        build_mcp_tasks(lambda: BoardStore(tmp_path / "x.db"), tokens).mount(app)
        return app

    with LiveServer(factory) as server, httpx.Client(base_url=server.url) as http:
        r = http.post(
            MCP_TASKS_PATH, json=INIT, headers={**MCP_HEADERS, "Authorization": f"Bearer {token}"}
        )
        assert r.status_code == 503
        assert r.json() == {"error": "the MCP tasks server is not running"}


@pytest.mark.anyio
async def test_the_host_app_serves_the_tasks_server(clawboo_host_factory):
    """Wired into ``create_app``: the host's run tokens, board and lifespan, behind its middleware."""
    server = clawboo_host_factory(plugins=[])
    host = server.app.state.host
    with server.client() as http:
        r = http.post("/api/board/tasks", json={"title": "wired"})
        assert r.status_code == 201, r.text
        task = r.json()["task"]
        r = http.post(MCP_TASKS_PATH, json=INIT, headers=MCP_HEADERS)
        assert r.status_code == 401 and r.json() == UNAUTHORIZED

    token = host.run_tokens.mint(RunScope("exec-1", task["id"], None, "agent-1", "mock"))
    url = mcp_tasks_url(server.port)
    assert await list_tools(url, token) == list(TOOL_NAMES)
    data = await _ok(url, token, "add_comment", {"taskId": task["id"], "body": "from the agent"})
    assert data["comment"]["authorAgentId"] == "agent-1"
    host.run_tokens.revoke(token)
    with pytest.raises(McpCallError) as info:
        await call_tool(url, token, "list_tasks", {})
    assert info.value.status == 401


@pytest.mark.anyio
async def test_the_run_token_and_granted_keys_never_reach_the_board(clawboo_host_factory):
    """An agent echoing its env through MCP writes: its run token and its runtime's keys
    (any shape, not only vendor-shaped ones) are redacted before anything is stored."""
    server = clawboo_host_factory()
    host = server.app.state.host
    key = (
        "plain" + "secretvalue" + "0123456789"
    )  # no vendor shape: only a known-value net catches it
    with server.client() as http:
        r = http.post("/api/runtimes/clawboo-native/connect", json={"apiKey": key})
        assert r.status_code == 200, r.text
        task = http.post("/api/board/tasks", json={"title": "wired"}).json()["task"]

    token = host.run_tokens.mint(RunScope("exec-1", task["id"], None, "agent-1", "clawboo-native"))
    url = mcp_tasks_url(server.port)
    leak = f"my env: MCP={token} KEY={key}"
    comment = await _ok(url, token, "add_comment", {"taskId": task["id"], "body": leak})
    sub = await _ok(
        url,
        token,
        "create_subtask",
        {"parentTaskId": task["id"], "title": f"t {token} {key}", "description": leak},
    )
    stored = json.dumps(
        [
            comment,
            sub,
            host.board.list_tasks(),
            host.board.list_comments(task["id"]),
        ]
    )
    assert token not in stored and key not in stored
    assert "[REDACTED]" in host.board.list_comments(task["id"])[0]["body"]
    db = b"".join(p.read_bytes() for p in server.app.state.host.config.data_dir.glob("clawboo.db*"))
    assert token.encode() not in db and key.encode() not in db
