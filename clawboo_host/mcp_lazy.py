"""The board's MCP tasks server, started after the port is bound.

Importing the MCP SDK costs about a third of a second, and no first request needs it (only
runs do, through ``/api/mcp/tasks``). So the host's lifespan starts it in the background:
the import happens in a worker thread, then the SDK's session manager runs in its own task
until shutdown. A request that arrives first waits for it (bounded), then is served as usual.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

log = logging.getLogger(__name__)

#: Where the host serves the tasks server (exact path, no trailing slash).
MCP_TASKS_PATH = "/api/mcp/tasks"
#: How long a request may wait for the server to finish starting.
START_WAIT_S = 60.0


class LazyMcpTasks:
    """ASGI app for :data:`MCP_TASKS_PATH`; ``build(module)`` makes the ``McpTasks``."""

    def __init__(self, build: Callable[[Any], Any]) -> None:
        self._build = build
        self._ready: asyncio.Event | None = None
        self.tasks: Any = None  # the McpTasks, once running

    @asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        ready = self._ready = asyncio.Event()
        stop = asyncio.Event()

        async def serve() -> None:
            try:
                module = await anyio.to_thread.run_sync(
                    importlib.import_module, "clawboo_host.mcp_tasks"
                )
                tasks = self._build(module)
                async with tasks.lifespan():
                    self.tasks = tasks
                    ready.set()
                    await stop.wait()
            except Exception:
                log.exception("the MCP tasks server failed to start")
            finally:
                self.tasks = None
                ready.set()

        task = asyncio.create_task(serve())
        try:
            yield
        finally:
            stop.set()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._ready is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), START_WAIT_S)
        if self.tasks is None:
            response = JSONResponse({"error": "the MCP tasks server is not running"}, 503)
            await response(scope, receive, send)
            return
        await self.tasks.asgi_app(scope, receive, send)

    def mount(self, app: Any) -> None:
        """An exact route (GET/POST/DELETE): no trailing-slash redirect."""
        app.router.routes.append(
            Route(MCP_TASKS_PATH, self, methods=["GET", "POST", "DELETE"], include_in_schema=False)
        )
