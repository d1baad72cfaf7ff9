"""HTTP hardening: body limit, same-origin guard, access gate and rate limits (api-contract §9).

All are pure ASGI middleware (never ``BaseHTTPMiddleware``), so streamed responses such
as SSE pass through unbuffered. :func:`install_security` applies them, outermost first::

    body limit (declared length) → same-origin guard → rate limit → access gate
      → body read-ahead (counted, then replayed) → the app

so a request that a guard rejects never reaches a handler and changes nothing. Every rejection
is JSON ``{"error": ...}`` with ``content-type: application/json``.

Settings are read from :class:`~clawboo_host.config.HostConfig` when the app is built; the
bound port is read per request (``config.port``, else the server's socket). Client identity
comes only from the TCP peer (``scope["client"]``), never from ``X-Forwarded-For`` or any
other header. No secret value is ever logged. See ``docs/security.md``.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus, urlsplit

from .config import HostConfig

__all__ = [
    "ACCESS_COOKIE",
    "BODY_LIMIT_BYTES",
    "AccessGateMiddleware",
    "BodyLimitMiddleware",
    "BodyReadAheadMiddleware",
    "RateLimitMiddleware",
    "SameOriginMiddleware",
    "SecuritySettings",
    "install_security",
]

log = logging.getLogger(__name__)

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

BODY_LIMIT_BYTES = 2 * 1024 * 1024
ACCESS_COOKIE = "clawboo_access"
WINDOW_SECONDS = 60
DEFAULT_SENSITIVE_LIMIT = 60
DEFAULT_GENERAL_LIMIT = 3000

MSG_TOO_LARGE = "Request body too large (limit 2 MiB)."
MSG_CROSS_ORIGIN = "Cross-origin request blocked."
MSG_TOKEN_REQUIRED = (
    "Clawboo access token required. Open /?access_token=<token> once to set a cookie."
)
MSG_TOKEN_INVALID = "Invalid Clawboo access token."
MSG_RATE_GENERAL = "Too many requests. Wait a moment and retry."
MSG_RATE_SENSITIVE = "Too many requests for this operation. Wait a moment and retry."

_TOKEN_RE = re.compile(r"[A-Za-z0-9._~-]+")


def is_usable_access_token(token: str) -> bool:
    """Tokens are restricted to URL-safe characters; any other token disables the gate."""
    return bool(_TOKEN_RE.fullmatch(token))


_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_FETCH_SITES = frozenset({"same-origin", "same-site", "none"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: Routes that spend money, touch credentials or install software (api-contract §9.5).
_SENSITIVE_PATH = re.compile(
    r"/api/(?:runtimes/[^/]+/(?:install|connect|disconnect|logout)|auth/cli-login/[^/]+)"
)


# ── helpers ─────────────────────────────────────────────────────────────────────────────────
def _header(scope: Scope, name: bytes) -> str | None:
    """The first value of header ``name`` (lower-case bytes), latin-1 decoded."""
    for key, value in scope.get("headers") or ():
        if key == name:
            return value.decode("latin-1")
    return None


def _headers(scope: Scope, name: bytes) -> list[str]:
    return [v.decode("latin-1") for k, v in scope.get("headers") or () if k == name]


def _route_path(scope: Scope) -> str:
    """The path the router matches on (``root_path`` removed, percent-decoded)."""
    path = scope.get("path") or "/"
    root = scope.get("root_path") or ""
    if root and path.startswith(root):
        path = path[len(root) :] or "/"
    return path


def _is_api(path: str) -> bool:
    folded = path.casefold()
    return folded == "/api" or folded.startswith("/api/")


def _is_mcp(path: str) -> bool:
    folded = path.casefold()
    return folded == "/api/mcp" or folded.startswith("/api/mcp/")


def _client_ip(scope: Scope) -> str | None:
    client = scope.get("client")
    if not client:
        return None
    return str(client[0])


def _is_loopback_ip(value: str | None) -> bool:
    """A loopback *socket address* (127.0.0.0/8, ::1, or v4-mapped 127.x). Names don't count."""
    if not value:
        return False
    try:
        ip = ipaddress.ip_address(value.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def _host_name(raw: str) -> str:
    """The hostname of a ``Host`` value or host entry: port, brackets, one trailing dot gone."""
    value = raw.strip()
    if value.startswith("["):
        end = value.find("]")
        name = value[1:end] if end != -1 else value[1:]
    elif value.count(":") == 1:
        name = value.split(":", 1)[0]
    else:  # a bare name, or an unbracketed IPv6 literal
        name = value
    return name.removesuffix(".").lower()


#: A request's ``Host``: ``name[:port]`` or ``[ipv6][:port]`` and nothing else (RFC 9110 §7.2;
#: no userinfo, path, spaces or empty port), so ``localhost:80@evil.example`` is not localhost.
_HOST_HEADER = re.compile(r"(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<name>[A-Za-z0-9._-]+))(?::\d{1,5})?")


def _request_host_name(raw: str) -> str | None:
    """The hostname of a request's ``Host`` header (lower-cased, one trailing dot gone), or
    ``None`` when the value is not strictly ``host[:port]``."""
    match = _HOST_HEADER.fullmatch(raw.strip())
    if match is None:
        return None
    if match["v6"] is not None:
        try:
            return str(ipaddress.IPv6Address(match["v6"]))
        except ValueError:
            return None
    return match["name"].removesuffix(".").lower() or None


def _is_loopback_v4(name: str) -> bool:
    try:
        ip = ipaddress.IPv4Address(name)
    except ValueError:
        return False
    return ip in ipaddress.IPv4Network("127.0.0.0/8")


def _normalize_origin(raw: str) -> str | None:
    """``scheme://host[:port]`` lower-cased, default port and trailing slash dropped."""
    value = raw.strip().rstrip("/")
    if not value or value.lower() == "null":
        return None
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname  # lower-cased, brackets stripped
    if not scheme or not host or parts.path or parts.query or parts.fragment:
        return None
    if parts.username is not None or parts.password is not None:
        return None
    if ":" in host:
        host = f"[{host}]"
    if port is None or _DEFAULT_PORTS.get(scheme) == port:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def _csv(env: Mapping[str, str], name: str) -> list[str]:
    return [item.strip() for item in (env.get(name) or "").split(",") if item.strip()]


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        log.warning("%s must be a positive integer; using the default %d", name, default)
        return default
    return value


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8")).digest()


def _json_body(message: str) -> bytes:
    return json.dumps({"error": message}, ensure_ascii=False, separators=(",", ":")).encode()


async def _send_json(
    send: Send, status: int, message: str, headers: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    body = _json_body(message)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _reject_websocket(send: Send) -> None:
    """Refuse a WebSocket handshake (the server answers it with HTTP 403)."""
    await send({"type": "websocket.close", "code": 1008})


# ── settings ────────────────────────────────────────────────────────────────────────────────
@dataclass
class SecuritySettings:
    """Everything the guards need, resolved once from the host config."""

    config: HostConfig
    bind_host: str
    allowed_hosts: frozenset[str]
    allowed_origins: frozenset[str]
    access_token: str | None
    sensitive_limit: int
    general_limit: int
    body_limit: int = BODY_LIMIT_BYTES
    _token_digest: bytes | None = field(default=None, repr=False)

    def __repr__(self) -> str:  # never show the token, even in a debugger or a traceback
        return (
            f"SecuritySettings(bind_host={self.bind_host!r}, "
            f"access_gate={'on' if self.access_token else 'off'}, "
            f"sensitive_limit={self.sensitive_limit}, general_limit={self.general_limit})"
        )

    @classmethod
    def from_config(cls, config: HostConfig) -> SecuritySettings:
        env = config.env
        bind = _host_name(config.bind_host or "127.0.0.1")
        hosts = frozenset(_host_name(h) for h in _csv(env, "CLAWBOO_ALLOWED_HOSTS"))
        origins = frozenset(
            o for o in (_normalize_origin(x) for x in _csv(env, "CLAWBOO_ALLOWED_ORIGINS")) if o
        )
        token = (env.get("CLAWBOO_ACCESS_TOKEN") or "").strip() or None
        if token is not None and not is_usable_access_token(token):
            log.warning(
                "CLAWBOO_ACCESS_TOKEN contains characters outside [A-Za-z0-9._~-]; "
                "the access gate is DISABLED"
            )
            token = None
        settings = cls(
            config=config,
            bind_host=bind,
            allowed_hosts=hosts,
            allowed_origins=origins,
            access_token=token,
            sensitive_limit=_positive_int(
                env, "CLAWBOO_RATE_LIMIT_SENSITIVE", DEFAULT_SENSITIVE_LIMIT
            ),
            general_limit=_positive_int(env, "CLAWBOO_RATE_LIMIT_GENERAL", DEFAULT_GENERAL_LIMIT),
        )
        settings._token_digest = _digest(token) if token else None
        return settings

    # same-origin
    def host_allowed(self, raw_host: str | None) -> bool:
        name = _request_host_name(raw_host) if raw_host else None
        if not name:
            return False
        return (
            name in _LOOPBACK_NAMES
            or _is_loopback_v4(name)
            or name == self.bind_host
            or name in self.allowed_hosts
        )

    def origin_allowed(self, raw_origin: str, scope: Scope) -> bool:
        origin = _normalize_origin(raw_origin)
        if origin is None:  # includes the opaque "null" origin
            return False
        if origin in self.allowed_origins:
            return True
        port = self.config.port or (scope.get("server") or (None, None))[1]
        if not port:
            return False
        bind = f"[{self.bind_host}]" if ":" in self.bind_host else self.bind_host
        for host in ("localhost", "127.0.0.1", "[::1]", bind):
            for scheme in ("http", "https"):
                if origin == _normalize_origin(f"{scheme}://{host}:{port}"):
                    return True
        return False

    # access gate
    def token_matches(self, candidate: str) -> bool:
        """Constant-time comparison on SHA-256 digests (lengths never leak)."""
        if self._token_digest is None:
            return False
        return hmac.compare_digest(_digest(candidate), self._token_digest)


# ── 1. body limit ───────────────────────────────────────────────────────────────────────────
_CLOSE = [(b"connection", b"close")]


class BodyLimitMiddleware:
    """413 for a declared ``Content-Length`` over the limit, without reading a byte."""

    def __init__(self, app: ASGIApp, settings: SecuritySettings) -> None:
        self.app = app
        self.limit = settings.body_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for raw in _headers(scope, b"content-length"):
                try:
                    declared = int(raw.strip())
                except ValueError:
                    continue
                if declared > self.limit:
                    await _send_json(send, 413, MSG_TOO_LARGE, _CLOSE)
                    return
        await self.app(scope, receive, send)


class BodyReadAheadMiddleware:
    """Read and count the whole body *before* the app runs, then replay it: 413 past the limit.

    A route that never reads its body (``disconnect``, ``install``) must not act on a
    request that is going to be refused (a chunked body has no length to judge up front).
    Innermost, so a request the guards refuse is never buffered.
    """

    def __init__(self, app: ASGIApp, settings: SecuritySettings) -> None:
        self.app = app
        self.limit = settings.body_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left before finishing its request: nothing to answer
            body += message.get("body", b"")
            if len(body) > self.limit:
                await _send_json(send, 413, MSG_TOO_LARGE, _CLOSE)
                return
            if not message.get("more_body", False):
                break

        replayed = False

        async def replay_receive() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()  # after the body: only a disconnect can come

        await self.app(scope, replay_receive, send)


# ── 2. same-origin guard ────────────────────────────────────────────────────────────────────
class SameOriginMiddleware:
    """Only the server's own origin may call ``/api/``: stops DNS rebinding and CSRF."""

    def __init__(self, app: ASGIApp, settings: SecuritySettings) -> None:
        self.app = app
        self.settings = settings

    def allowed(self, scope: Scope) -> bool:
        s = self.settings
        hosts = _headers(scope, b"host")
        origins = _headers(scope, b"origin")
        sites = _headers(scope, b"sec-fetch-site")
        # Two values of one of these headers could be judged by one and acted on by another
        # (a proxy, a framework): a request that sends two is refused, never interpreted.
        if len(hosts) != 1 or len(origins) > 1 or len(sites) > 1:
            return False
        if not s.host_allowed(hosts[0]):
            return False
        origin = origins[0] if origins else None
        if origin is not None and origin.strip() and not s.origin_allowed(origin, scope):
            return False
        site = (sites[0] if sites else "").strip().lower()
        return not site or site in _FETCH_SITES

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        guarded = scope["type"] in ("http", "websocket") and _is_api(_route_path(scope))
        if guarded and not self.allowed(scope):
            if scope["type"] == "http":
                await _send_json(send, 403, MSG_CROSS_ORIGIN)
            else:
                await _reject_websocket(send)
            return
        await self.app(scope, receive, send)


# ── 3. access gate ──────────────────────────────────────────────────────────────────────────
def _split_query(raw: bytes) -> tuple[list[str], list[str]]:
    """(access_token values, the other raw ``k=v`` pieces in order, encoding untouched)."""
    tokens: list[str] = []
    kept: list[str] = []
    for piece in raw.decode("latin-1").split("&"):
        if not piece:
            continue
        key, _, value = piece.partition("=")
        if unquote_plus(key) == "access_token":
            tokens.append(unquote_plus(value))
        else:
            kept.append(piece)
    return tokens, kept


def _cookie_values(scope: Scope, name: str) -> list[str]:
    values = []
    for header in _headers(scope, b"cookie"):
        for part in header.split(";"):
            key, sep, value = part.strip().partition("=")
            if sep and key.strip() == name:
                values.append(value.strip().strip('"'))
    return values


def _bearer(scope: Scope) -> str | None:
    raw = _header(scope, b"authorization")
    if not raw:
        return None
    scheme, _, value = raw.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def _safe_location(scope: Scope) -> str:
    """The request's own path, always site-relative (``//evil`` cannot become a redirect)."""
    raw = scope.get("raw_path")
    path = raw.decode("latin-1") if raw else (scope.get("path") or "/")
    path = path.split("?", 1)[0]
    return "/" + path.lstrip("/\\")


class AccessGateMiddleware:
    """``CLAWBOO_ACCESS_TOKEN``: one shared secret for everything under ``/api/``."""

    def __init__(self, app: ASGIApp, settings: SecuritySettings) -> None:
        self.app = app
        self.settings = settings

    def authorized(self, scope: Scope, path: str) -> bool:
        s = self.settings
        if _is_mcp(path) and _is_loopback_ip(_client_ip(scope)):
            # Local runtimes reach the MCP server with their own per-run bearer token, which
            # the MCP route checks; it is not an access-token attempt.
            return True
        if any(s.token_matches(v) for v in _cookie_values(scope, ACCESS_COOKIE)):
            return True
        bearer = _bearer(scope)
        return bearer is not None and s.token_matches(bearer)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        s = self.settings
        if s.access_token is None or scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path = _route_path(scope)
        tokens, kept = _split_query(scope.get("query_string") or b"")
        if tokens and scope["type"] == "http":
            if not all(s.token_matches(t) for t in tokens):
                await _send_json(send, 401, MSG_TOKEN_INVALID)
                return
            await self._redirect_with_cookie(scope, send, kept)
            return
        if _is_api(path) and not self.authorized(scope, path):
            if scope["type"] == "http":
                await _send_json(send, 401, MSG_TOKEN_REQUIRED)
            else:
                await _reject_websocket(send)
            return
        await self.app(scope, receive, send)

    async def _redirect_with_cookie(self, scope: Scope, send: Send, kept: list[str]) -> None:
        location = _safe_location(scope)
        if kept:
            location += "?" + "&".join(kept)
        cookie = f"{ACCESS_COOKIE}={self.settings.access_token}; Path=/; HttpOnly; SameSite=Lax"
        proto = (_header(scope, b"x-forwarded-proto") or "").split(",", 1)[0].strip().lower()
        if proto == "https":
            cookie += "; Secure"
        await send(
            {
                "type": "http.response.start",
                "status": 302,
                "headers": [
                    (b"location", location.encode("latin-1")),
                    (b"set-cookie", cookie.encode("latin-1")),
                    (b"cache-control", b"no-store"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"content-length", b"0"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b""})


# ── 4. rate limits ──────────────────────────────────────────────────────────────────────────
class _FixedWindows:
    """Per-key counters over fixed windows, in memory; expired windows are swept out."""

    def __init__(self, limit: int, window: float = WINDOW_SECONDS) -> None:
        self.limit = limit
        self.window = window
        self._hits: dict[str, tuple[float, int]] = {}
        self._next_sweep = 0.0

    def hit(self, key: str, now: float) -> tuple[int, float]:
        """Count one hit; return (hits in this window, seconds until the window resets)."""
        if now >= self._next_sweep:
            self._sweep(now)
        start, count = self._hits.get(key, (now, 0))
        if now - start >= self.window:
            start, count = now, 0
        count += 1
        self._hits[key] = (start, count)
        return count, max(0.0, start + self.window - now)

    def _sweep(self, now: float) -> None:
        self._hits = {k: v for k, v in self._hits.items() if now - v[0] < self.window}
        self._next_sweep = now + self.window

    def __len__(self) -> int:
        return len(self._hits)


class RateLimitMiddleware:
    """Per-client-IP limits on ``/api/``: every request counts toward the general tier; the
    credential/install routes also count toward the much smaller sensitive tier."""

    def __init__(
        self, app: ASGIApp, settings: SecuritySettings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.app = app
        self.general = _FixedWindows(settings.general_limit)
        self.sensitive = _FixedWindows(settings.sensitive_limit)
        self.clock = clock

    @staticmethod
    def _rate_headers(
        limiter: _FixedWindows, count: int, reset: float
    ) -> list[tuple[bytes, bytes]]:
        reset_s = max(1, math.ceil(reset))
        return [
            (b"ratelimit-policy", f"{limiter.limit};w={int(limiter.window)}".encode()),
            (b"ratelimit-limit", str(limiter.limit).encode()),
            (b"ratelimit-remaining", str(max(0, limiter.limit - count)).encode()),
            (b"ratelimit-reset", str(reset_s).encode()),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = _route_path(scope)
        if scope["type"] != "http" or not _is_api(path):
            await self.app(scope, receive, send)
            return
        ip = _client_ip(scope) or "unknown"
        now = self.clock()

        count, reset = self.general.hit(ip, now)
        headers = self._rate_headers(self.general, count, reset)
        if count > self.general.limit:
            retry = (b"retry-after", str(max(1, math.ceil(reset))).encode())
            await _send_json(send, 429, MSG_RATE_GENERAL, [*headers, retry])
            return
        if scope.get("method") == "POST" and _SENSITIVE_PATH.fullmatch(path):
            count, reset = self.sensitive.hit(ip, now)
            headers = self._rate_headers(self.sensitive, count, reset)
            if count > self.sensitive.limit:
                retry = (b"retry-after", str(max(1, math.ceil(reset))).encode())
                await _send_json(send, 429, MSG_RATE_SENSITIVE, [*headers, retry])
                return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = [*(message.get("headers") or ()), *headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)


# ── wiring ──────────────────────────────────────────────────────────────────────────────────
def install_security(app: Any, config: HostConfig) -> SecuritySettings:
    """Add the guards to a Starlette/FastAPI ``app`` (before it starts serving).

    ``add_middleware`` puts the last-added layer outermost, hence the reverse order here.
    """
    settings = SecuritySettings.from_config(config)
    # The rate limit sits inside the same-origin guard (a foreign page cannot spend the
    # user's quota) and outside the access gate (wrong token guesses are counted too).
    app.add_middleware(BodyReadAheadMiddleware, settings=settings)
    app.add_middleware(AccessGateMiddleware, settings=settings)
    app.add_middleware(RateLimitMiddleware, settings=settings)
    app.add_middleware(SameOriginMiddleware, settings=settings)
    app.add_middleware(BodyLimitMiddleware, settings=settings)
    return settings
