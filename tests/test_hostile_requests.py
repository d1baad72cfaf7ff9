"""Hostile requests found by the adversarial pass (issue 8 items 4, 5, 7) on a real socket.

Each test speaks HTTP/1.1 over a loopback TCP connection (raw bytes where the header layout
matters) and checks both the answer and that nothing changed behind it.
"""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import httpx
import pytest

from clawboo_host.config import HostConfig
from clawboo_host.security import SameOriginMiddleware, SecuritySettings
from clawboo_host.vault import Vault

MiB = 1024 * 1024
KEY = "sk-ant-" + "hostile-000000000001"  # split: not a committed key
CROSS_ORIGIN = {"error": "Cross-origin request blocked."}
TOO_LARGE = {"error": "Request body too large (limit 2 MiB)."}


@pytest.fixture
def server(clawboo_host_factory):
    return clawboo_host_factory()


@pytest.fixture
def client(server):
    with server.client() as c:
        yield c


class RawConnection:
    """One keep-alive HTTP/1.1 connection: send raw requests, read whole responses."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buffer = b""

    def __enter__(self) -> RawConnection:
        return self

    def __exit__(self, *exc) -> None:
        self.sock.close()

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        self.buffer += data
        return bool(data)

    def exchange(self, raw: bytes) -> tuple[int, dict[str, str], bytes]:
        """Send ``raw`` and return (status, headers, body) of a Content-Length response."""
        self.sock.sendall(raw)
        while b"\r\n\r\n" not in self.buffer:
            if not self._fill():
                raise ConnectionError("connection closed before a response")
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(self.buffer) < length:
            if not self._fill():
                break
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return int(status_line.split()[1]), headers, body

    def closed_by_peer(self) -> bool:
        try:
            return self.sock.recv(1) == b""
        except (ConnectionResetError, TimeoutError):
            return True


def request(method: str, path: str, port: int, body: bytes = b"", **headers: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


# ── item 4: a huge integer is a 400, and the connection stays usable ─────────────────────────
@pytest.mark.parametrize("limit", ["1" + "0" * 400, "-" + "9" * 400, "1e400"])
def test_a_huge_budget_limit_is_a_400_on_a_kept_connection(server, limit):
    body = f'{{"limitUsd": {limit}}}'.encode()
    with RawConnection(server.port) as conn:
        status, headers, answer = conn.exchange(
            request(
                "PUT", "/api/budgets/agent/a1", server.port, body, Content_Type="application/json"
            )
        )
        assert status == 400, answer
        assert headers["content-type"] == "application/json"
        assert json.loads(answer) == {"error": "limitUsd must be a number >= 0"}
        assert headers.get("connection") != "close"
        # The same connection answers the next request.
        status, _, answer = conn.exchange(request("GET", "/api/budgets", server.port))
        assert status == 200 and json.loads(answer) == {"budgets": []}


# ── item 5: an oversized chunked body is refused before any handler runs ─────────────────────
def chunked(total: int):
    """A chunked body of ``total`` bytes (httpx sends a generator without Content-Length)."""

    def body():
        sent = 0
        while sent < total:
            piece = min(64 * 1024, total - sent)
            sent += piece
            yield b"x" * piece

    return body()


def post_chunked(client: httpx.Client, path: str, total: int) -> httpx.Response:
    response = client.post(path, content=chunked(total))
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert "content-length" not in response.request.headers
    return response


def assert_too_large(response: httpx.Response) -> None:
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == TOO_LARGE


def test_an_oversized_chunked_disconnect_deletes_no_key(server, client, clawboo_data_dir):
    vault = Vault(clawboo_data_dir / "secrets", env={})
    vault.set("ANTHROPIC_API_KEY", KEY)
    assert_too_large(post_chunked(client, "/api/runtimes/claude-code/disconnect", 3 * MiB))
    assert vault.get("ANTHROPIC_API_KEY") == KEY
    assert not vault.is_disconnected("claude-code")
    # A body within the limit still reaches the route (which ignores it).
    r = post_chunked(client, "/api/runtimes/claude-code/disconnect", 1024)
    assert r.status_code == 200 and vault.get("ANTHROPIC_API_KEY") is None


def test_a_refused_cross_origin_chunked_body_is_never_buffered(server, client, clawboo_data_dir):
    """The guards answer first: a foreign page's big chunked POST is a 403, not read to 413."""
    vault = Vault(clawboo_data_dir / "secrets", env={})
    vault.set("ANTHROPIC_API_KEY", KEY)
    r = client.post(
        "/api/runtimes/claude-code/disconnect",
        content=chunked(3 * MiB),
        headers={"Origin": "http://evil.example"},
    )
    assert r.status_code == 403 and r.json() == CROSS_ORIGIN
    assert vault.get("ANTHROPIC_API_KEY") == KEY


def test_an_oversized_chunked_install_spawns_nothing(server, client, fake_executables):
    fake_executables.add_recording("npm", stdout_lines=["added 1 package"])
    assert_too_large(post_chunked(client, "/api/runtimes/claude-code/install", 3 * MiB))
    assert fake_executables.calls("npm") == []
    r = post_chunked(client, "/api/runtimes/claude-code/install", 10)
    assert r.status_code == 200 and '"type":"complete"' in r.text
    assert len(fake_executables.calls("npm")) == 1


def test_an_oversized_chunked_abort_is_refused_on_every_route(client):
    for path in ("/api/executions/e1/abort", "/api/board/tasks", "/nowhere"):
        assert_too_large(post_chunked(client, path, 2 * MiB + 1))
    assert client.get("/api/board/tasks").json() == {"tasks": []}


def test_a_chunked_body_at_the_limit_is_replayed_whole(client):
    pad = 2 * MiB - len(b'{"title": "", "pad": ""}') - len("edge")
    payload = json.dumps({"title": "edge", "pad": "x" * pad}).encode()
    assert len(payload) == 2 * MiB

    def body():
        for i in range(0, len(payload), 50_000):
            yield payload[i : i + 50_000]

    r = client.post(
        "/api/board/tasks", content=body(), headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 201, r.text
    assert r.json()["task"]["title"] == "edge"


# ── item 7: Host parsed strictly, one Host / Origin only ─────────────────────────────────────
@pytest.mark.parametrize(
    "host",
    [
        "localhost:80@evil.example",
        "127.0.0.1@evil.example",
        "localhost/evil",
        "localhost:",
        "localhost:80:80",
        "::1",  # an IPv6 literal must be bracketed
        "local host",
        "[::1]x",
    ],
)
def test_a_host_that_is_not_strictly_host_port_is_refused(server, host):
    with RawConnection(server.port) as conn:
        raw = f"GET /api/runtimes HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
        status, headers, body = conn.exchange(raw)
    assert status == 403 and json.loads(body) == CROSS_ORIGIN
    assert headers["content-type"] == "application/json"


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST.", "127.0.0.1:80", "[::1]:9", "[::1]"])
def test_well_formed_loopback_hosts_pass(server, host):
    with RawConnection(server.port) as conn:
        status, _, _ = conn.exchange(f"GET /api/budgets HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    assert status == 200


def test_two_origin_headers_are_refused_even_when_one_is_good(server):
    good = f"http://127.0.0.1:{server.port}"
    for origins in ((good, "http://evil.example"), ("http://evil.example", good), (good, good)):
        head = f"POST /api/runtimes/claude-code/disconnect HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        head += "".join(f"Origin: {o}\r\n" for o in origins) + "Content-Length: 0\r\n\r\n"
        with RawConnection(server.port) as conn:
            status, _, body = conn.exchange(head.encode())
        assert status == 403 and json.loads(body) == CROSS_ORIGIN, origins


def test_two_host_headers_are_refused_by_the_guard_itself(tmp_path: Path):
    """h11 rejects two Hosts before the app; the guard refuses them on any other server too."""
    reached = []

    async def app(scope, receive, send):
        reached.append(scope["path"])

    guarded = SameOriginMiddleware(
        app, SecuritySettings.from_config(HostConfig(data_dir=tmp_path, env={}))
    )

    def call(headers: list[tuple[bytes, bytes]]) -> list[dict]:
        sent: list[dict] = []

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "method": "GET", "path": "/api/runtimes", "headers": headers}
        asyncio.run(guarded(scope, None, send))
        return sent

    for headers in (
        [(b"host", b"127.0.0.1"), (b"host", b"evil.example")],
        [(b"host", b"127.0.0.1"), (b"host", b"127.0.0.1")],
        [(b"host", b"127.0.0.1"), (b"sec-fetch-site", b"none"), (b"sec-fetch-site", b"cross-site")],
        [],
    ):
        sent = call(headers)
        assert sent[0]["status"] == 403 and json.loads(sent[1]["body"]) == CROSS_ORIGIN, headers
    assert reached == []
    assert call([(b"host", b"127.0.0.1")]) == [] and reached == ["/api/runtimes"]


# ── item 8: what the HTTP server rejects before the app is JSON too ──────────────────────────
def raw_exchange(port: int, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    with RawConnection(port) as conn:
        answer = conn.exchange(raw)
        assert conn.closed_by_peer()
    return answer


@pytest.mark.parametrize(
    ("raw", "status", "error"),
    [
        (b"GET /api/runtimes HTTP/1.1\r\n\r\n", 400, "Missing mandatory Host: header"),
        (
            b"GET /api/runtimes HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: 127.0.0.1\r\n\r\n",
            400,
            "Found multiple Host: headers",
        ),
        (
            b"POST /api/board/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -1\r\n\r\n",
            400,
            "bad Content-Length",
        ),
        (
            b"POST /api/board/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: "
            + b"9" * 40
            + b"\r\n\r\n",
            400,
            "bad Content-Length",
        ),
        (
            b"POST /api/board/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Length: 1\r\nContent-Length: 2\r\n\r\n",
            400,
            "conflicting Content-Length headers",
        ),
        (
            b"POST /api/board/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: gzip\r\n\r\n",
            501,
            "Only Transfer-Encoding: chunked is supported",
        ),
        (b"GET /api/runtimes HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Secret sk-ant-xx\r\n\r\n", 400, None),
        (b"NOT HTTP AT ALL\r\n\r\n", 400, None),
        (
            b"GET /api/runtimes HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 70_000,
            431,
            "Request header fields too large",
        ),
    ],
    ids=lambda v: v[:40] if isinstance(v, bytes) else str(v),
)
def test_requests_the_server_cannot_parse_get_a_json_error(server, raw, status, error):
    got, headers, body = raw_exchange(server.port, raw)
    assert got == status
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"error": error or "Invalid HTTP request received."}
    assert b"sk-ant" not in body  # a parse error never echoes the request


def test_the_real_serve_command_answers_parse_errors_in_json(tmp_path):
    from clawboo_host.testing.server import server_process

    data = tmp_path / "data"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "CLAWBOO_HOME": str(data)}
    with server_process(["--port", "0"], env, data) as port:
        status, headers, body = raw_exchange(port, b"GET /api/runtimes HTTP/1.1\r\n\r\n")
    assert status == 400 and headers["content-type"] == "application/json"
    assert json.loads(body) == {"error": "Missing mandatory Host: header"}


# ── an unexpected error is a JSON 500 on a kept connection ───────────────────────────────────
def test_an_unexpected_error_is_a_json_500_and_the_connection_stays_open(clawboo_host_factory):
    server = clawboo_host_factory()

    @server.app.get("/api/explode")
    async def explode() -> dict:
        raise RuntimeError("kaboom at /home/someone/.secret-path")

    with RawConnection(server.port) as conn:
        status, headers, body = conn.exchange(request("GET", "/api/explode", server.port))
        assert status == 500 and headers["content-type"] == "application/json"
        assert json.loads(body) == {"error": "internal error"}  # the text only in the log
        assert headers.get("connection") != "close"
        status, _, _ = conn.exchange(request("GET", "/api/budgets", server.port))
        assert status == 200
