"""The board store, built on first use."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any


class DeferredBoard:
    """Stands in for the :class:`~clawboo_host.board.store.BoardStore` at ``target`` and builds
    it (importing SQLAlchemy, a fifth of the host's start) the first time anything on it is
    used: the host answers its first runtime list before it opens the board. Every attribute
    is the store's own."""

    def __init__(self, target: Path | str) -> None:
        self._target = target
        self._store: Any = None
        self._building = threading.Lock()

    def _built(self) -> Any:
        if self._store is None:
            with self._building:
                if self._store is None:
                    from .store import BoardStore

                    self._store = BoardStore(self._target)
        return self._store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._built(), name)
