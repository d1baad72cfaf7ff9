"""Domain errors: what the host's core raises when it refuses a request. None of them knows
HTTP; ``api/errors.py`` holds the one table that maps each kind to a status."""

from __future__ import annotations


class HostError(Exception):
    """A refusal the client should read: ``body`` is its JSON (``{"error": message}``)."""

    def __init__(self, message: str, body: dict | None = None) -> None:
        super().__init__(message)
        self.body = body if body is not None else {"error": message}


class InvalidRequest(HostError):
    """The request cannot be done as asked (a bad field, no key, nothing to install)."""


class NotFound(HostError):
    """What the request names does not exist."""


class UnknownRuntime(NotFound):
    def __init__(self, runtime_id: str) -> None:
        super().__init__(f"unknown runtime '{runtime_id}'")


class Conflict(HostError):
    """The current state forbids it (an install already running, a finished execution)."""


class Unavailable(HostError):
    """A service the request needs is not there (the board failed to open at start-up)."""


class StorageBroken(HostError):
    """The host's own storage (the vault) failed; the message names no file path."""
