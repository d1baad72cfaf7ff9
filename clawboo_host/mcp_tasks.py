"""The MCP tasks server (SPEC §5, run-flow §5): board tools for the agent of a live run.

While a run is live, its runtime's MCP client calls back into ``/api/mcp/tasks`` on the host's
loopback port (MCP Streamable HTTP, the official SDK's session manager) with
``Authorization: Bearer <run token>`` (:mod:`clawboo_host.run_tokens`). A small ASGI gate in
front of the SDK refuses any request without a live token (401 JSON) before the SDK sees it,
and stores the caller's :class:`~clawboo_host.run_tokens.RunScope` in that request's ASGI
scope; the SDK hands every message's HTTP request to the handler (``ctx.request``), so each
tool call reads the scope of the very request that carried it — two runs calling at once each
see their own. Sessions are also bound to the run that opened them (the SDK answers 404 for a
session id presented by another run).

Tools (results are 2-space pretty JSON text; failures are MCP tool errors, ``isError``):

- ``list_tasks(status?)`` → ``{"tasks": [Task]}``
- ``get_task(taskId)`` → ``{"task", "comments", "ancestors"}``
- ``create_subtask(parentTaskId, title, description?)`` → ``{"task"}`` (depth-capped)
- ``add_comment(taskId, body)`` → ``{"comment"}`` (authored by the run's agent)
- ``update_task_status(taskId, status)`` → ``{"task"}`` (through the state machine)

"In scope": when the run's task has a team, every task of that team; otherwise the run's own
task and its descendants. Anything else answers ``not found: <id>``, exactly like a real miss.

Wiring (the host): ``mcp = build_mcp_tasks(lambda: host.board, host.run_tokens)``;
``mcp.mount(app)`` (an exact route at ``/api/mcp/tasks`` for GET/POST/DELETE — no
trailing-slash redirect) and ``async with mcp.lifespan():`` inside the host app's lifespan
(a mounted app's own lifespan never runs).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

import anyio
from mcp import types
from mcp.server import Server, ServerRequestContext
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.transport_security import TransportSecuritySettings
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from . import __version__
from .board import states
from .board.store import BoardStore, UnknownReference, comment_json, task_json
from .mcp_lazy import MCP_TASKS_PATH
from .redaction import REDACTED, redact_known
from .run_tokens import RunScope, RunTokens

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_MAX_SUBTASK_DEPTH",
    "MCP_TASKS_PATH",
    "SCOPE_KEY",
    "TOOL_NAMES",
    "McpTasks",
    "build_mcp_tasks",
    "mcp_tasks_url",
]


#: ASGI scope key under which the gate stores the caller's :class:`RunScope`.
SCOPE_KEY = "clawboo.run_scope"
#: ASGI scope key for the caller's own bearer token: in memory only, so the tools can redact it.
TOKEN_KEY = "clawboo.run_token"

#: Subtasks may be created under a parent of depth < this (root = 0): run-flow §2.5.
DEFAULT_MAX_SUBTASK_DEPTH = 2

SERVER_NAME = "clawboo-tasks"
SERVER_VERSION = __version__

UNAUTHORIZED_MESSAGE = "MCP access needs a live run token"
NOT_RUNNING_MESSAGE = "the MCP tasks server is not running"

TOOL_NAMES = ("list_tasks", "get_task", "create_subtask", "add_comment", "update_task_status")


def mcp_tasks_url(port: int) -> str:
    """The URL a runtime's MCP client uses: always loopback, never derived from ``Host``."""
    return f"http://127.0.0.1:{port}{MCP_TASKS_PATH}"


# --- tool declarations ---------------------------------------------------------------------------

_STR = {"type": "string"}


def _schema(required: dict[str, str], optional: dict[str, str] | None = None) -> dict:
    props = {name: {**_STR, "description": desc} for name, desc in required.items()}
    props.update({name: {**_STR, "description": desc} for name, desc in (optional or {}).items()})
    return {
        "type": "object",
        "properties": props,
        "required": list(required),
        "additionalProperties": False,
    }


_TOOLS: tuple[types.Tool, ...] = (
    types.Tool(
        name="list_tasks",
        description=(
            "List the board tasks you may see: your team's tasks (or, without a team, your task "
            "and its subtasks), optionally only those with the given status."
        ),
        input_schema=_schema(
            {}, {"status": "only tasks with this status (" + ", ".join(states.STATUSES) + ")"}
        ),
    ),
    types.Tool(
        name="get_task",
        description="Read one task with its comments and its ancestor chain (parent first).",
        input_schema=_schema({"taskId": "the task id"}),
    ),
    types.Tool(
        name="create_subtask",
        description=(
            "Create a subtask (status todo, same team) under a task. Subtasks nest at most "
            f"{DEFAULT_MAX_SUBTASK_DEPTH} levels below a root task."
        ),
        input_schema=_schema(
            {"parentTaskId": "the parent task id", "title": "the subtask's title"},
            {"description": "what the subtask is about"},
        ),
    ),
    types.Tool(
        name="add_comment",
        description="Add a comment to a task, authored by you (the run's agent).",
        input_schema=_schema({"taskId": "the task id", "body": "the comment text"}),
    ),
    types.Tool(
        name="update_task_status",
        description=(
            "Move a task to another status through the board's state machine ("
            + ", ".join(states.STATUSES)
            + "); an illegal move is refused."
        ),
        input_schema=_schema({"taskId": "the task id", "status": "the new status"}),
    ),
)


class _ToolFailure(Exception):
    """A refusal the agent sees as the tool error text."""


def _ok(payload: Any) -> types.CallToolResult:
    text = json.dumps(payload, indent=2, ensure_ascii=False)
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)])


def _error(message: str) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=message)], is_error=True
    )


def _args(
    arguments: dict[str, Any] | None, required: tuple[str, ...], optional: tuple[str, ...] = ()
) -> dict[str, str | None]:
    """Validate a flat string-argument object: ``invalid args: …`` on any mismatch."""
    arguments = dict(arguments or {})
    unknown = sorted(set(arguments) - set(required) - set(optional))
    if unknown:
        raise _ToolFailure(f"invalid args: unexpected argument(s) {', '.join(unknown)}")
    out: dict[str, str | None] = {}
    for key in required + optional:
        value = arguments.get(key)
        if value is None:
            if key in required:
                raise _ToolFailure(f"invalid args: {key} is required")
            out[key] = None
            continue
        if not isinstance(value, str):
            raise _ToolFailure(f"invalid args: {key} must be a string")
        if key in required and not value.strip():
            raise _ToolFailure(f"invalid args: {key} must not be empty")
        out[key] = value
    return out


# --- scope -------------------------------------------------------------------------------------


def _in_scope(board: BoardStore, scope: RunScope, row: dict | None) -> bool:
    """Same team as the run's task; or, teamless, the run's task or one of its descendants."""
    if row is None:
        return False
    if scope.team_id is not None:
        return row["team_id"] == scope.team_id
    if row["id"] == scope.task_id:
        return True
    return any(a["id"] == scope.task_id for a in board.ancestors(row["id"]))


def _scoped_task(board: BoardStore, scope: RunScope, task_id: str) -> dict:
    row = board.get_task(task_id)
    if not _in_scope(board, scope, row):
        raise _ToolFailure(f"not found: {task_id}")
    return row  # type: ignore[return-value]


def _descendants_and_self(rows: list[dict], root_id: str) -> list[dict]:
    children: dict[str, list[str]] = {}
    for row in rows:
        if row["parent_task_id"] is not None:
            children.setdefault(row["parent_task_id"], []).append(row["id"])
    keep, stack = set(), [root_id]
    while stack:
        current = stack.pop()
        if current in keep:
            continue
        keep.add(current)
        stack.extend(children.get(current, ()))
    return [row for row in rows if row["id"] in keep]


# --- the tools (sync: they run in a worker thread, one board round-trip each) -----------------


class _Tools:
    def __init__(
        self,
        board_getter: Callable[[], BoardStore],
        max_depth: int,
        run_secrets: Callable[[RunScope], Iterable[str]] | None = None,
    ) -> None:
        self._board_getter = board_getter
        self._max_depth = max_depth
        self._run_secrets = run_secrets

    def run(
        self, name: str, scope: RunScope, arguments: dict[str, Any] | None, token: str | None = None
    ) -> Any:
        handler = getattr(self, f"_tool_{name}", None) if name in TOOL_NAMES else None
        if handler is None:
            raise _ToolFailure(f"unknown tool: {name}")
        return handler(self._board_getter(), scope, arguments, [token] if token else [])

    def _secrets(self, scope: RunScope, token_secrets: list[str]) -> list[str]:
        """The values to redact from what this run writes: its token and its runtime's keys."""
        secrets = list(token_secrets)
        if self._run_secrets is not None:
            try:
                secrets.extend(self._run_secrets(scope))
            except Exception:  # noqa: BLE001 - the shape net of redact_known still applies
                log.warning("could not list the run's secrets for redaction", exc_info=True)
        return secrets

    def _tool_list_tasks(
        self, board: BoardStore, scope: RunScope, arguments, token_secrets
    ) -> dict:
        status = _args(arguments, (), ("status",))["status"]
        if status is not None and not states.is_status(status):
            raise _ToolFailure(
                f"invalid args: unknown status '{status}' (one of {', '.join(states.STATUSES)})"
            )
        if scope.team_id is not None:
            rows = board.list_tasks(status=status, team_id=scope.team_id)
        else:
            rows = _descendants_and_self(board.list_tasks(), scope.task_id)
            if status is not None:
                rows = [r for r in rows if r["status"] == status]
        return {"tasks": [task_json(r) for r in rows]}

    def _tool_get_task(self, board: BoardStore, scope: RunScope, arguments, token_secrets) -> dict:
        task_id = _args(arguments, ("taskId",))["taskId"]
        row = _scoped_task(board, scope, task_id)
        ancestors = [a for a in board.ancestors(row["id"]) if _in_scope(board, scope, a)]
        return {
            "task": task_json(row),
            "comments": [comment_json(c) for c in board.list_comments(row["id"])],
            "ancestors": [task_json(a) for a in ancestors],
        }

    def _tool_create_subtask(
        self, board: BoardStore, scope: RunScope, arguments, token_secrets
    ) -> dict:
        args = _args(arguments, ("parentTaskId", "title"), ("description",))
        parent = _scoped_task(board, scope, args["parentTaskId"])
        # What an agent writes is stored redacted (an agent echoing its env must not land its
        # run token or keys in the database).
        secrets = self._secrets(scope, token_secrets)
        if board.depth(parent["id"]) >= self._max_depth:
            raise _ToolFailure(
                f"depth cap reached: subtasks may nest at most {self._max_depth} levels"
            )
        try:
            row = board.create_task(
                redact_known(args["title"].strip(), secrets) or REDACTED,
                description=redact_known(args["description"] or "", secrets),
                status=states.TODO,
                team_id=parent["team_id"],
                parent_task_id=parent["id"],
            )
        except UnknownReference as exc:  # the parent vanished meanwhile
            raise _ToolFailure(f"not found: {args['parentTaskId']}") from exc
        return {"task": task_json(row)}

    def _tool_add_comment(
        self, board: BoardStore, scope: RunScope, arguments, token_secrets
    ) -> dict:
        args = _args(arguments, ("taskId", "body"))
        row = _scoped_task(board, scope, args["taskId"])
        body = redact_known(args["body"], self._secrets(scope, token_secrets))
        comment = board.add_comment(
            row["id"], body, author_type="agent", author_agent_id=scope.agent_id
        )
        if comment is None:
            raise _ToolFailure(f"not found: {args['taskId']}")
        return {"comment": comment_json(comment)}

    def _tool_update_task_status(
        self, board: BoardStore, scope: RunScope, arguments, token_secrets
    ) -> dict:
        args = _args(arguments, ("taskId", "status"))
        row = _scoped_task(board, scope, args["taskId"])
        if not states.is_status(args["status"]):
            raise _ToolFailure(
                f"status change failed: unknown status '{args['status']}'"
                f" (one of {', '.join(states.STATUSES)})"
            )
        change = board.update_status(row["id"], args["status"])
        if not change.ok:
            if change.reason == "not_found":
                raise _ToolFailure(f"not found: {args['taskId']}")
            raise _ToolFailure(f"status change failed: {change.reason}")
        return {"task": task_json(change.task)}


# --- the HTTP side -------------------------------------------------------------------------------


def _bearer(scope: Scope) -> str | None:
    for key, value in scope.get("headers") or ():
        if key == b"authorization":
            scheme, _, token = value.decode("latin-1").strip().partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            return None
    return None


def _loopback_security() -> TransportSecuritySettings:
    """DNS-rebinding protection that admits loopback hosts on any port (and no others)."""
    hosts = ["127.0.0.1", "localhost", "[::1]"]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=hosts + [f"{h}:*" for h in hosts],
        allowed_origins=[f"http://{h}" for h in hosts] + [f"http://{h}:*" for h in hosts],
    )


class _TokenGate:
    """ASGI: a live run token or 401, then the SDK with the caller's scope in the ASGI scope."""

    def __init__(self, owner: McpTasks) -> None:
        self._owner = owner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # pragma: no cover - routes only deliver http here
            return
        run_scope = self._owner.tokens.lookup(_bearer(scope))
        if run_scope is None:
            response = JSONResponse(
                {"error": UNAUTHORIZED_MESSAGE},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="clawboo-mcp"'},
            )
            await response(scope, receive, send)
            return
        if not self._owner.running:
            await JSONResponse({"error": NOT_RUNNING_MESSAGE}, status_code=503)(
                scope, receive, send
            )
            return
        inner = dict(scope)
        inner[SCOPE_KEY] = run_scope
        inner[TOKEN_KEY] = _bearer(scope)  # only so the tools can redact it from what they store
        # The SDK binds a session to the principal that opened it (a session id presented
        # by another run answers 404). The token itself is never put here.
        principal = f"run:{run_scope.run_id}"
        inner["user"] = AuthenticatedUser(
            AccessToken(token=principal, client_id=principal, scopes=[], subject=principal)
        )
        await self._owner.session_manager.handle_request(inner, receive, send)


class McpTasks:
    """The tasks server: ``asgi_app`` to route at :data:`MCP_TASKS_PATH`, ``lifespan()`` to run.

    ``lifespan()`` runs the SDK's session manager and can be entered once per instance (build
    a new one per app).
    """

    def __init__(
        self,
        board_getter: Callable[[], BoardStore],
        tokens: RunTokens,
        *,
        max_depth: int = DEFAULT_MAX_SUBTASK_DEPTH,
        session_idle_timeout: float = 1800.0,
        run_secrets: Callable[[RunScope], Iterable[str]] | None = None,
    ) -> None:
        self.tokens = tokens
        self._tools = _Tools(board_getter, max_depth, run_secrets)
        self.server: Server[Any] = Server(
            SERVER_NAME,
            version=SERVER_VERSION,
            instructions=(
                "Board tools for this run: read and comment on tasks, create subtasks, move "
                "task status. You only see your run's team (or your task's subtree)."
            ),
            get_tool_input_schema=self._input_schema,
            on_list_tools=self._on_list_tools,
            on_call_tool=self._on_call_tool,
        )
        # Builds the session manager; the Starlette app it returns is not used: the gate calls
        # the session manager directly, so the path is whatever route the host gives us.
        self.server.streamable_http_app(
            streamable_http_path=MCP_TASKS_PATH,
            transport_security=_loopback_security(),
            session_idle_timeout=session_idle_timeout,
        )
        self.session_manager = self.server.session_manager
        self.asgi_app: ASGIApp = _TokenGate(self)
        self.running = False

    @asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        """Run the session manager; enter it in the HOST app's lifespan."""
        async with self.session_manager.run():
            self.running = True
            try:
                yield
            finally:
                self.running = False

    def route(self, path: str = MCP_TASKS_PATH) -> Route:
        """An exact route (GET/POST/DELETE) for ``asgi_app``: no trailing-slash redirect."""
        return Route(
            path, self.asgi_app, methods=["GET", "POST", "DELETE"], include_in_schema=False
        )

    def mount(self, app: Any, path: str = MCP_TASKS_PATH) -> None:
        """Add :meth:`route` to a Starlette/FastAPI ``app``."""
        app.router.routes.append(self.route(path))

    # --- SDK handlers ---------------------------------------------------------------------------

    @staticmethod
    def _input_schema(name: str) -> dict | None:
        return next((dict(t.input_schema) for t in _TOOLS if t.name == name), None)

    async def _on_list_tools(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=list(_TOOLS))

    async def _on_call_tool(
        self, ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        request = ctx.request
        run_scope = getattr(request, "scope", {}).get(SCOPE_KEY) if request is not None else None
        if not isinstance(run_scope, RunScope):
            return _error(UNAUTHORIZED_MESSAGE)
        try:
            token = getattr(request, "scope", {}).get(TOKEN_KEY)
            payload = await anyio.to_thread.run_sync(
                self._tools.run, params.name, run_scope, params.arguments, token
            )
        except _ToolFailure as exc:
            return _error(str(exc))
        except Exception:
            log.exception("MCP tool %r failed (run %s)", params.name, run_scope.run_id)
            return _error(f"internal error in {params.name}")
        return _ok(payload)


def build_mcp_tasks(
    board_getter: Callable[[], BoardStore],
    tokens: RunTokens,
    *,
    max_depth: int = DEFAULT_MAX_SUBTASK_DEPTH,
    run_secrets: Callable[[RunScope], Iterable[str]] | None = None,
) -> McpTasks:
    """The tasks server over the board returned by ``board_getter()`` (called per tool call).

    ``run_secrets(scope)``, when given, lists the key values the run's runtime is granted;
    they are redacted (with the run's own token) from everything a tool stores.
    """
    return McpTasks(board_getter, tokens, max_depth=max_depth, run_secrets=run_secrets)
