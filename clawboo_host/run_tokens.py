"""Per-run MCP tokens (SPEC §4): minted by the host for one live run, revoked when it ends.

A runtime's MCP client presents its token as ``Authorization: Bearer <token>`` when it calls
back into ``/api/mcp/tasks``; the token is the run's only credential and says which task (and
so which team) the calls are scoped to.

Tokens live only in this process's memory, and only as SHA-256 digests: the plain token is
handed to the caller of :meth:`RunTokens.mint` once and never stored, persisted or logged here.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass

__all__ = ["TOKEN_BYTES", "RunScope", "RunTokens"]

#: Random bytes per token (encoded urlsafe base64, 43 characters).
TOKEN_BYTES = 32


@dataclass(frozen=True)
class RunScope:
    """Who is calling: the live run, its task and team, the agent and runtime running it."""

    run_id: str
    task_id: str
    team_id: str | None
    agent_id: str
    runtime_id: str


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


class RunTokens:
    """The live runs' tokens. Thread-safe; every method is cheap and never blocks on I/O."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scopes: dict[bytes, RunScope] = {}

    def mint(self, scope: RunScope) -> str:
        """A fresh token for ``scope`` (valid until :meth:`revoke`)."""
        while True:
            token = secrets.token_urlsafe(TOKEN_BYTES)
            digest = _digest(token)
            with self._lock:
                if digest not in self._scopes:  # a collision is astronomically unlikely
                    self._scopes[digest] = scope
                    return token

    def lookup(self, token: str | None) -> RunScope | None:
        """The scope of a live token, else None (unknown, revoked, empty or not a string)."""
        if not token or not isinstance(token, str):
            return None
        digest = _digest(token)
        with self._lock:
            for stored, scope in self._scopes.items():
                # Compare every live digest in constant time; a dict hit alone would also do,
                # but this keeps the check independent of how the mapping is laid out.
                if hmac.compare_digest(stored, digest):
                    return scope
        return None

    def revoke(self, token: str | None) -> bool:
        """Forget ``token``: later lookups miss. True when it was live; idempotent."""
        if not token or not isinstance(token, str):
            return False
        with self._lock:
            return self._scopes.pop(_digest(token), None) is not None

    def revoke_run(self, run_id: str) -> int:
        """Forget every token minted for ``run_id``; returns how many there were."""
        with self._lock:
            doomed = [d for d, s in self._scopes.items() if s.run_id == run_id]
            for digest in doomed:
                del self._scopes[digest]
            return len(doomed)

    def __len__(self) -> int:
        with self._lock:
            return len(self._scopes)
