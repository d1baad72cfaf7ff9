"""``/api/runtimes``: list, connect, disconnect (install, healthcheck and run live beside)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse, Response
from starlette.background import BackgroundTask

from ..errors import UnknownRuntime
from ..host import Host
from ..plugin_api.types import AbortSignal
from ..run import RunRefused
from . import contract as c
from .deps import (
    abort_on_disconnect,
    get_host,
    host_of,
    json_body,
    parse_run_request,
    started_host,
    text_field,
)
from .errors import error_response
from .sse import EventStream

router = APIRouter(prefix="/api/runtimes")


async def runtime_id(
    id: str = Path(
        description="A runtime id (case-sensitive).", examples=["claude-code", "clawboo-native"]
    ),
    host: Host = Depends(get_host),
) -> str:
    """The path's runtime id, or 404 for an unknown, reserved or wrongly-cased id (async:
    answered inline, not on a worker thread)."""
    if host.registry.get(id) is None:
        raise UnknownRuntime(id)
    return id


def unknown_runtime(request: Request) -> UnknownRuntime | None:
    """For a 404/405 under ``/api/runtimes/<id>/``: the unknown-runtime error when ``<id>``
    names no runtime, so an unknown id reads the same on every sub-path and method."""
    prefix = f"{router.prefix}/"
    path = request.url.path
    if not path.startswith(prefix) or "/" not in path[len(prefix) :]:
        return None
    rid = path[len(prefix) :].split("/", 1)[0]
    return UnknownRuntime(rid) if host_of(request).registry.get(rid) is None else None


@router.get("", response_model=None, responses=c.ok(c.RuntimeList))
async def list_runtimes(request: Request) -> Response:
    """From the warm status snapshot (``status_snapshot.py``), already encoded. Once the
    first list is sent, the board may start (``Host.start``)."""
    # The host comes from the request, not ``Depends``: on this hot path resolving a
    # dependency costs more than the snapshot lookup itself.
    host = host_of(request)
    body = await host.status_snapshot.list_body()
    after = None if host.board_wanted else BackgroundTask(host.want_board)
    return Response(body, media_type="application/json", background=after)


@router.post(
    "/{id}/install",
    response_model=None,
    status_code=200,
    response_class=EventStream,
    responses={
        **c.event_stream("Install progress frames (docs/api.md).", frame=c.InstallFrame),
        **c.errors(
            400,
            404,
            409,
            e400="The runtime is built in: nothing to install.",
            e404="Unknown runtime.",
            e409="An install of this runtime is already running.",
        ),
    },
    openapi_extra={"description": "The request body is ignored."},
)
async def install(rid: str = Depends(runtime_id), host: Host = Depends(get_host)) -> EventStream:
    host.installer.reserve(rid)  # 400 built-in / 409 already running, before any stream

    def done() -> None:
        host.installer.release(rid)
        host.status_snapshot.invalidate()

    return EventStream(lambda emit: host.installer.run(rid, emit), on_close=done)


@router.post(
    "/{id}/connect",
    response_model=None,
    responses={
        **c.ok(c.ConnectResult),
        **c.errors(400, 404, 500, e404="Unknown runtime.", e500="The vault is broken."),
    },
    openapi_extra=c.request_body(c.ConnectBody),
)
async def connect(
    request: Request, rid: str = Depends(runtime_id), host: Host = Depends(get_host)
) -> dict:
    body = await json_body(request)
    try:
        return await host.credentials.connect(
            rid, api_key=text_field(body, "apiKey"), provider=text_field(body, "provider")
        )
    finally:
        host.status_snapshot.invalidate()


@router.post(
    "/{id}/disconnect",
    response_model=None,
    responses={
        **c.ok(c.ConnectResult),
        **c.errors(404, 500, e404="Unknown runtime.", e500="The vault is broken."),
    },
)
async def disconnect(rid: str = Depends(runtime_id), host: Host = Depends(get_host)) -> dict:
    try:
        return await host.credentials.disconnect(rid)
    finally:
        host.status_snapshot.invalidate()


@router.post(
    "/{id}/healthcheck",
    response_model=None,
    responses={
        200: {
            "model": c.HealthcheckResult,
            "description": "The verdict: `ok`, or `ok: false` with the provider's `error`.",
        },
        **c.errors(
            400,
            404,
            e400="A bad body, or (`{ok: false, error}`) no healthcheck for this runtime, an "
            "unknown provider, or no key to check.",
            e404="Unknown runtime.",
        ),
    },
    openapi_extra=c.request_body(c.HealthcheckBody),
)
async def healthcheck(
    request: Request, rid: str = Depends(runtime_id), host: Host = Depends(get_host)
) -> JSONResponse:
    body = await json_body(request)
    result = await host.credentials.healthcheck(
        rid, provider=text_field(body, "provider"), api_key=text_field(body, "apiKey")
    )
    return JSONResponse(result.to_json(), status_code=result.status_code)


@router.post(
    "/{id}/run",
    response_model=None,
    responses={
        200: {
            "description": "The run's result; with `Accept: text/event-stream`, event frames "
            "then one `result` frame carrying the same fields.",
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/RunResult"}},
                "text/event-stream": {"schema": c.sse_event_schema(c.RunFrame)},
            },
        },
        **c.errors(400),
        404: {
            "description": "Unknown runtime (`error`) or task (`reason: not_found`).",
            "content": {
                "application/json": {
                    "schema": {
                        "anyOf": [
                            {"$ref": "#/components/schemas/ErrorBody"},
                            {"$ref": "#/components/schemas/RunRefusal"},
                        ]
                    }
                }
            },
        },
        409: {"model": c.RunRefusal, "description": "The task could not be claimed."},
        **c.errors(503),
        422: {
            "model": c.RunRefusal,
            "description": "Refused: too deep, a connected substrate, a missing CLI "
            "(`not_installed`), a paused budget, or no workspace.",
        },
    },
    openapi_extra=c.request_body(c.RunBody, required=True),
)
async def run(
    request: Request, rid: str = Depends(runtime_id), host: Host = Depends(started_host)
) -> Response:
    """Drive a task; refusals are plain JSON, then a JSON body or (Accept: SSE) a stream."""
    run_request = parse_run_request(await json_body(request), default_agent=rid)
    abort = AbortSignal()
    wants_stream = "text/event-stream" in request.headers.get("accept", "")
    async with abort_on_disconnect(request, abort):
        try:
            prepared = await host.executor.prepare(rid, run_request, abort)
        except RunRefused as refusal:
            return error_response(refusal)
        if prepared.descriptor.capabilities.mcp:  # its agent will call the tasks server
            request.app.state.mcp_tasks.warm()
        if not wants_stream:
            return JSONResponse(await host.executor.execute(prepared))

    async def stream(emit) -> None:
        # First frame: the execution id, so a client can abort the run from elsewhere.
        await emit(
            {
                "type": "status",
                "phase": "started",
                "execId": prepared.exec_id,
                "taskId": prepared.task["id"],
            }
        )
        result = await host.executor.execute(prepared, on_event=emit)
        await emit({"type": "result", **result})

    return EventStream(stream, on_disconnect=lambda: abort.set("client disconnected"))
