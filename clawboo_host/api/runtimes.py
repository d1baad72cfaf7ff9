"""``/api/runtimes``: list, connect, disconnect (install, healthcheck and run live beside)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from ..errors import ApiError, UnknownRuntime
from ..executor import RunRefused
from ..host import Host
from ..plugin_api.types import AbortSignal
from .deps import abort_on_disconnect, get_host, json_body, parse_run_request, text_field
from .sse import EventStream

router = APIRouter(prefix="/api/runtimes")


def runtime_id(request: Request, host: Host = Depends(get_host)) -> str:
    """The path's runtime id, or 404 for an unknown, reserved or wrongly-cased id."""
    rid = request.path_params["id"]
    if host.registry.get(rid) is None:
        raise UnknownRuntime(rid)
    return rid


@router.get("")
async def list_runtimes(host: Host = Depends(get_host)) -> dict:
    rows = await host.status.all()
    return {
        "runtimes": [row.to_json() for row in rows],
        "available": [d.public_json() for d in host.registry.public_catalog()],
    }


@router.post("/{id}/install")
async def install(rid: str = Depends(runtime_id), host: Host = Depends(get_host)) -> EventStream:
    host.installer.reserve(rid)  # 400 built-in / 409 already running, before any stream
    return EventStream(
        lambda emit: host.installer.run(rid, emit), on_close=lambda: host.installer.release(rid)
    )


@router.post("/{id}/connect")
async def connect(
    request: Request, rid: str = Depends(runtime_id), host: Host = Depends(get_host)
) -> dict:
    body = await json_body(request)
    return await host.credentials.connect(
        rid, api_key=text_field(body, "apiKey"), provider=text_field(body, "provider")
    )


@router.post("/{id}/disconnect")
async def disconnect(rid: str = Depends(runtime_id), host: Host = Depends(get_host)) -> dict:
    return await host.credentials.disconnect(rid)


@router.post("/{id}/healthcheck")
async def healthcheck(
    request: Request, rid: str = Depends(runtime_id), host: Host = Depends(get_host)
) -> JSONResponse:
    body = await json_body(request)
    result = await host.credentials.healthcheck(
        rid, provider=text_field(body, "provider"), api_key=text_field(body, "apiKey")
    )
    return JSONResponse(result.to_json(), status_code=result.status_code)


@router.post("/{id}/run")
async def run(
    request: Request, rid: str = Depends(runtime_id), host: Host = Depends(get_host)
) -> Response:
    """Drive a task; refusals are plain JSON, then a JSON body or (Accept: SSE) a stream."""
    run_request = parse_run_request(await json_body(request), default_agent=rid)
    abort = AbortSignal()
    wants_stream = "text/event-stream" in request.headers.get("accept", "")
    async with abort_on_disconnect(request, abort):
        try:
            prepared = await host.executor.prepare(rid, run_request, abort)
        except RunRefused as refusal:
            return JSONResponse(refusal.body, status_code=refusal.status_code)
        if not wants_stream:
            return JSONResponse(await host.executor.execute(prepared))

    async def stream(emit) -> None:
        result = await host.executor.execute(prepared, on_event=emit)
        await emit({"type": "result", **result})

    return EventStream(stream, on_disconnect=lambda: abort.set("client disconnected"))


# The actions routed above (install, connect, ...), read off the router so it can't drift.
RUNTIME_ACTIONS = frozenset(
    route.path.rsplit("/", 1)[-1]
    for route in router.routes
    if route.path.startswith(f"{router.prefix}/{{id}}/")
)


@router.api_route("/{id}/{action:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
async def unmatched(id: str, action: str, host: Host = Depends(get_host)) -> None:
    """Unknown ids are 404 on every sub-route; a known route with the wrong method is 405."""
    if host.registry.get(id) is None:
        raise UnknownRuntime(id)
    if action in RUNTIME_ACTIONS:
        raise ApiError(405, "Method Not Allowed")
    raise ApiError(404, "Not Found")
