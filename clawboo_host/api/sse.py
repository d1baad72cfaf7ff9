"""A Server-Sent Events response that runs a producer and cancels it when the client leaves.

Frames are ``data: <compact JSON>\\n\\n`` (no ``event:``/``id:`` lines), UTF-8 written raw.
Unlike a generator-based streaming response, the producer is a coroutine that calls
``emit(frame)``; cancelling it on disconnect runs its ``finally`` blocks (which kill
process trees), and ``on_close`` always runs, even if the client left before the first
frame.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import anyio
from starlette.responses import Response

Emit = Callable[[dict], Awaitable[None]]
Producer = Callable[[Emit], Awaitable[None]]

SSE_HEADERS = {"cache-control": "no-cache", "connection": "keep-alive", "x-accel-buffering": "no"}


def frame(event: dict) -> bytes:
    text = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (a CLI cut a string mid-pair): escape it
        data = json.dumps(event, separators=(",", ":")).encode("ascii")
    return b"data: " + data + b"\n\n"


class EventStream(Response):
    """ASGI response: 200 ``text/event-stream``, one frame per ``emit`` call."""

    media_type = "text/event-stream"

    def __init__(
        self,
        producer: Producer,
        on_close: Callable[[], None] | None = None,
        on_disconnect: Callable[[], None] | None = None,
    ) -> None:
        """``on_disconnect``, when given, replaces cancelling the producer: the producer
        is told (e.g. through an abort signal) and finishes its own teardown."""
        super().__init__(status_code=200, headers=SSE_HEADERS)
        del self.headers["content-length"]  # a stream has no length
        self.producer = producer
        self.on_close = on_close
        self.on_disconnect = on_disconnect

    async def __call__(self, scope, receive, send) -> None:
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})

            gone = False

            async def emit(event: dict) -> None:
                if not gone:
                    await send(
                        {"type": "http.response.body", "body": frame(event), "more_body": True}
                    )

            async with anyio.create_task_group() as tg:

                async def watch_disconnect() -> None:
                    nonlocal gone
                    while True:
                        message = await receive()
                        if message["type"] == "http.disconnect":
                            gone = True
                            if self.on_disconnect is None:
                                tg.cancel_scope.cancel()
                            else:
                                self.on_disconnect()
                            return

                async def produce() -> None:
                    try:
                        await self.producer(emit)
                    finally:
                        tg.cancel_scope.cancel()

                tg.start_soon(watch_disconnect)
                tg.start_soon(produce)
            with anyio.CancelScope(shield=True):
                try:
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                except OSError:
                    pass
        finally:
            if self.on_close is not None:
                self.on_close()
