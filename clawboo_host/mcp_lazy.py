"""The board's MCP tasks server, started when first needed.

Importing the MCP SDK costs about a third of a second of CPU, and only runs need the server
(their agents call ``/api/mcp/tasks``). Importing it while the host starts would slow the
first requests (the import holds the GIL), so nothing is imported until :meth:`LazyMcpTasks.warm`
is called (a run of a runtime with MCP is starting) or a request reaches the route. Then the
import happens in a worker thread and the SDK's session manager runs in its own task until
shutdown; a request that arrives first waits for it (bounded), then is served as usual.
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
        self._wanted: asyncio.Event | None = None  # set: import and start the server
        self._ready: asyncio.Event | None = None
        self.tasks: Any = None  # the McpTasks, once running

    @asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        wanted = self._wanted = asyncio.Event()
        ready = self._ready = asyncio.Event()
        stop = asyncio.Event()

        async def serve() -> None:
            try:
                await wanted.wait()
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
            if not wanted.is_set():  # never needed: nothing to import on the way out
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def warm(self) -> None:
        """Start importing and starting the server in the background (no-op once started)."""
        if self._wanted is not None:
            self._wanted.set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.warm()
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
