"""A real MCP client for the host's tasks server (MCP Streamable HTTP, official SDK).

Used by the fault-injection runtime's ``!mcp`` directive and by tests::

    outcome = await call_tool(url, token, "get_task", {"taskId": task_id})
    outcome.text, outcome.is_error

Each call opens its own session (``initialize`` handshake, like the CLI runtimes' MCP clients)
with ``Authorization: Bearer <token>``, and closes it (DELETE) afterwards.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx2
from mcp import Client, types
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

__all__ = ["McpCallError", "ToolOutcome", "call_tool", "connect", "list_tools"]

DEFAULT_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class ToolOutcome:
    """A tool result: its text blocks joined by newlines, and whether it is a tool error."""

    text: str
    is_error: bool


class McpCallError(RuntimeError):
    """The call never produced a tool result (refused connection, HTTP error, protocol error).

    ``status`` is the HTTP status of the first refused request (e.g. 401), when there was one.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class _Refusals:
    """Remembers the first HTTP error answer, so a failure can say what the server said."""

    def __init__(self) -> None:
        self.status: int | None = None
        self.body: str = ""

    async def hook(self, response: httpx2.Response) -> None:
        if response.status_code >= 400 and self.status is None:
            self.status = response.status_code
            try:
                await response.aread()
                self.body = response.text[:500]
            except (httpx2.HTTPError, httpx2.StreamError):  # pragma: no cover - best effort
                self.body = ""

    def error(self, what: str, exc: BaseException) -> McpCallError:
        if self.status is not None:
            return McpCallError(
                f"{what} failed: HTTP {self.status} {self.body}".rstrip(), self.status
            )
        return McpCallError(f"{what} failed: {_flatten(exc)!r}")


@asynccontextmanager
async def connect(
    url: str,
    token: str,
    *,
    mode: str = "legacy",
    timeout: float = DEFAULT_TIMEOUT_S,
    _refusals: _Refusals | None = None,
) -> AsyncIterator[Client]:
    """An initialized :class:`mcp.Client` on ``url`` sending the bearer ``token`` (none if empty).

    ``mode``: ``"legacy"`` (the initialize handshake and a session id, as the CLI runtimes
    do), ``"auto"`` or a modern protocol version (see :class:`mcp.Client`).
    """
    http = create_mcp_http_client(
        headers={"Authorization": f"Bearer {token}"} if token else {},
        timeout=httpx2.Timeout(timeout, read=timeout),
    )
    if _refusals is not None:
        http.event_hooks["response"].append(_refusals.hook)
    async with http:
        transport = streamable_http_client(url, http_client=http)
        async with Client(transport, mode=mode, read_timeout_seconds=timeout, cache=None) as client:
            yield client


def _outcome(result: types.CallToolResult) -> ToolOutcome:
    parts = [block.text for block in result.content if isinstance(block, types.TextContent)]
    return ToolOutcome(text="\n".join(parts), is_error=bool(result.is_error))


def _flatten(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


async def call_tool(
    url: str,
    token: str,
    tool: str,
    arguments: dict[str, Any] | None = None,
    *,
    mode: str = "legacy",
    timeout: float = DEFAULT_TIMEOUT_S,
) -> ToolOutcome:
    """Call one tool in a fresh session. Raises :class:`McpCallError` when there is no result."""
    refusals = _Refusals()
    try:
        async with connect(url, token, mode=mode, timeout=timeout, _refusals=refusals) as client:
            result = await client.call_tool(tool, arguments or {})
    except Exception as exc:  # ExceptionGroup included
        raise refusals.error(f"MCP call {tool!r}", exc) from exc
    return _outcome(result)


async def list_tools(
    url: str, token: str, *, mode: str = "legacy", timeout: float = DEFAULT_TIMEOUT_S
) -> list[str]:
    """The server's tool names, in its order. Raises :class:`McpCallError` on failure."""
    refusals = _Refusals()
    try:
        async with connect(url, token, mode=mode, timeout=timeout, _refusals=refusals) as client:
            result = await client.list_tools()
    except Exception as exc:  # ExceptionGroup included
        raise refusals.error("MCP list_tools", exc) from exc
    return [tool.name for tool in result.tools]
