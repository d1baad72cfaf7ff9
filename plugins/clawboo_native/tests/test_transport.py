"""The provider calls' HTTP transport, over real sockets on loopback: connection reuse, a
connection the server dropped, chunked and gzip answers, errors, cancellation. (A run's use of
it, with TLS and proxies from the run's env, is in test_loop.py.)"""

from __future__ import annotations

import asyncio
import gzip
import json

import anyio
import httpx
import pytest
from clawboo_native.transport import StreamsTransport

from clawboo_host.testing.provider import FakeProvider

pytestmark = pytest.mark.anyio


async def test_a_connection_the_server_closed_while_idle_is_replaced(tmp_path):
    with FakeProvider(keep_alive=0.2) as provider:
        provider.respond("POST", "/x", 200, {"n": 1})
        transport = StreamsTransport()
        async with httpx.AsyncClient(transport=transport) as client:
            assert (await client.post(provider.url + "/x", json={})).json() == {"n": 1}
            await anyio.sleep(0.6)  # the server drops the idle connection
            assert (await client.post(provider.url + "/x", json={})).json() == {"n": 1}
        first, second = provider.requests
        assert first.connection != second.connection


async def test_an_answer_that_closes_its_connection_is_not_reused(tmp_path):
    with FakeProvider(keep_alive=30) as provider:
        provider.respond("POST", "/x", 200, {"n": 1}, headers={"Connection": "close"})
        async with httpx.AsyncClient(transport=StreamsTransport()) as client:
            for _ in range(2):
                assert (await client.post(provider.url + "/x", json={})).json() == {"n": 1}
        assert len({r.connection for r in provider.requests}) == 2


class RawServer:
    """An HTTP/1.1 server answering every request with the same raw bytes (after reading the
    request head and its Content-Length body); counts connections. ``close``: hang up after
    each answer."""

    def __init__(self, answer: bytes, close=False) -> None:
        self.answer, self.close = answer, close
        self.connections = 0
        self.requests: list[bytes] = []
        self.closed = asyncio.Event()  # set when a client connection ends

    async def __aenter__(self) -> RawServer:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc) -> None:
        self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                self.requests.append(head + await reader.readexactly(length))
                writer.write(self.answer)
                await writer.drain()
                if self.close:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            self.closed.set()


def chunked(data: bytes, size: int = 7) -> bytes:
    parts = [data[i : i + size] for i in range(0, len(data), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


async def test_a_chunked_gzip_answer_is_decoded_and_the_connection_reused():
    payload = json.dumps({"content": "x" * 500}).encode()
    answer = (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\n"
        b"transfer-encoding: chunked\r\n\r\n" + chunked(gzip.compress(payload))
    )
    async with RawServer(answer) as server:
        async with httpx.AsyncClient(transport=StreamsTransport()) as client:
            for _ in range(3):
                response = await client.post(f"http://127.0.0.1:{server.port}/v1", json={"a": 1})
                assert response.json() == {"content": "x" * 500}
        assert server.connections == 1
        assert server.requests[0].endswith(b'\r\n\r\n{"a":1}')


async def test_an_answer_cut_short_is_a_protocol_error():
    answer = b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{}"
    async with RawServer(answer, close=True) as server:
        async with httpx.AsyncClient(transport=StreamsTransport()) as client:
            with pytest.raises(httpx.RemoteProtocolError):
                await client.post(f"http://127.0.0.1:{server.port}/v1", json={})


async def test_nothing_listening_is_a_connect_error():
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient(transport=StreamsTransport()) as client:
            await client.post("http://127.0.0.1:9/v1", json={})


async def test_a_silent_server_is_a_read_timeout():
    async with RawServer(b"") as server:  # reads the request, never answers
        async with httpx.AsyncClient(transport=StreamsTransport(), timeout=0.3) as client:
            with pytest.raises(httpx.ReadTimeout):
                await client.post(f"http://127.0.0.1:{server.port}/v1", json={})


async def test_a_cancelled_request_closes_its_connection():
    async with RawServer(b"") as server:  # never answers
        transport = StreamsTransport()
        async with httpx.AsyncClient(transport=transport) as client:
            with anyio.move_on_after(0.3) as scope:
                await client.post(f"http://127.0.0.1:{server.port}/v1", json={})
            assert scope.cancelled_caught
            with anyio.fail_after(5):
                await server.closed.wait()  # the server sees the connection end
            assert transport._idle == {}
