"""The one way async code calls the board: off the event loop (SQLite and psycopg block)."""

from __future__ import annotations

from functools import partial

import anyio.to_thread


async def board_call(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` (a board method) in a worker thread."""
    return await anyio.to_thread.run_sync(partial(fn, *args, **kwargs))
