"""The board tools: the host's MCP tasks server, reached with the official MCP SDK's client.

Streamable HTTP on ``ctx.mcp_url`` with ``Authorization: Bearer <ctx.mcp_token>``. Every
operation opens its own short session (initialize → request → close), so nothing stays open
across the run's ``yield``s and an abort can cancel a call cleanly. The token is only ever a
request header: it is never put in a tool result, an event or an error message.
"""

from __future__ import annotations

from typing import Any

import httpx2
from mcp import Client, types
from mcp.client.streamable_http import streamable_http_client

from .llm import ToolSpec

SERVER_NAME = "clawboo-tasks"
DEFAULT_TIMEOUT_S = 30.0


def _flatten(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


class BoardTools:
    def __init__(self, url: str, token: str | None, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        self.url = url
        self._token = token or ""
        self.timeout = timeout
        self.names: frozenset[str] = frozenset()

    def _http(self) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(
            headers={"Authorization": f"Bearer {self._token}"} if self._token else {},
            timeout=httpx2.Timeout(self.timeout, read=self.timeout),
            follow_redirects=False,
            trust_env=False,  # the host is on loopback: never through a proxy
        )

    def _error(self, what: str, exc: BaseException) -> str:
        inner = _flatten(exc)
        message = str(inner) or type(inner).__name__
        if self._token:
            message = message.replace(self._token, "***")
        return f"{what} failed: {message}"

    async def list_tools(self) -> list[ToolSpec]:
        """The server's tools as :class:`ToolSpec` (raises on failure)."""
        async with self._http() as http:
            transport = streamable_http_client(self.url, http_client=http)
            async with Client(
                transport, mode="legacy", read_timeout_seconds=self.timeout, cache=None
            ) as client:
                result = await client.list_tools()
        specs = [
            ToolSpec(tool.name, tool.description or "", tool.input_schema or {"type": "object"})
            for tool in result.tools
        ]
        self.names = frozenset(spec.name for spec in specs)
        return specs

    async def call(self, name: str, arguments: dict[str, Any]) -> tuple[str, bool]:
        """``(text, is_error)``; a failed call is an error result, never an exception."""
        try:
            async with self._http() as http:
                transport = streamable_http_client(self.url, http_client=http)
                async with Client(
                    transport, mode="legacy", read_timeout_seconds=self.timeout, cache=None
                ) as client:
                    result = await client.call_tool(name, arguments)
        except Exception as exc:  # ExceptionGroup included
            return self._error(f"MCP call {name!r}", exc), True
        parts = [block.text for block in result.content if isinstance(block, types.TextContent)]
        return "\n".join(parts), bool(result.is_error)

    def describe_failure(self, exc: BaseException) -> str:
        return self._error(f"connecting to the {SERVER_NAME} MCP server", exc)
