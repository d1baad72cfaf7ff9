"""HTTP/1.1 for the provider calls: h11 over asyncio streams, as an httpx transport.

httpx's own async transport (httpcore over anyio) spends about a millisecond of CPU per
request on cancel scopes, locks and checkpoints: more than a loopback round trip, and paid on
every model turn. This transport keeps httpx's request and response types (encoding,
decoding, the error types :mod:`clawboo_native.llm` maps) and replaces only the wire:

- one idle connection kept per origin (a run talks to one provider), reused while the server
  keeps it open; one the server has closed meanwhile is dropped, never written to;
- TLS with the client's verification context, built on the first ``https`` request;
- httpx's connect/read/write timeouts per operation, raised as httpx's timeout errors; socket
  failures as ``ConnectError``/``ReadError``/``WriteError``, malformed answers as
  ``RemoteProtocolError``;
- a request cancelled mid-way (the run aborted) closes its connection.

Proxies are not spoken here: a run whose env names one gets httpx's default transport.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator

import h11
import httpx

READ_SIZE = 64 * 1024


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.h11 = h11.Connection(h11.CLIENT)

    def reusable(self) -> bool:
        return not (self.reader.at_eof() or self.writer.is_closing())

    def close(self) -> None:
        self.writer.close()

    async def send(self, data: bytes, timeout: float | None) -> None:
        try:
            self.writer.write(data)
            async with asyncio.timeout(timeout):
                await self.writer.drain()
        except TimeoutError:
            raise httpx.WriteTimeout("timed out sending the request") from None
        except OSError as exc:
            raise httpx.WriteError(str(exc) or type(exc).__name__) from None

    async def next_event(self, timeout: float | None) -> h11.Event:
        while True:
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError as exc:
                raise httpx.RemoteProtocolError(str(exc)) from None
            if event is not h11.NEED_DATA:
                return event
            try:
                async with asyncio.timeout(timeout):
                    data = await self.reader.read(READ_SIZE)
            except TimeoutError:
                raise httpx.ReadTimeout("timed out waiting for the answer") from None
            except OSError as exc:
                raise httpx.ReadError(str(exc) or type(exc).__name__) from None
            try:
                self.h11.receive_data(data)  # b"" is the server's end of the stream
            except h11.RemoteProtocolError as exc:
                raise httpx.RemoteProtocolError(str(exc)) from None


class _ResponseStream(httpx.AsyncByteStream):
    """The answer's body as it arrives; the connection goes back to the pool once it is
    read to the end (and closes if it is not)."""

    def __init__(self, pool: StreamsTransport, origin: tuple, conn: _Connection, timeout) -> None:
        self.pool, self.origin, self.conn, self.timeout = pool, origin, conn, timeout
        self.complete = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            while not self.complete:
                event = await self.conn.next_event(self.timeout)
                if isinstance(event, h11.Data):
                    yield bytes(event.data)
                elif isinstance(event, h11.EndOfMessage):
                    self.complete = True
                elif isinstance(event, h11.ConnectionClosed):
                    raise httpx.RemoteProtocolError("the server closed the connection mid-answer")
        except BaseException:
            self.conn.close()
            raise

    async def aclose(self) -> None:
        self.pool.release(self.origin, self.conn, self.complete)


class StreamsTransport(httpx.AsyncBaseTransport):
    """See the module docstring. ``verify``: an SSL context, or True for the certifi bundle."""

    def __init__(self, verify: ssl.SSLContext | bool = True) -> None:
        self._verify = verify
        self._ssl: ssl.SSLContext | None = verify if isinstance(verify, ssl.SSLContext) else None
        self._idle: dict[tuple, _Connection] = {}

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            if self._verify is False:
                self._ssl = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                self._ssl.check_hostname = False
                self._ssl.verify_mode = ssl.CERT_NONE
            else:
                import certifi

                self._ssl = ssl.create_default_context(cafile=certifi.where())
        return self._ssl

    async def _connect(self, url: httpx.URL, timeout: float | None) -> _Connection:
        tls = self._ssl_context() if url.scheme == "https" else None
        port = url.port or (443 if tls else 80)
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    url.host, port, ssl=tls, server_hostname=url.host if tls else None
                )
        except TimeoutError:
            raise httpx.ConnectTimeout(f"timed out connecting to {url.host}") from None
        except (OSError, ssl.SSLError) as exc:
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from None
        return _Connection(reader, writer)

    def release(self, origin: tuple, conn: _Connection, complete: bool) -> None:
        state = conn.h11
        if complete and state.our_state is h11.DONE and state.their_state is h11.DONE:
            state.start_next_cycle()
            previous = self._idle.pop(origin, None)
            if previous is not None:
                previous.close()
            self._idle[origin] = conn
        else:
            conn.close()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme '{url.scheme}'")
        timeouts = request.extensions.get("timeout", {})
        origin = (url.scheme, url.host, url.port)
        conn = self._idle.pop(origin, None)
        if conn is not None and not conn.reusable():
            conn.close()
            conn = None
        if conn is None:
            conn = await self._connect(url, timeouts.get("connect"))
        try:
            body = await request.aread()
            data = conn.h11.send(
                h11.Request(method=request.method, target=url.raw_path, headers=request.headers.raw)
            )
            if body:
                data += conn.h11.send(h11.Data(data=body))
            data += conn.h11.send(h11.EndOfMessage())
            await conn.send(data, timeouts.get("write"))
            while True:
                event = await conn.next_event(timeouts.get("read"))
                if isinstance(event, h11.Response):
                    break
                if isinstance(event, h11.ConnectionClosed):
                    raise httpx.RemoteProtocolError("the server closed the connection unanswered")
                # an InformationalResponse (1xx) is skipped
        except BaseException:  # failed, timed out or cancelled: this connection is done
            conn.close()
            raise
        return httpx.Response(
            event.status_code,
            headers=event.headers.raw_items(),
            stream=_ResponseStream(self, origin, conn, timeouts.get("read")),
            extensions={"http_version": b"HTTP/" + event.http_version},
        )

    async def aclose(self) -> None:
        for conn in self._idle.values():
            conn.close()
        self._idle.clear()
