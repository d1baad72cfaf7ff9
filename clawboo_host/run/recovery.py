"""Crash recovery: which executions' host processes are gone, and what they left behind."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

import psutil

from ..config import HostConfig

if TYPE_CHECKING:
    from ..board.store import BoardStore


def owner_boot() -> str:
    """This process's start time: with the pid it identifies the process across pid reuse."""
    return repr(psutil.Process().create_time())


def is_owner_alive(pid: int | None, boot: str | None) -> bool:
    if pid is None:
        return False
    try:
        return repr(psutil.Process(pid).create_time()) == boot
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return False


def remove_stale_scratch(config: HostConfig, board: BoardStore) -> None:
    """Delete per-run scratch dirs left behind by runs that are no longer running."""
    runs_dir = config.data_dir / "runs"
    if not runs_dir.is_dir():
        return
    for entry in runs_dir.iterdir():
        execution = board.get_execution(entry.name)
        if execution is None or execution["status"] != "running":
            shutil.rmtree(entry, ignore_errors=True)
