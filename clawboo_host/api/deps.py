"""Small helpers every router uses to reach the host's services and read JSON bodies."""

from __future__ import annotations

import json

from fastapi import Request

from ..errors import ApiError
from ..host import Host


def get_host(request: Request) -> Host:
    return request.app.state.host


async def json_body(request: Request) -> dict:
    """The request's JSON object. Missing or non-JSON content type reads as ``{}``.

    Malformed JSON is a 400; a JSON value that is not an object is a 400 too, so handlers
    can always treat the body as a dict.
    """
    raw = await request.body()
    content_type = request.headers.get("content-type", "")
    if not raw.strip() or "json" not in content_type.lower():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "malformed JSON body") from None
    if not isinstance(body, dict):
        raise ApiError(400, "JSON body must be an object")
    return body


def text_field(body: dict, name: str) -> str:
    """A trimmed string field; anything that is not a string reads as ``''``."""
    value = body.get(name)
    return value.strip() if isinstance(value, str) else ""
