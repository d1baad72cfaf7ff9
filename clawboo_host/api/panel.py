"""``GET /``: the runtimes panel, static files shipped inside the package (no build step).

The panel is plain HTML, CSS and ES modules in ``clawboo_host/panel/``, served from the same
origin as the API so its ``fetch`` calls pass the same-origin guard and carry the access
cookie. The files hold no data and no secret, so they are served without the access gate;
everything they show comes from ``/api/``, which the gate protects. Only the files present
in the package at start-up can be served (no path from the URL ever reaches the disk).
"""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import Response

from .errors import ApiError

router = APIRouter()

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
# The page may load only its own files and talk only to its own origin.
PANEL_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",
}


def _panel_files() -> dict[str, tuple[bytes, str]]:
    """name → (bytes, content type) for every servable file of the panel package dir."""
    files: dict[str, tuple[bytes, str]] = {}
    for entry in resources.files("clawboo_host").joinpath("panel").iterdir():
        suffix = "." + entry.name.rsplit(".", 1)[-1] if "." in entry.name else ""
        if entry.is_file() and suffix in CONTENT_TYPES:
            files[entry.name] = (entry.read_bytes(), CONTENT_TYPES[suffix])
    return files


PANEL_FILES = _panel_files()


def _serve(name: str) -> Response:
    found = PANEL_FILES.get(name)
    if found is None:
        raise ApiError(404, "Not Found")
    body, content_type = found
    return Response(body, media_type=content_type, headers=PANEL_HEADERS)


@router.get("/", include_in_schema=False)
async def panel_page() -> Response:
    return _serve("index.html")


@router.get("/panel/{name}", include_in_schema=False)
async def panel_asset(name: str) -> Response:
    return _serve(name)
