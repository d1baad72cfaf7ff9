"""A fake LLM provider on a real loopback HTTP port, for tests that must not reach the internet.

    with FakeProvider() as provider:
        provider.respond("GET", "/v1/models", 200, {"data": []})
        env["ANTHROPIC_BASE_URL"] = provider.url
        ...
        assert provider.requests[0].headers["x-api-key"] == "..."

Unscripted paths answer 404. ``respond(..., delay=s)`` holds the answer (to test timeouts);
``redirect_to`` answers a 302. Each answer closes its connection (HTTP/1.0), unless
``FakeProvider(keep_alive=s)``: then it speaks HTTP/1.1 and closes a connection idle for
``s`` seconds. ``RecordedRequest.connection`` tells which connection a request came on.
``FakeProvider(tls=(cert_file, key_file))`` serves HTTPS (see ``helpers.self_signed_cert``).
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    connection: int = 0  #: the client's port: requests on one connection share it


@dataclass
class _Scripted:
    status: int
    body: object
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


class FakeProvider:
    def __init__(
        self, keep_alive: float | None = None, tls: tuple[Path, Path] | None = None
    ) -> None:
        self.keep_alive = keep_alive
        self.tls = tls
        self.requests: list[RecordedRequest] = []
        self._routes: dict[tuple[str, str], dict] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{'https' if self.tls else 'http'}://{host}:{port}"

    def respond(
        self,
        method: str,
        path: str,
        status: int = 200,
        body: object = None,
        *,
        delay: float = 0.0,
        headers: dict[str, str] | None = None,
        times: int = 0,
    ) -> None:
        """Script an answer. ``times=0`` makes it the standing answer for that path; a
        positive ``times`` queues it that many times, ahead of the standing answer."""
        entry = _Scripted(status, body if body is not None else {}, delay, headers or {})
        with self._lock:
            route = self._routes.setdefault((method.upper(), path), {"queue": [], "standing": None})
            if times:
                route["queue"].extend([entry] * times)
            else:
                route["standing"] = entry

    def redirect_to(self, method: str, path: str, location: str) -> None:
        self.respond(method, path, 302, "", headers={"Location": location})

    def _next(self, method: str, path: str) -> _Scripted | None:
        with self._lock:
            route = self._routes.get((method, path))
            if route is None:
                return None
            return route["queue"].pop(0) if route["queue"] else route["standing"]

    def __enter__(self) -> FakeProvider:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            if provider.keep_alive is not None:
                protocol_version = "HTTP/1.1"
                timeout = provider.keep_alive  # an idle connection is closed after this

            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                path = self.path.split("?", 1)[0]
                provider.requests.append(
                    RecordedRequest(
                        self.command,
                        self.path,
                        {k.lower(): v for k, v in self.headers.items()},
                        body,
                        self.client_address[1],
                    )
                )
                scripted = provider._next(self.command, path)
                if scripted is None:
                    scripted = _Scripted(404, {"error": {"message": "not found"}})
                if scripted.delay:
                    time.sleep(scripted.delay)
                payload = scripted.body
                data = (
                    payload
                    if isinstance(payload, bytes)
                    else (
                        payload.encode()
                        if isinstance(payload, str)
                        else json.dumps(payload).encode()
                    )
                )
                try:
                    self.send_response(scripted.status)
                    for key, value in scripted.headers.items():
                        self.send_header(key, value)
                    if not isinstance(payload, (bytes, str)):
                        self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        if self.tls is not None:  # a client refusing the certificate fails only its accept
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*self.tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
