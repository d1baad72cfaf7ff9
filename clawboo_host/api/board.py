"""The board's minimal REST surface (SPEC §5): tasks, comments, teams, agents, budgets.

Thin: each handler validates the body (every field before any write, so bad input changes
nothing), calls one store method in a worker thread, and renders camelCase JSON.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Query, Request

from ..board import states
from ..board.calls import board_call
from ..board.common import UNCHANGED, UnknownReference
from ..board.records import (
    agent_json,
    budget_json,
    comment_json,
    execution_json,
    task_json,
    team_json,
    workspace_json,
)
from ..board.vocabulary import AUTHOR_TYPES, BUDGET_MODES, BUDGET_SCOPES
from . import contract as c
from .deps import json_body, started_host
from .errors import ApiError

router = APIRouter(responses=c.errors(503))  # every route here needs the board

CREATE_STATUSES = (states.BACKLOG, states.TODO)
_MISSING = object()


async def _call(request: Request, method: str, *args: Any, **kwargs: Any) -> Any:
    store = (await started_host(request)).board
    return await board_call(getattr(store, method), *args, **kwargs)


def _one_of(values: tuple[str, ...] | list[str]) -> str:
    return ", ".join(values)


def _optional_str(body: dict, name: str) -> str | None:
    """A string field that may be absent or null; anything else is a 400."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ApiError(400, f"{name} must be a string")
    return value


def _optional_id(body: dict, name: str) -> str | None:
    value = _optional_str(body, name)
    if value is None:
        return None
    value = value.strip()
    if not value:
        raise ApiError(400, f"{name} must be a non-empty string")
    return value


def _optional_int(body: dict, name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, f"{name} must be an integer")
    if not -(2**63) <= value < 2**63:
        raise ApiError(400, f"{name} is out of range")
    return value


def _title(body: dict, *, required: bool) -> str | None:
    value = body.get("title", _MISSING)
    if value is _MISSING or (value is None and not required):
        if required:
            raise ApiError(400, "title is required")
        return None
    if not isinstance(value, str) or not value.strip():
        raise ApiError(400, "title is required" if required else "title must be a non-empty string")
    return value.strip()


def _status(value: Any, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ApiError(400, f"status must be one of {_one_of(allowed)}")
    return value


def _task_or_404(task: dict | None) -> dict:
    if task is None:
        raise ApiError(404, "task not found")
    return task


# --- tasks ----------------------------------------------------------------------------------


@router.post(
    "/api/board/tasks",
    status_code=201,
    response_model=None,
    responses={**c.ok(c.TaskEnvelope, 201, "The created task."), **c.errors(400)},
    openapi_extra=c.request_body(c.CreateTaskBody, required=True),
)
async def create_task(request: Request) -> dict:
    body = await json_body(request)
    title = _title(body, required=True)
    description = _optional_str(body, "description") or ""
    status = states.TODO if body.get("status") is None else _status(body["status"], CREATE_STATUSES)
    priority = _optional_int(body, "priority") or 0
    team_id = _optional_id(body, "teamId")
    parent_task_id = _optional_id(body, "parentTaskId")
    verify_command = _optional_str(body, "verifyCommand")
    try:
        task = await _call(
            request,
            "create_task",
            title,
            description=description,
            status=status,
            priority=priority,
            team_id=team_id,
            parent_task_id=parent_task_id,
            verify_command=verify_command,
        )
    except UnknownReference as exc:
        raise ApiError(400, str(exc)) from None
    return {"task": task_json(task)}


@router.get(
    "/api/board/tasks",
    response_model=None,
    responses={**c.ok(c.TaskList), **c.errors(400)},
)
async def list_tasks(
    request: Request,
    status: str | None = Query(
        None,
        description="Only tasks in this status (empty: every status).",
        json_schema_extra={"enum": ["", *states.STATUSES]},
    ),
    teamId: str | None = Query(None, description="Only this team's tasks."),  # noqa: N803
) -> dict:
    status = status or None
    team_id = teamId or None
    if status is not None and not states.is_status(status):
        raise ApiError(400, f"status must be one of {_one_of(states.STATUSES)}")
    tasks = await _call(request, "list_tasks", status=status, team_id=team_id)
    return {"tasks": [task_json(t) for t in tasks]}


@router.get(
    "/api/board/tasks/{task_id}",
    response_model=None,
    responses={**c.ok(c.TaskDetail), **c.errors(404)},
)
async def get_task(request: Request, task_id: str) -> dict:
    detail = await _call(request, "task_detail", task_id)
    if detail is None:
        raise ApiError(404, "task not found")
    workspace = detail["workspace"]
    return {
        "task": task_json(detail["task"]),
        "comments": [comment_json(c) for c in detail["comments"]],
        "executions": [execution_json(e) for e in detail["executions"]],
        "workspace": workspace_json(workspace) if workspace is not None else None,
    }


@router.patch(
    "/api/board/tasks/{task_id}",
    response_model=None,
    responses={
        **c.ok(c.TaskEnvelope),
        **c.errors(400, 404, 409, e409="An illegal status change (nothing changes)."),
    },
    openapi_extra=c.request_body(c.PatchTaskBody),
)
async def patch_task(request: Request, task_id: str) -> dict:
    body = await json_body(request)
    status = None if body.get("status") is None else _status(body["status"], states.STATUSES)
    title = _title(body, required=False)
    description = _optional_str(body, "description")
    priority = _optional_int(body, "priority")
    verify_command = _optional_str(body, "verifyCommand") if "verifyCommand" in body else UNCHANGED
    change = await _call(
        request,
        "patch_task",
        task_id,
        status=status,
        title=title,
        description=description,
        priority=priority,
        verify_command=verify_command,
    )
    if change.reason == "not_found":
        raise ApiError(404, "task not found")
    if change.reason == "illegal_transition":
        raise ApiError(409, f"illegal status change: {change.previous} → {status}")
    return {"task": task_json(change.task)}


@router.post(
    "/api/board/tasks/{task_id}/comments",
    status_code=201,
    response_model=None,
    responses={**c.ok(c.CommentEnvelope, 201, "The new comment."), **c.errors(400, 404)},
    openapi_extra=c.request_body(c.CommentBody, required=True),
)
async def add_comment(request: Request, task_id: str) -> dict:
    body = await json_body(request)
    text = body.get("body")
    if not isinstance(text, str) or not text.strip():
        raise ApiError(400, "body is required")
    author_type = body.get("authorType")
    if author_type is None:
        author_type = "user"
    elif not isinstance(author_type, str) or author_type not in AUTHOR_TYPES:
        raise ApiError(400, f"authorType must be one of {_one_of(AUTHOR_TYPES)}")
    author_agent_id = _optional_id(body, "authorAgentId")
    comment = await _call(
        request,
        "add_comment",
        task_id,
        text,
        author_type=author_type,
        author_agent_id=author_agent_id,
    )
    if comment is None:
        raise ApiError(404, "task not found")
    return {"comment": comment_json(comment)}


# --- teams and agents -----------------------------------------------------------------------


@router.get("/api/teams", response_model=None, responses=c.ok(c.TeamList))
async def list_teams(request: Request) -> dict:
    teams = await _call(request, "list_teams")
    return {"teams": [team_json(t) for t in teams]}


@router.get(
    "/api/teams/{team_id}",
    response_model=None,
    responses={**c.ok(c.TeamDetail), **c.errors(404)},
)
async def get_team(request: Request, team_id: str) -> dict:
    detail = await _call(request, "team_detail", team_id)
    if detail is None:
        raise ApiError(404, "team not found")
    return {"team": team_json(detail["team"]), "agents": [agent_json(a) for a in detail["agents"]]}


@router.get("/api/agents", response_model=None, responses=c.ok(c.AgentList))
async def list_agents(
    request: Request,
    teamId: str | None = Query(None, description="Only this team's agents."),  # noqa: N803
) -> dict:
    team_id = teamId or None
    agents = await _call(request, "list_agents", team_id=team_id)
    return {"agents": [agent_json(a) for a in agents]}


# --- budgets --------------------------------------------------------------------------------


@router.put(
    "/api/budgets/{scope}/{scope_id}",
    response_model=None,
    responses={**c.ok(c.BudgetEnvelope), **c.errors(400)},
    openapi_extra=c.request_body(c.BudgetBody, required=True),
)
async def put_budget(
    request: Request,
    scope: str = Path(json_schema_extra={"enum": list(BUDGET_SCOPES)}),
    scope_id: str = Path(json_schema_extra={"pattern": r"\S"}),
) -> dict:
    if scope not in BUDGET_SCOPES:
        raise ApiError(400, f"scope must be one of {_one_of(BUDGET_SCOPES)}")
    if not scope_id.strip():
        raise ApiError(400, "a budget needs a scope id")
    body = await json_body(request)
    limit = body.get("limitUsd")
    # Compared before any float() so a huge JSON integer is a 400, not an OverflowError;
    # NaN and the infinities fail the chained comparison too.
    if isinstance(limit, bool) or not isinstance(limit, int | float) or not 0 <= limit <= 1e12:
        raise ApiError(400, "limitUsd must be a number >= 0")
    mode = body.get("mode")
    if mode is None:  # keep an existing budget's mode; a new one warns
        existing = await _call(request, "get_budget", scope, scope_id)
        mode = existing["mode"] if existing else "warn"
    elif not isinstance(mode, str) or mode not in BUDGET_MODES:
        raise ApiError(400, f"mode must be one of {_one_of(BUDGET_MODES)}")
    budget = await _call(request, "put_budget", scope, scope_id, float(limit), mode)
    return {"budget": budget_json(budget)}


@router.get("/api/budgets", response_model=None, responses=c.ok(c.BudgetList))
async def list_budgets(request: Request) -> dict:
    budgets = await _call(request, "list_budgets")
    return {"budgets": [budget_json(b) for b in budgets]}
