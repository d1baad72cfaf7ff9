"""The OpenAPI contract (``/openapi.json``): request bodies, responses and errors per route.

The models here only *describe*: routes still read bodies with ``json_body`` and validate
field by field (exact messages, lenient where docs/api.md says so), and return plain dicts,
so declaring a shape never changes what a route accepts or answers. ``e2e/schema`` fuzzes
the live server against this document. Models are open (extra fields allowed), so a new
field (e.g. a task's ``verifyCommand``) is one line here and breaks no client.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from ..board import states
from ..board.vocabulary import AUTHOR_TYPES, BUDGET_MODES

Id = str
Timestamp = str

# ── errors ──────────────────────────────────────────────────────────────────────────────────


class ErrorBody(BaseModel):
    """Every error: ``{"error": "<message>"}`` (some routes add fields, e.g. ``ok``)."""

    error: str


class RunRefusal(BaseModel):
    """A run refused after validation: ``{"ok": false, "reason": ...}``."""

    ok: Literal[False]
    reason: Literal[
        "not_found",
        "conflict",
        "too_deep",
        "connected_substrate",
        "not_installed",
        "budget_paused",
        "workspace_unavailable",
    ]
    error: str | None = Field(
        default=None, description="With `not_installed`: which binary was not found."
    )


ERROR_MEANINGS = {
    400: "Invalid request: malformed JSON, a body that is not an object, or a bad field.",
    401: "The access token is required or wrong (only when CLAWBOO_ACCESS_TOKEN is set).",
    403: "Cross-origin request blocked (Host, Origin or Sec-Fetch-Site not the server's own).",
    404: "Not found.",
    409: "Conflict with the current state.",
    413: "Request body too large (limit 2 MiB).",
    429: "Too many requests (per-IP rate limit).",
    500: "The server could not do it (e.g. a broken vault); the message names no file path.",
    503: "The board is not available: the host could not open it (see the host's log).",
}
#: Answered by the HTTP guards before any route runs, on every ``/api/`` operation.
GUARD_ERRORS = (401, 403, 413, 429)


ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}


def errors(*codes: int, **meanings: str) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for error codes, each ``{"error": str}`` JSON (spelled out, so
    an SSE route's errors are not given its stream media type)."""
    return {
        code: {
            "description": meanings.get(f"e{code}", ERROR_MEANINGS.get(code, "Error.")),
            "content": ERROR_CONTENT,
        }
        for code in codes
    }


def ok(model: Any, status: int = 200, description: str = "Success.") -> dict[int, dict]:
    return {status: {"model": model, "description": description}}


def sse_event_schema(frame: type[BaseModel]) -> dict[str, Any]:
    """One SSE event (OpenAPI 3.1 reads an event-stream ``schema`` per event): a ``data``
    line holding one compact JSON frame shaped like ``frame``."""
    return {
        "type": "object",
        "required": ["data"],
        "properties": {
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": TypeAdapter(frame).json_schema(),
            }
        },
    }


def event_stream(description: str, *, frame: type[BaseModel], status: int = 200) -> dict:
    """An SSE response: ``data: <compact JSON>\\n\\n`` frames (docs/api.md lists them)."""
    return {
        status: {
            "description": description,
            "content": {"text/event-stream": {"schema": sse_event_schema(frame)}},
        }
    }


class InstallFrame(BaseModel):
    """``progress {step, message}``, ``output {line}``, ``error {code, message}`` or
    ``complete {success, warning?}``."""

    type: Literal["progress", "output", "error", "complete"]


class RunFrame(BaseModel):
    """First ``status {phase: "started", execId, taskId}`` (the id to abort the run with),
    then a runtime event (``text-delta``, ``tool-call``, ``tool-result``, ``status``,
    ``cost``, ``error``, ...) per frame, ``verification`` frames (``phase`` ``start``/``end``),
    and last the ``result`` frame, which carries the run's JSON result."""

    type: str


def request_body(model: type[BaseModel], *, required: bool = False) -> dict[str, Any]:
    """``openapi_extra`` declaring a JSON request body shaped like ``model`` (doc only)."""
    schema = TypeAdapter(model).json_schema()
    return {
        "requestBody": {
            "required": required,
            "content": {"application/json": {"schema": schema}},
        }
    }


# ── request bodies ──────────────────────────────────────────────────────────────────────────


class _Body(BaseModel):
    model_config = ConfigDict(extra="allow")


def non_blank(default: Any = ..., **kwargs: Any) -> Any:
    """A string field that must hold a non-whitespace character (routes trim it)."""
    return Field(default, pattern=r"\S", **kwargs)


def lenient(description: str) -> Any:
    """A string field of the runtimes routes: trimmed, and any non-string reads as ``""``
    (as the reference does), so the schema admits any JSON value."""
    return Field(None, description=f"{description} A string; any other value reads as empty.")


class ConnectBody(_Body):
    apiKey: Any = lenient("The key to store (trimmed).")
    provider: Any = lenient("Native runtime: which provider's slot.")


class HealthcheckBody(_Body):
    provider: Any = lenient("The provider to check (native: default anthropic).")
    apiKey: Any = lenient("The key to check; blank checks the stored one.")


class RunBody(_Body):
    taskId: str = non_blank()
    assigneeAgentId: Any = Field(
        None,
        description="`^[A-Za-z0-9_-]+$`, used untrimmed; a non-string means the runtime id.",
    )
    repoPath: Any = lenient("Absolute path of a git working tree.")
    kind: Any = lenient("`code` (default) or another kind.")
    model: Any = lenient("A model name for the runtime.")
    keepForResume: Any = Field(None, description="Only `true` keeps the worktree for resume.")


class SeedTeamBody(_Body):
    provider: Any = lenient("The provider for the team's agents.")
    model: Any = lenient("The model for the team's agents.")


class CreateTaskBody(_Body):
    title: str = non_blank()
    description: str | None = None
    status: Literal[states.BACKLOG, states.TODO] | None = None  # type: ignore[valid-type]
    priority: int | None = Field(None, ge=-(2**63), lt=2**63)
    teamId: str | None = non_blank(None)
    parentTaskId: str | None = non_blank(None)
    verifyCommand: str | None = Field(
        None, description="Run after a changing run before `done`; blank or null means none."
    )


class PatchTaskBody(_Body):
    title: str | None = non_blank(None)
    description: str | None = None
    status: Literal[tuple(states.STATUSES)] | None = None  # type: ignore[valid-type]
    priority: int | None = Field(None, ge=-(2**63), lt=2**63)
    verifyCommand: str | None = Field(
        None, description="Absent keeps the task's command; null or blank clears it."
    )


class CommentBody(_Body):
    body: str = non_blank()
    authorType: Literal[tuple(AUTHOR_TYPES)] | None = None  # type: ignore[valid-type]
    authorAgentId: str | None = non_blank(None)


class BudgetBody(_Body):
    limitUsd: float = Field(ge=0, le=1e12)
    mode: Literal[tuple(BUDGET_MODES)] | None = None  # type: ignore[valid-type]


# ── responses ───────────────────────────────────────────────────────────────────────────────


class Task(BaseModel):
    id: Id
    title: str
    description: str
    status: Literal[tuple(states.STATUSES)]  # type: ignore[valid-type]
    priority: int
    teamId: Id | None
    parentTaskId: Id | None
    assigneeAgentId: str | None
    assigneeRuntime: str | None
    worktreeRef: str | None
    branchRef: str | None
    createdAt: Timestamp
    updatedAt: Timestamp
    completedAt: Timestamp | None
    verifyCommand: str | None


class Comment(BaseModel):
    id: Id
    taskId: Id
    authorAgentId: str | None
    authorType: str
    body: str
    createdAt: Timestamp


class Execution(BaseModel):
    id: Id
    taskId: Id
    runtimeId: str
    status: str
    startedAt: Timestamp
    completedAt: Timestamp | None
    summary: str | None
    error: str | None
    costUsd: float | None
    inputTokens: int | None
    outputTokens: int | None


class Workspace(BaseModel):
    id: Id
    taskId: Id
    repoPath: str
    branch: str
    worktreePath: str
    status: str


class Team(BaseModel):
    id: Id
    name: str
    leaderAgentId: str | None
    createdAt: Timestamp


class Agent(BaseModel):
    id: str
    name: str
    runtime: str
    teamId: Id | None
    role: str | None
    provider: str | None
    model: str | None


class Budget(BaseModel):
    scope: str
    scopeId: str
    limitUsd: float
    spentUsd: float
    mode: str
    status: str


class TaskEnvelope(BaseModel):
    task: Task


class TaskList(BaseModel):
    tasks: list[Task]


class TaskDetail(BaseModel):
    task: Task
    comments: list[Comment]
    executions: list[Execution]
    workspace: Workspace | None


class CommentEnvelope(BaseModel):
    comment: Comment


class TeamList(BaseModel):
    teams: list[Team]


class TeamDetail(BaseModel):
    team: Team
    agents: list[Agent]


class AgentList(BaseModel):
    agents: list[Agent]


class BudgetEnvelope(BaseModel):
    budget: Budget


class BudgetList(BaseModel):
    budgets: list[Budget]


class Health(BaseModel):
    ok: bool
    message: str | None = None


class RuntimeRow(BaseModel):
    id: str
    participantKind: str
    capabilities: dict[str, Any]
    health: Health
    name: str
    installed: bool
    binPath: str | None
    builtIn: bool
    authKind: str
    envVar: str | None
    hasCredential: bool
    hasVaultCredential: bool
    loggedIn: bool
    codexAuth: bool
    installCommand: str | None
    docsUrl: str | None
    connectionState: Literal["not-installed", "needs-auth", "needs-login", "ready"]


class PublicDescriptor(BaseModel):
    id: str
    name: str
    healthBin: str | None
    packageManager: str | None
    installCommand: str | None
    builtIn: bool
    authKind: str
    envVar: str | None
    docsUrl: str | None
    headlessAuth: Any = None


class RuntimeList(BaseModel):
    runtimes: list[RuntimeRow]
    available: list[PublicDescriptor]


class ConnectResult(BaseModel):
    ok: Literal[True]
    connectionState: str
    loginCommand: str | None = None


class HealthcheckResult(BaseModel):
    ok: bool
    error: str | None = None


class Usage(BaseModel):
    inputTokens: int | None
    outputTokens: int | None


class Verification(BaseModel):
    """The last verify-command attempt of a run."""

    command: str
    attempts: int
    passed: bool
    exitCode: int | None
    outputTail: str


class RunResult(BaseModel):
    ok: Literal[True]
    runtimeId: str
    execId: str
    doneReason: Literal["success", "max_turns", "aborted", "error"]
    status: str
    summary: str | None
    costUsd: float | None
    usedWorktree: bool
    degradations: list[str]
    verification: Verification | None
    usage: Usage
    costEstimated: bool


class AbortResult(BaseModel):
    """Stopped here (``{ok, execId}``), or asked of the host that runs it (``hostId``,
    ``requested: true``), which polls for the request and stops the run."""

    ok: Literal[True]
    execId: str
    hostId: str | None = None
    requested: bool | None = None


class HostRun(BaseModel):
    id: Id
    taskId: Id
    runtimeId: str
    startedAt: Timestamp


class BoardHost(BaseModel):
    """A host process on this board; ``startedAt``/``heartbeatAt`` are the database's clock."""

    id: Id
    name: str
    url: str | None
    startedAt: Timestamp
    heartbeatAt: Timestamp
    leaseS: float
    alive: bool
    self: bool
    runningExecutions: list[HostRun]


class HostList(BaseModel):
    hosts: list[BoardHost]


class SeededTeam(BaseModel):
    teamId: Id
    leaderAgentId: str
    specialistAgentId: str | None


# ── the document ────────────────────────────────────────────────────────────────────────────


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, corrected: no ``422 HTTPValidationError`` (validation failures are
    ``400 {"error"}`` here) and the guards' errors on every ``/api/`` operation."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    doc = get_openapi(
        title=app.title,
        version=app.version,
        description=(
            'Every error is JSON `{"error": "<message>"}`; see docs/api.md for each route\'s '
            "messages and docs/security.md for the guards."
        ),
        routes=app.routes,
    )
    guard = {str(code): response for code, response in errors(*GUARD_ERRORS).items()}
    for path, operations in doc.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            validation = responses.get("422", {})
            if "HTTPValidationError" in str(validation):
                del responses["422"]
            if path.startswith("/api/"):
                for code, response in guard.items():
                    responses.setdefault(code, response)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas.setdefault("ErrorBody", TypeAdapter(ErrorBody).json_schema())
    app.openapi_schema = doc
    return doc
