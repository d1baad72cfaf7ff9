"""The data a run carries from step to step: the request, the claimed run, what it streamed."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from .. import worktrees
from ..plugin_api.types import AbortSignal, RuntimeDescriptor

ASSIGNEE_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")

#: Streams a frame to an SSE client (``None`` for a plain JSON reply).
EventSink = Callable[[dict], Awaitable[None]]


class RunRefused(Exception):
    """A run that must not start. ``body`` is the JSON reply; its ``reason`` (or, for a bad
    request, its ``error``) says why — ``api/errors.py`` maps that to a status."""

    def __init__(self, body: dict) -> None:
        super().__init__(body.get("reason") or body.get("error"))
        self.body = body

    @property
    def reason(self) -> str | None:
        return self.body.get("reason")


@dataclass(frozen=True)
class RunRequest:
    task_id: str
    agent_id: str
    repo_path: str | None = None
    kind: str = "code"
    model: str | None = None
    keep_for_resume: bool = False


@dataclass
class PreparedRun:
    """A claimed task with its execution row and workspace, ready to execute.

    ``exec_id`` is the execution that holds the task's claim right now; a fix run after a
    failed verification takes the claim over, so it changes along the chain (every id the
    chain used is in ``exec_ids``, each one abortable through the abort route).
    """

    descriptor: RuntimeDescriptor
    request: RunRequest
    task: dict
    exec_id: str
    abort: AbortSignal
    mission_id: str
    worktree: worktrees.Worktree | None = None
    workspace_id: str | None = None
    degradations: list[str] = field(default_factory=list)
    exec_ids: list[str] = field(default_factory=list)
    #: the runtime's CLI, resolved once before the claim (``None``: built in)
    bin_path: str | None = None
    #: the task's workspace row as the claim found it, and its newest finished execution
    #: before this run (a recovery tombstone there: the previous attempt was cut short)
    claimed_workspace: dict | None = None
    previous_execution: dict | None = None
    #: the first execution's secrets, resolved while its workspace was being set up
    early_secrets: asyncio.Future | None = None
    #: the board recording the workspace (``workspace_id``), under way while the run starts
    workspace_attaching: asyncio.Future | None = None

    def __post_init__(self) -> None:
        if not self.exec_ids:
            self.exec_ids.append(self.exec_id)

    async def attached(self) -> None:
        """Wait for the board to have recorded the workspace (``workspace_id``): before any
        report of the run."""
        attaching, self.workspace_attaching = self.workspace_attaching, None
        if attaching is not None:
            workspace = await attaching
            self.workspace_id = workspace["id"] if workspace else None

    @property
    def budget_scopes(self) -> list[tuple[str, str | None]]:
        """The budgets this run spends against: its agent, its mission (root task), its team."""
        return [
            ("agent", self.request.agent_id),
            ("mission", self.mission_id),
            ("team", self.task["team_id"]),
        ]


@dataclass
class RunTally:
    """What one execution's event stream told us, accumulated."""

    last_text: str = ""
    cost_usd: float | None = None
    estimated: bool = False
    input_tokens: int = 0
    output_tokens: int = 0
    budget_stop: str | None = None
