"""What every board module shares: ids, timestamps, and the refusals a caller turns into 4xx."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .database import Database


#: Spend is kept in micro-cents: whole integers, exact across hosts adding concurrently.
MICRO_PER_CENT = 10_000
MICRO_PER_USD = 1_000_000

#: A keyword argument's default that means "leave this field as it is" (``None`` clears it).
UNCHANGED = object()


def now_iso() -> str:
    """Now as ISO 8601 UTC with milliseconds and ``Z``: ``2026-05-09T07:35:25.123Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def new_id() -> str:
    return str(uuid.uuid4())


class BoardError(Exception):
    """A store-level refusal that a caller can turn into a 4xx."""


class UnknownReference(BoardError):
    """A referenced row (``parentTaskId``, ``teamId``) does not exist."""

    def __init__(self, field: str, value: str) -> None:
        super().__init__(f"unknown {field} '{value}'")
        self.field = field
        self.value = value


@dataclass(frozen=True)
class StatusChange:
    """The outcome of ``update_status`` / ``patch_task``.

    ``reason`` is None on success, else ``'not_found'``, ``'illegal_transition'`` or
    ``'claim_lost'``. ``task`` is the task after the change (or as it stands, for a refused
    move; None when not found); ``previous`` is the status it was read with.
    """

    ok: bool
    reason: str | None
    task: dict | None
    previous: str | None = None


class Part:
    """Base of the per-table store parts: each reaches the database through ``self.db``."""

    db: Database
