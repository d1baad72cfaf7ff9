"""The uvicorn settings that ``serve`` and the test server share, and JSON for the requests
uvicorn itself rejects before the app runs.

uvicorn answers an unparseable request (no or two ``Host`` headers, a bad or conflicting
``Content-Length``, an illegal header line, headers too large) with a ``text/plain`` 400 from
its protocol class. :class:`JsonErrorsH11Protocol` is its h11 protocol with that one answer
made ``{"error": ...}`` JSON, so every rejection a client can see is JSON. Pinning the h11
protocol (instead of uvicorn's "auto" choice) also keeps the server's parsing the same
whether or not ``httptools`` happens to be installed. What still cannot be JSON is listed in
``docs/security.md``.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["JsonErrorsH11Protocol", "uvicorn_config"]

GENERIC_REASON = "Invalid HTTP request received."
#: h11's own reasons that carry no request data, passed on as they are; any other parse
#: error (its text may quote the offending bytes) is answered with GENERIC_REASON.
_SAFE_REASONS = frozenset(
    {
        "Missing mandatory Host: header",
        "Found multiple Host: headers",
        "bad Content-Length",
        "conflicting Content-Length headers",
        "illegal header line",
        "illegal request line",
        "Only HTTP/1.1 and HTTP/1.0 are supported",
        "Transfer-Encoding and Content-Length cannot both be present",
        "multiple Transfer-Encoding headers",
        "Only Transfer-Encoding: chunked is supported",
        "no request line received",
    }
)
_RENAMED = {"Receive buffer too long": "Request header fields too large"}


class _ReasonRecordingConnection(h11.Connection):
    """An h11 server connection that remembers why it last refused the client's bytes."""

    refusal: str | None = None
    refusal_status = 400

    def next_event(self) -> Any:
        try:
            return super().next_event()
        except h11.RemoteProtocolError as exc:
            self.refusal = _RENAMED.get(str(exc), str(exc))
            self.refusal_status = exc.error_status_hint  # 400, 431 (headers), 501 (coding)
            raise


class JsonErrorsH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, answering requests it cannot parse with JSON (400, or h11's
    431/501 hint)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limit = self.conn._max_incomplete_event_size
        self.conn = _ReasonRecordingConnection(h11.SERVER, limit)

    def send_400_response(self, msg: str) -> None:
        refusal = self.conn.refusal
        known = refusal in _SAFE_REASONS or refusal in _RENAMED.values()
        body = json.dumps({"error": refusal if known else GENERIC_REASON}).encode("utf-8")
        status = self.conn.refusal_status
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        for event in (
            h11.Response(
                status_code=status, headers=headers, reason=HTTPStatus(status).phrase.encode()
            ),
            h11.Data(data=body),
            h11.EndOfMessage(),
        ):
            self.transport.write(self.conn.send(event))
        self.transport.close()
        self.response_started = False
        self.response_complete = False


def uvicorn_config(app: Any, **overrides: Any) -> uvicorn.Config:
    """The server settings: JSON parse errors, no access log, client identity from the TCP
    peer only (``proxy_headers=False``: rate limits and the loopback MCP exemption must never
    trust ``X-Forwarded-For``)."""
    settings: dict[str, Any] = {
        "http": JsonErrorsH11Protocol,
        "log_config": None,
        "access_log": False,
        "proxy_headers": False,
        "timeout_graceful_shutdown": 15,
    }
    settings.update(overrides)
    return uvicorn.Config(app, **settings)
