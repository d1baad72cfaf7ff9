"""Domain errors that routes raise; one handler turns each into a JSON ``{"error": ...}``."""

from __future__ import annotations


class ApiError(Exception):
    """An error with an HTTP status and a JSON body (``{"error": message}`` by default)."""

    def __init__(self, status_code: int, message: str, body: dict | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = body if body is not None else {"error": message}


class UnknownRuntime(ApiError):
    def __init__(self, runtime_id: str) -> None:
        super().__init__(404, f"unknown runtime '{runtime_id}'")
