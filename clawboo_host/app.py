"""The FastAPI application factory: services in the lifespan, JSON errors everywhere."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from . import __version__
from .config import HostConfig
from .host import Host
from .mcp_lazy import LazyMcpTasks
from .redaction import LIVE_SECRETS
from .registry import RuntimeRegistry
from .run.secrets import run_secrets

log = logging.getLogger(__name__)


def create_app(config: HostConfig, registry: RuntimeRegistry | None = None) -> FastAPI:
    """Build the app. ``registry`` lets tests choose exactly which plugins are loaded."""
    host = Host(config, registry)

    def secrets_of(scope) -> tuple[str, ...]:
        """The live run's secrets as it worked them out; for a token outliving its run,
        worked out the same way now."""
        live = LIVE_SECRETS.of(scope.run_id)
        if live or scope.runtime_id not in host.registry.descriptors:
            return live
        return run_secrets(host.registry, host.keys, scope.runtime_id, host.config.env).values

    mcp_tasks = LazyMcpTasks(  # the MCP SDK is imported when a run first needs it
        lambda module: module.build_mcp_tasks(
            lambda: host.board,
            host.run_tokens,
            max_depth=host.executor.max_depth,
            run_secrets=secrets_of,
        )
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await host.start()
        try:
            async with mcp_tasks.lifespan():
                yield
        finally:
            await host.stop()

    app = FastAPI(
        title="clawboo-host",
        version=__version__,
        lifespan=lifespan,
        generate_unique_id_function=lambda route: route.name,  # e.g. "create_task"
    )
    from .api.contract import build_openapi

    app.openapi = lambda: build_openapi(app)  # type: ignore[method-assign]
    app.state.host = host
    app.state.mcp_tasks = mcp_tasks
    _install_error_handlers(app)
    from .security import install_security

    install_security(app, config)
    app.add_middleware(JsonServerErrors)  # outermost of ours: added last

    from .api import board, executions, hosts, onboarding, panel, runtimes

    app.include_router(runtimes.router)
    app.include_router(board.router)
    app.include_router(executions.router)
    app.include_router(hosts.router)
    app.include_router(onboarding.router)
    app.include_router(panel.router)
    mcp_tasks.mount(app)  # exact route /api/mcp/tasks (GET/POST/DELETE)
    return app


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def allowed_methods(request: Request) -> str:
    """Every method some route serves on this request's path (for a 405's ``Allow``):
    each method is tried against the routes with a fresh scope, so nested routers count."""
    base = {
        "type": "http",
        "path": request.scope["path"],
        "root_path": request.scope.get("root_path", ""),
        "headers": [],
        "query_string": b"",
    }
    routes = request.app.router.routes
    return ", ".join(
        method
        for method in _METHODS
        if any(route.matches({**base, "method": method})[0] is Match.FULL for route in routes)
    )


def _install_error_handlers(app: FastAPI) -> None:
    from .api.errors import HANDLED, error_response
    from .api.runtimes import unknown_runtime

    async def known_error(_request: Request, exc: Exception) -> JSONResponse:
        return error_response(exc)

    for kind in HANDLED:
        app.add_exception_handler(kind, known_error)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code in (404, 405):
            unknown = unknown_runtime(request)
            if unknown is not None:
                return error_response(unknown)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # Starlette names only the first route's methods
            headers["Allow"] = allowed_methods(request)
        return JSONResponse(
            {"error": str(exc.detail)}, status_code=exc.status_code, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        message = f"{where}: {first.get('msg', 'invalid request')}" if where else "invalid request"
        return JSONResponse({"error": message}, status_code=400)


class JsonServerErrors:
    """An unexpected exception becomes ``500 {"error": "internal error"}`` and the connection
    stays open. The exception's text (which may hold a path, or a value from the request) is
    only logged, never sent.

    Pure ASGI, outside the guards: Starlette's own ``Exception`` handler answers and then
    re-raises, which makes uvicorn drop the keep-alive connection. A response that had
    already started cannot be replaced, so then the exception goes on (the stream is cut).
    """

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            if started:
                raise
            log.exception("unhandled error")
            response = JSONResponse({"error": "internal error"}, status_code=500)
            await response(scope, receive, send)
