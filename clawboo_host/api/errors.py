"""Where errors become HTTP: the one table from domain error to status, and the handlers.

The core raises :mod:`clawboo_host.errors` kinds, a failing plugin :class:`PluginFailure`,
a refused run :class:`RunRefused`; nothing outside ``api/`` picks a status code."""

from __future__ import annotations

from fastapi.responses import JSONResponse

from ..errors import Conflict, HostError, InvalidRequest, NotFound, StorageBroken, Unavailable
from ..registry import PluginFailure
from ..run import RunRefused

#: The one table: a domain error's kind → its HTTP status (first match, most specific first).
STATUS_OF: tuple[tuple[type[Exception], int], ...] = (
    (InvalidRequest, 400),
    (NotFound, 404),
    (Conflict, 409),
    (StorageBroken, 500),
    (PluginFailure, 502),
    (Unavailable, 503),
)

#: A refused run's ``reason`` → its status; a refusal without one (``{"error": ...}``) is 400.
REFUSAL_STATUS = {
    "not_found": 404,
    "conflict": 409,
    "too_deep": 422,
    "connected_substrate": 422,
    "not_installed": 422,
    "budget_paused": 422,
    "workspace_unavailable": 422,
}


class ApiError(Exception):
    """An HTTP-level refusal raised by the routes themselves (``api/`` only)."""

    def __init__(self, status_code: int, message: str, body: dict | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = body if body is not None else {"error": message}


def status_of(exc: Exception) -> int:
    for kind, status in STATUS_OF:
        if isinstance(exc, kind):
            return status
    return 500


def error_response(exc: Exception) -> JSONResponse:
    """The JSON reply for any error the API knows."""
    if isinstance(exc, ApiError):
        return JSONResponse(exc.body, status_code=exc.status_code)
    if isinstance(exc, RunRefused):
        return JSONResponse(exc.body, status_code=REFUSAL_STATUS.get(exc.reason or "", 400))
    if isinstance(exc, PluginFailure):
        # Already logged (redacted) where it was raised; the client learns only which plugin.
        return JSONResponse({"error": exc.public_message}, status_code=502)
    if isinstance(exc, HostError):
        return JSONResponse(exc.body, status_code=status_of(exc))
    raise TypeError(f"not an API error: {type(exc).__name__}")


#: Every exception type :func:`error_response` answers (for the app's handlers).
HANDLED = (ApiError, RunRefused, PluginFailure, HostError)
