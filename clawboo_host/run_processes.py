"""A run's processes: recorded on its execution while it runs, killed if its host died.

Every child a run starts leads its own process group (see
:mod:`clawboo_host.plugin_api.process`). :func:`track` records each group — its id and its
leader's start stamp, so a recycled pid is never mistaken for it — on the execution row, and
runs the children in the host's sandbox when there is one. When a host is killed mid-run
(``kill -9``, a crash, a power cut of the process), the next recovery sweep hands the dead
runs' groups to :func:`stop_orphaned`, which kills them before the executions are closed and
their tasks released: a released task is never re-run while the old run still works in its
worktree.

The executor's run step and any other step that starts processes for a run (e.g. verifying
its result) call :func:`track` the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from .board.calls import board_call
from .isolation import Sandbox
from .plugin_api.process import LaunchPolicy, kill_orphaned_groups, launch_policy

if TYPE_CHECKING:
    from .board.store import BoardStore


log = logging.getLogger(__name__)


def track(
    board: BoardStore,
    exec_id: str,
    sandbox: Sandbox | None = None,
    *,
    own_dirs: Iterable[Path | None] = (),
) -> AbstractContextManager[None]:
    """Within this context every spawned child is recorded on execution ``exec_id`` and, with a
    ``sandbox``, runs inside it (``own_dirs``: the run's private dirs it must still see)."""

    async def started(pgid: int, stamp: str | None) -> None:
        await board_call(board.add_process_group, exec_id, pgid, stamp)

    wrap = sandbox.wrapper([d for d in own_dirs if d is not None]) if sandbox else None
    return launch_policy(LaunchPolicy(wrap=wrap, started=started))


def stop_orphaned(groups: list[tuple[int, str | None]]) -> None:
    """Kill the process groups of runs whose host died (blocking: SIGTERM, SIGKILL after 3 s)."""
    killed = kill_orphaned_groups(groups)
    if killed:
        log.warning("killed %d process group(s) left running by a dead host", len(killed))
