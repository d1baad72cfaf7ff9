"""Small helpers every router uses to reach the host's services and read JSON bodies."""

from __future__ import annotations

import json
from contextlib import asynccontextmanager

import anyio
from fastapi import Request

from ..host import Host
from ..plugin_api.types import AbortSignal
from ..run import ASSIGNEE_PATTERN, RunRequest
from .errors import ApiError


def host_of(request: Request) -> Host:
    return request.app.state.host


async def get_host(request: Request) -> Host:
    """The ``Depends`` form of :func:`host_of`. Async, so FastAPI calls it inline: a plain
    ``def`` dependency costs every request a hop to a worker thread and back."""
    return host_of(request)


async def started_host(request: Request) -> Host:
    """The host once its board is open and crash recovery has run: a route that reads or
    changes the board, or starts a run, waits here while the host is still starting."""
    host = host_of(request)
    await host.board_started()
    return host


async def json_body(request: Request) -> dict:
    """The request's JSON object; an empty body reads as ``{}``.

    A body sent without ``Content-Type: application/json`` (curl's ``-d`` default) is still
    accepted when it is JSON, so a forgotten header does not silently drop the fields.
    Anything that is not a JSON object is a 400.
    """
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
        # A lone surrogate escape ("\ud800") parses but cannot be stored, encrypted or
        # echoed as UTF-8; refuse it here rather than crash later with a 500.
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except RecursionError:  # absurdly deep nesting: not something any route accepts
        raise ApiError(400, "malformed JSON body") from None
    except UnicodeEncodeError:
        raise ApiError(400, "malformed JSON body") from None
    except (ValueError, UnicodeDecodeError):
        if "json" in request.headers.get("content-type", "").lower():
            raise ApiError(400, "malformed JSON body") from None
        raise ApiError(
            400, "the request body must be JSON (Content-Type: application/json)"
        ) from None
    if not isinstance(body, dict):
        raise ApiError(400, "JSON body must be an object")
    return body


def text_field(body: dict, name: str) -> str:
    """A trimmed string field; anything that is not a string reads as ``''``."""
    value = body.get(name)
    return value.strip() if isinstance(value, str) else ""


def parse_run_request(body: dict, default_agent: str) -> RunRequest:
    """Validate a run body: 400 for a missing taskId or an unsafe assigneeAgentId."""
    task_id = body.get("taskId")
    if not isinstance(task_id, str) or not task_id.strip():
        raise ApiError(400, "taskId is required")
    agent = body.get("assigneeAgentId")
    agent = agent if isinstance(agent, str) else default_agent
    if not ASSIGNEE_PATTERN.fullmatch(agent):  # `$` alone would admit a trailing "\n"
        raise ApiError(400, "invalid assigneeAgentId")

    return RunRequest(
        task_id=task_id.strip(),
        agent_id=agent,
        repo_path=text_field(body, "repoPath") or None,
        kind=text_field(body, "kind") or "code",
        model=text_field(body, "model") or None,
        keep_for_resume=body.get("keepForResume") is True,
    )


@asynccontextmanager
async def abort_on_disconnect(request: Request, abort: AbortSignal):
    """Set ``abort`` if the client hangs up while the block runs (the body is already read)."""

    async def watch() -> None:
        while True:
            message = await request.receive()
            if message["type"] == "http.disconnect":
                abort.set("client disconnected")
                return

    async with anyio.create_task_group() as tg:
        tg.start_soon(watch)
        try:
            yield
        finally:
            tg.cancel_scope.cancel()
