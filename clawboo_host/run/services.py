"""What every run step reaches: the host's config, plugins, board, keys and run tokens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..board.calls import board_call
from ..config import HostConfig
from ..isolation import Sandbox
from ..keys import KeyResolver
from ..registry import RuntimeRegistry
from ..run_tokens import RunTokens
from .model import PreparedRun

if TYPE_CHECKING:
    from ..board.store import BoardStore


@dataclass
class Services:
    config: HostConfig
    registry: RuntimeRegistry
    board: BoardStore
    keys: KeyResolver
    tokens: RunTokens
    #: where a run's processes (the runtime's and the verify command's) run; set by the host
    #: once it has probed for one (None: plain spawn)
    sandbox: Sandbox | None = None
    #: this host process's id on the board (``hosts.id``), set once its lease is taken
    host_id: str | None = None

    async def db(self, fn, *args, **kwargs):
        """A board call, off the event loop (SQLite blocks)."""
        return await board_call(fn, *args, **kwargs)

    async def comment(self, task_id: str, body: str) -> None:
        await self.db(self.board.add_comment, task_id, body, author_type="system")

    async def release(self, run: PreparedRun) -> bool:
        """Back to ``todo`` — only while this run still holds the task's claim."""
        return await self.db(self.board.release, run.task["id"], claim_exec_id=run.exec_id)

    def seconds(self, name: str, default: float) -> float:
        return self.config.env_float(name, default)
