"""The HTTP guards (api-contract §8–§9) against the real app on a real loopback socket.

Hostile requests are plain httpx calls with forged headers; anything that depends on the TCP
peer address (a non-loopback client) drives the middleware stack in-process through
``httpx.ASGITransport``, which lets a test choose ``scope["client"]``.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import StreamingResponse

from clawboo_host.config import HostConfig
from clawboo_host.security import (
    BodyReadAheadMiddleware,
    RateLimitMiddleware,
    SecuritySettings,
    install_security,
)
from clawboo_host.testing.server import LiveServer

TOKEN = "s3cret-Token_1.2~x"
KEY = "sk-ant-test-key-000001"
MiB = 1024 * 1024

CROSS_ORIGIN = {"error": "Cross-origin request blocked."}
TOKEN_REQUIRED = {
    "error": "Clawboo access token required. Open /?access_token=<token> once to set a cookie."
}
TOKEN_INVALID = {"error": "Invalid Clawboo access token."}
TOO_LARGE = {"error": "Request body too large (limit 2 MiB)."}
RATE_GENERAL = {"error": "Too many requests. Wait a moment and retry."}
RATE_SENSITIVE = {"error": "Too many requests for this operation. Wait a moment and retry."}


def assert_json_error(response: httpx.Response, status: int, body: dict) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == body


def vault_file(data_dir: Path) -> Path:
    return data_dir / "secrets" / "runtime-keys.json"


@pytest.fixture
def server(clawboo_host_factory):
    return clawboo_host_factory()


@pytest.fixture
def client(server):
    with server.client() as c:
        yield c


@pytest.fixture
def gated(clawboo_host_factory, clawboo_env):
    return clawboo_host_factory(env=dict(clawboo_env, CLAWBOO_ACCESS_TOKEN=TOKEN))


# ── same-origin guard ───────────────────────────────────────────────────────────────────────
def test_own_host_and_origin_pass(server, client):
    assert client.get("/api/runtimes").status_code == 200
    for origin in (
        f"http://127.0.0.1:{server.port}",
        f"http://localhost:{server.port}",
        f"https://LOCALHOST:{server.port}/",
        f"http://[::1]:{server.port}",
    ):
        r = client.get("/api/runtimes", headers={"Origin": origin})
        assert r.status_code == 200, origin
    for host in ("localhost", "LOCALHOST.", f"127.4.5.6:{server.port}", "[::1]:1"):
        assert client.get("/api/runtimes", headers={"Host": host}).status_code == 200, host
    for site in ("same-origin", "same-site", "none"):
        r = client.get("/api/runtimes", headers={"Sec-Fetch-Site": site})
        assert r.status_code == 200, site


@pytest.mark.parametrize(
    "headers",
    [
        {"Host": "evil.example"},
        {"Host": f"evil.example:{18790}"},
        {"Host": "127.0.0.1.evil.example"},
        {"Host": "localhost.evil.example"},
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://127.0.0.1:1"},  # right host, wrong port
        {"Sec-Fetch-Site": "cross-site"},
    ],
    ids=lambda h: repr(h),
)
def test_hostile_requests_are_blocked(client, headers):
    assert_json_error(client.get("/api/runtimes", headers=headers), 403, CROSS_ORIGIN)


def test_the_path_check_is_case_folded_and_other_paths_are_unguarded(client):
    evil = {"Host": "evil.example", "Origin": "http://evil.example"}
    assert_json_error(client.get("/API/runtimes", headers=evil), 403, CROSS_ORIGIN)
    # Not under /api/: no same-origin guard (the app answers with its own 404).
    r = client.get("/not-api", headers=evil)
    assert r.status_code == 404 and r.json() != CROSS_ORIGIN


def test_a_blocked_connect_changes_nothing(client, clawboo_data_dir):
    for headers in (
        {"Origin": "http://evil.example"},
        {"Host": "rebind.example"},
        {"Sec-Fetch-Site": "cross-site"},
    ):
        r = client.post("/api/runtimes/claude-code/connect", json={"apiKey": KEY}, headers=headers)
        assert_json_error(r, 403, CROSS_ORIGIN)
        assert KEY not in r.text
    assert not vault_file(clawboo_data_dir).exists()
    assert not (clawboo_data_dir / "secrets").exists()


def test_allowed_hosts_and_origins_come_from_env(clawboo_host_factory, clawboo_env):
    server = clawboo_host_factory(
        env=dict(
            clawboo_env,
            CLAWBOO_ALLOWED_HOSTS=" box.lan , Studio.Example. ",
            CLAWBOO_ALLOWED_ORIGINS="https://Studio.Example/, http://box.lan:8080",
        )
    )
    with server.client() as c:
        for host in ("box.lan", "box.lan:8080", "studio.example", "STUDIO.example."):
            assert c.get("/api/runtimes", headers={"Host": host}).status_code == 200, host
        for origin in (
            "https://studio.example",
            "https://studio.example:443",
            "HTTP://BOX.LAN:8080",
        ):
            r = c.get("/api/runtimes", headers={"Host": "box.lan", "Origin": origin})
            assert r.status_code == 200, origin
        assert_json_error(c.get("/api/runtimes", headers={"Host": "other.lan"}), 403, CROSS_ORIGIN)
        # An allowed host does not make its origin allowed on another port.
        r = c.get("/api/runtimes", headers={"Host": "box.lan", "Origin": "http://box.lan:9999"})
        assert_json_error(r, 403, CROSS_ORIGIN)


# ── access gate ─────────────────────────────────────────────────────────────────────────────
def test_gate_requires_the_token_on_api_routes(gated, clawboo_data_dir):
    with gated.client() as c:
        assert_json_error(c.get("/api/runtimes"), 401, TOKEN_REQUIRED)
        r = c.post("/api/runtimes/claude-code/connect", json={"apiKey": KEY})
        assert_json_error(r, 401, TOKEN_REQUIRED)
        assert not vault_file(clawboo_data_dir).exists()
        for bad in ("Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer"):
            r = c.get("/api/runtimes", headers={"Authorization": bad})
            assert_json_error(r, 401, TOKEN_REQUIRED)
        r = c.get("/api/runtimes", headers={"Cookie": "clawboo_access=nope"})
        assert_json_error(r, 401, TOKEN_REQUIRED)
        # Outside /api/ the gate does not apply.
        assert c.get("/not-api").status_code == 404


def test_gate_accepts_a_bearer_token(gated, clawboo_data_dir):
    with gated.client() as c:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        assert c.get("/api/runtimes", headers=auth).status_code == 200
        assert (
            c.get("/api/runtimes", headers={"Authorization": f"bearer {TOKEN}"}).status_code == 200
        )
        r = c.post("/api/runtimes/claude-code/connect", json={"apiKey": KEY}, headers=auth)
        assert r.status_code == 200, r.text
        assert vault_file(clawboo_data_dir).exists()


def test_cookie_flow(gated):
    with gated.client(follow_redirects=False) as c:
        r = c.get(f"/?access_token={TOKEN}")
        assert r.status_code == 302
        assert r.headers["location"] == "/"
        cookie = r.headers["set-cookie"]
        parts = [p.strip() for p in cookie.split(";")]
        assert parts[0] == f"clawboo_access={TOKEN}"
        assert {"HttpOnly", "Path=/", "SameSite=Lax"} <= set(parts)
        assert "Secure" not in parts
        assert TOKEN not in r.text
        # The cookie jar now holds it: /api/ works without a header.
        assert c.get("/api/runtimes").status_code == 200

    with gated.client(follow_redirects=False) as c:
        r = c.get(
            f"/api/runtimes?a=1&access_token={TOKEN}&b=x%20y",
            headers={"X-Forwarded-Proto": "https"},
        )
        assert r.status_code == 302
        assert r.headers["location"] == "/api/runtimes?a=1&b=x%20y"
        assert "Secure" in [p.strip() for p in r.headers["set-cookie"].split(";")]

    # A protocol-relative path can never turn the redirect into an off-site one.
    for target in ("//evil.example/x", "/\\evil.example/x", "///evil.example/x"):
        head = (
            f"GET {target}?access_token={TOKEN}&k=v HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{gated.port}\r\nConnection: close\r\n\r\n"
        ).encode()
        raw = _raw_http(gated.port, head)
        assert raw.startswith(b"HTTP/1.1 302"), raw
        assert b"\r\nlocation: /evil.example/x?k=v\r\n" in raw.lower(), raw


def test_wrong_query_token_is_rejected(gated):
    with gated.client(follow_redirects=False) as c:
        for query in (
            "access_token=wrong",
            "access_token=",
            f"access_token={TOKEN}&access_token=x",
        ):
            r = c.get(f"/?{query}")
            assert_json_error(r, 401, TOKEN_INVALID)
            assert "set-cookie" not in r.headers
        assert_json_error(c.get("/api/runtimes?access_token=wrong"), 401, TOKEN_INVALID)
        assert_json_error(c.get("/api/runtimes"), 401, TOKEN_REQUIRED)


def test_same_origin_guard_runs_before_the_gate(gated):
    with gated.client() as c:
        r = c.get(
            "/api/runtimes",
            headers={"Authorization": f"Bearer {TOKEN}", "Origin": "http://evil.example"},
        )
        assert_json_error(r, 403, CROSS_ORIGIN)


def test_mcp_paths_are_exempt_for_loopback_peers(gated):
    with gated.client() as c:
        for headers in ({}, {"Authorization": "Bearer some-per-run-token"}):
            r = c.post("/api/mcp/tasks", json={}, headers=headers)
            assert r.status_code != 401 or TOKEN_REQUIRED["error"] not in r.text
            assert TOKEN_INVALID["error"] not in r.text
        # ...but the same-origin guard still applies to them.
        assert_json_error(
            c.post("/api/mcp/tasks", headers={"Host": "evil.example"}), 403, CROSS_ORIGIN
        )
        # The exemption is for /api/mcp/ only.
        assert_json_error(c.get("/api/mcpx"), 401, TOKEN_REQUIRED)


def _probe_app(tmp_path: Path, env: dict) -> FastAPI:
    """A tiny app behind the real guards, for tests that need a chosen TCP peer."""
    app = FastAPI()

    @app.api_route("/api/{rest:path}", methods=["GET", "POST"])
    async def api(rest: str) -> dict:
        return {"ok": True, "path": rest}

    install_security(app, HostConfig(data_dir=tmp_path, port=18790, env=env))
    return app


async def _request(app, client_ip: str, method: str, path: str, **kwargs) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, client=(client_ip, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:18790") as c:
        return await c.request(method, path, **kwargs)


def test_mcp_exemption_is_judged_by_the_socket_peer_not_headers(tmp_path):
    app = _probe_app(tmp_path, {"CLAWBOO_ACCESS_TOKEN": TOKEN})

    async def go():
        remote = await _request(
            app,
            "192.0.2.7",
            "POST",
            "/api/mcp/tasks",
            headers={
                "X-Forwarded-For": "127.0.0.1",
                "X-Real-IP": "127.0.0.1",
                "Forwarded": "for=127.0.0.1",
            },
        )
        assert_json_error(remote, 401, TOKEN_REQUIRED)
        remote_ok = await _request(
            app,
            "192.0.2.7",
            "POST",
            "/api/mcp/tasks",
            headers={"Cookie": f"a=b; clawboo_access={TOKEN}"},
        )
        assert remote_ok.status_code == 200
        for ip in ("127.0.0.1", "127.9.9.9", "::1", "::ffff:127.0.0.1"):
            local = await _request(app, ip, "POST", "/api/mcp/tasks")
            assert local.status_code == 200, ip
        local_other = await _request(app, "127.0.0.1", "GET", "/api/runtimes")
        assert_json_error(local_other, 401, TOKEN_REQUIRED)

    asyncio.run(go())


@pytest.mark.parametrize("token", ["has space", "semi;colon", 'quote"d', "ünï"])
def test_a_malformed_token_disables_the_gate_with_a_warning(tmp_path, caplog, token):
    with caplog.at_level("WARNING", logger="clawboo_host.security"):
        app = _probe_app(tmp_path, {"CLAWBOO_ACCESS_TOKEN": token})
    assert "access gate is DISABLED" in caplog.text
    assert token not in caplog.text
    r = asyncio.run(_request(app, "127.0.0.1", "GET", "/api/runtimes"))
    assert r.status_code == 200


def test_settings_never_show_the_token(tmp_path):
    settings = SecuritySettings.from_config(
        HostConfig(data_dir=tmp_path, env={"CLAWBOO_ACCESS_TOKEN": TOKEN})
    )
    assert TOKEN not in repr(settings) and TOKEN not in str(settings)


# ── body limit ──────────────────────────────────────────────────────────────────────────────
def _raw_http(port: int, head: bytes, body: bytes = b"") -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head + body)
        chunks = []
        while True:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks)


def test_content_length_over_the_limit_is_413_without_reading_the_body(server, clawboo_data_dir):
    # Announce 3 MiB and send none of it: the answer must come anyway.
    head = (
        f"POST /api/runtimes/claude-code/connect HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {3 * MiB}\r\n\r\n"
    ).encode()
    raw = _raw_http(server.port, head)
    status_line, _, rest = raw.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 413")
    headers, _, body = rest.partition(b"\r\n\r\n")
    assert b"content-type: application/json" in headers.lower()
    assert json.loads(body) == TOO_LARGE
    assert not vault_file(clawboo_data_dir).exists()


def test_content_length_body_over_the_limit_from_httpx(client, clawboo_data_dir):
    payload = json.dumps({"apiKey": KEY, "pad": "x" * (2 * MiB)})
    r = client.post(
        "/api/runtimes/claude-code/connect",
        content=payload,
        headers={"Content-Type": "application/json"},
    )
    assert_json_error(r, 413, TOO_LARGE)
    assert not vault_file(clawboo_data_dir).exists()
    # Outside /api/ too: the limit is on every request.
    assert_json_error(client.post("/anything", content=b"x" * (2 * MiB + 1)), 413, TOO_LARGE)


def test_chunked_body_over_the_limit_is_413(client, clawboo_data_dir):
    sent = 0

    def body():
        nonlocal sent
        yield b'{"apiKey": "' + KEY.encode() + b'", "pad": "'
        for _ in range(40):
            chunk = b"x" * (64 * 1024)
            sent += len(chunk)
            yield chunk
        yield b'"}'

    r = client.post(
        "/api/runtimes/claude-code/connect",
        content=body(),
        headers={"Content-Type": "application/json"},
    )
    assert "content-length" not in r.request.headers  # really chunked
    assert r.request.headers["transfer-encoding"] == "chunked"
    assert_json_error(r, 413, TOO_LARGE)
    assert not vault_file(clawboo_data_dir).exists()
    # The server is fine afterwards.
    assert client.get("/api/runtimes").status_code == 200


def test_bodies_at_the_limit_pass(client):
    payload = b'{"pad": "' + b"x" * (2 * MiB - 12) + b'"}'
    assert len(payload) <= 2 * MiB
    r = client.post(
        "/api/runtimes/claude-code/connect",
        content=payload,
        headers={"Content-Type": "application/json"},
    )
    assert_json_error(r, 400, {"error": "apiKey is required"})


def test_the_app_never_sees_a_refused_or_abandoned_body(tmp_path):
    """The body is counted before the app runs: an overflow or a client that leaves mid-body
    never reaches it; a body within the limit arrives whole, then the disconnect."""
    seen: list[dict] = []

    async def app(scope, receive, send):
        seen.append(await receive())
        seen.append(await receive())

    guarded = BodyReadAheadMiddleware(
        app, SecuritySettings.from_config(HostConfig(data_dir=tmp_path, env={}))
    )
    scope = {"type": "http", "method": "POST", "path": "/api/x", "headers": []}

    def run(messages: list[dict]) -> list[dict]:
        sent: list[dict] = []

        async def receive():
            return messages.pop(0)

        async def send(msg):
            sent.append(msg)

        asyncio.run(guarded(scope, receive, send))
        return sent

    part = {"type": "http.request", "body": b"x" * MiB, "more_body": True}
    sent = run([part, part, part])
    assert sent[0]["status"] == 413 and json.loads(sent[1]["body"]) == TOO_LARGE
    assert run([part, {"type": "http.disconnect"}]) == [] and seen == []
    last = {"type": "http.request", "body": b"yz", "more_body": False}
    assert run([part, last, {"type": "http.disconnect"}]) == []
    assert seen == [
        {"type": "http.request", "body": b"x" * MiB + b"yz", "more_body": False},
        {"type": "http.disconnect"},
    ]


# ── rate limits ─────────────────────────────────────────────────────────────────────────────
def test_sensitive_limit_on_connect_does_not_affect_other_routes(
    clawboo_host_factory, clawboo_env, clawboo_data_dir
):
    server = clawboo_host_factory(
        env=dict(clawboo_env, CLAWBOO_RATE_LIMIT_SENSITIVE="3", CLAWBOO_RATE_LIMIT_GENERAL="50")
    )
    with server.client() as c:
        for i in range(3):
            r = c.post("/api/runtimes/claude-code/connect", json={})
            assert r.status_code == 400, r.text
            assert r.headers["ratelimit-limit"] == "3"
            assert r.headers["ratelimit-remaining"] == str(2 - i)
            assert 1 <= int(r.headers["ratelimit-reset"]) <= 60
        r = c.post("/api/runtimes/claude-code/connect", json={"apiKey": KEY})
        assert_json_error(r, 429, RATE_SENSITIVE)
        assert r.headers["ratelimit-limit"] == "3"
        assert r.headers["ratelimit-remaining"] == "0"
        assert 1 <= int(r.headers["retry-after"]) <= 60
        assert r.headers["retry-after"] == r.headers["ratelimit-reset"]
        assert not vault_file(clawboo_data_dir).exists()  # the refused connect did nothing
        # Every sensitive route shares the tier, for any runtime id.
        assert_json_error(c.post("/api/runtimes/codex/disconnect"), 429, RATE_SENSITIVE)
        assert_json_error(c.post("/api/runtimes/hermes/install"), 429, RATE_SENSITIVE)
        # Other routes (healthcheck included) still work and show the general tier.
        r = c.get("/api/runtimes")
        assert r.status_code == 200
        assert r.headers["ratelimit-limit"] == "50"
        r = c.post("/api/runtimes/clawboo-native/healthcheck", json={"provider": "nope"})
        assert r.status_code == 400 and r.headers["ratelimit-limit"] == "50"
        # GET on a sensitive path is not the sensitive operation.
        assert c.get("/api/runtimes/claude-code/connect").status_code == 405


def test_general_limit_applies_to_every_api_route(clawboo_host_factory, clawboo_env):
    server = clawboo_host_factory(env=dict(clawboo_env, CLAWBOO_RATE_LIMIT_GENERAL="5"))
    with server.client() as c:
        for i in range(5):
            r = c.get("/api/runtimes")
            assert r.status_code == 200
            assert r.headers["ratelimit-remaining"] == str(4 - i)
        r = c.get("/api/runtimes")
        assert_json_error(r, 429, RATE_GENERAL)
        assert r.headers["ratelimit-limit"] == "5"
        assert r.headers["ratelimit-remaining"] == "0"
        assert int(r.headers["retry-after"]) >= 1
        assert_json_error(c.post("/api/runtimes/claude-code/connect", json={}), 429, RATE_GENERAL)
        assert_json_error(c.get("/api/board/tasks"), 429, RATE_GENERAL)
        # Non-/api/ paths are not counted.
        r = c.get("/not-api")
        assert r.status_code == 404 and "ratelimit-limit" not in r.headers


def test_limits_are_per_socket_ip_and_windows_expire(tmp_path):
    app = _probe_app(tmp_path, {"CLAWBOO_RATE_LIMIT_GENERAL": "2"})
    clock = [1000.0]
    # Point the rate limiter at a fake clock.
    app.build_middleware_stack()
    app.middleware_stack = None
    for mw in app.user_middleware:
        if mw.cls is RateLimitMiddleware:
            mw.kwargs["clock"] = lambda: clock[0]

    async def go():
        for _ in range(2):
            assert (await _request(app, "192.0.2.1", "GET", "/api/x")).status_code == 200
        over = await _request(
            app, "192.0.2.1", "GET", "/api/x", headers={"X-Forwarded-For": "192.0.2.99"}
        )
        assert_json_error(over, 429, RATE_GENERAL)
        # A different peer has its own budget.
        assert (await _request(app, "192.0.2.2", "GET", "/api/x")).status_code == 200
        clock[0] += 61
        again = await _request(app, "192.0.2.1", "GET", "/api/x")
        assert again.status_code == 200 and again.headers["ratelimit-remaining"] == "1"

    asyncio.run(go())


def test_x_forwarded_for_cannot_dodge_the_live_limit(clawboo_host_factory, clawboo_env):
    server = clawboo_host_factory(env=dict(clawboo_env, CLAWBOO_RATE_LIMIT_SENSITIVE="1"))
    with server.client() as c:
        assert c.post("/api/runtimes/claude-code/connect", json={}).status_code == 400
        r = c.post(
            "/api/runtimes/claude-code/connect", json={}, headers={"X-Forwarded-For": "203.0.113.9"}
        )
        assert_json_error(r, 429, RATE_SENSITIVE)


def test_expired_windows_are_dropped(tmp_path):
    clock = [0.0]

    async def ok(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    settings = SecuritySettings.from_config(HostConfig(data_dir=tmp_path, env={}))
    limiter = RateLimitMiddleware(ok, settings, clock=lambda: clock[0])

    async def hit(ip):
        async def receive():
            return {"type": "http.request", "body": b""}

        async def send(_msg):
            pass

        scope = {
            "type": "http",
            "method": "GET",
            "path": "/api/x",
            "headers": [],
            "client": (ip, 1),
        }
        await limiter(scope, receive, send)

    async def go():
        for i in range(1000):
            await hit(f"10.0.{i // 256}.{i % 256}")
        assert len(limiter.general) == 1000
        clock[0] += 120
        await hit("10.9.9.9")
        assert len(limiter.general) == 1

    asyncio.run(go())


@pytest.mark.parametrize("value", ["0", "-4", "many", "1.5"])
def test_bad_limit_overrides_fall_back_to_the_defaults(tmp_path, value):
    settings = SecuritySettings.from_config(
        HostConfig(
            data_dir=tmp_path,
            env={"CLAWBOO_RATE_LIMIT_SENSITIVE": value, "CLAWBOO_RATE_LIMIT_GENERAL": value},
        )
    )
    assert (settings.sensitive_limit, settings.general_limit) == (60, 3000)


# ── streaming is not buffered ───────────────────────────────────────────────────────────────
def test_streamed_responses_pass_through_unbuffered(tmp_path):
    release = threading.Event()

    def build(port: int) -> FastAPI:
        app = FastAPI()

        @app.post("/api/stream")
        async def stream() -> StreamingResponse:
            async def frames():
                yield b"data: first\n\n"
                deadline = time.monotonic() + 20
                while not release.is_set() and time.monotonic() < deadline:
                    await asyncio.sleep(0.01)
                yield b"data: last\n\n"

            return StreamingResponse(frames(), media_type="text/event-stream")

        install_security(
            app, HostConfig(data_dir=tmp_path, port=port, env={"CLAWBOO_ACCESS_TOKEN": TOKEN})
        )
        return app

    auth = {"Authorization": f"Bearer {TOKEN}"}
    with (
        LiveServer(build) as server,
        server.client() as c,
        c.stream("POST", "/api/stream", headers=auth) as r,
    ):
        assert r.status_code == 200
        assert "ratelimit-limit" in r.headers
        chunks = r.iter_bytes()
        first = next(chunks)
        assert first.startswith(b"data: first")  # arrived while the stream was held open
        release.set()
        assert b"data: last" in first + b"".join(chunks)


def test_wrong_access_token_guesses_are_rate_limited(clawboo_host_factory, clawboo_env):
    env = dict(clawboo_env, CLAWBOO_ACCESS_TOKEN="right-token-123", CLAWBOO_RATE_LIMIT_GENERAL="5")
    with clawboo_host_factory(env=env).client() as c:
        codes = [
            c.get("/api/runtimes", headers={"Authorization": f"Bearer guess-{i}"}).status_code
            for i in range(8)
        ]
    assert codes[:5] == [401] * 5 and codes[5:] == [429] * 3
