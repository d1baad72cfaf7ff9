"""Small text helpers for building run summaries."""

from __future__ import annotations


def tail(text: str, limit: int = 2000) -> str:
    """The end of ``text`` (stripped), at most ``limit`` characters, ``…``-prefixed when cut.

    Error output says what went wrong last: keep the end, not the beginning.
    """
    text = text.strip()
    return text if len(text) <= limit else "…" + text[-(limit - 1) :]
