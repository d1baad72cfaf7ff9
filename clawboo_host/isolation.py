"""Keep the host's secrets out of the processes it runs.

Two layers (threat model in ``docs/security.md``):

* **An undumpable server** (:func:`make_undumpable`, Linux, at ``serve`` start): with
  ``prctl(PR_SET_DUMPABLE, 0)`` — as ssh-agent does — a process of the same user can no
  longer read the server's ``/proc/<pid>/environ`` (every provider key exported to it) or
  its memory, nor ``ptrace`` it. Root, or anything holding ``CAP_SYS_PTRACE``, still can.
* **A sandbox for runs** (:class:`Sandbox`, when bubblewrap works here): every process a run
  starts sees the same file system, except that the data dir's ``secrets/`` (the vault and
  its master key) is an empty tmpfs, other runtimes' homes and other runs' scratch dirs are
  hidden, and it lives in its own pid namespace with its own ``/proc`` (the server, other
  runs and other users' processes are not visible at all). ``--die-with-parent`` kills the
  sandbox if the server dies. Without bubblewrap (not installed, or no user namespaces, as
  in many containers) runs are spawned plainly; ``CLAWBOO_SANDBOX=off`` asks for that.
"""

from __future__ import annotations

import ctypes
import logging
import shutil
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from .config import HostConfig
from .plugin_api.childenv import build_child_env
from .plugin_api.files import private_dir
from .plugin_api.process import run_capture

log = logging.getLogger(__name__)

_PR_SET_DUMPABLE = 4
_PR_GET_DUMPABLE = 3
_PROBE_TIMEOUT_S = 10.0


def make_undumpable() -> bool:
    """Forbid same-user processes to read this process's environ/memory. True when done."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def is_dumpable() -> bool | None:
    """This process's dumpable flag (``None`` off Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(_PR_GET_DUMPABLE, 0, 0, 0, 0) == 1


@dataclass(frozen=True)
class Sandbox:
    """bubblewrap at ``bwrap``: the whole file system, minus ``hidden`` (each an empty tmpfs)."""

    bwrap: str
    hidden: tuple[Path, ...]

    def argv(self, command: list[str], own_dirs: Iterable[Path] = ()) -> list[str]:
        """``command`` wrapped; ``own_dirs`` under a hidden dir stay visible (bound back)."""
        out = [self.bwrap, "--dev-bind", "/", "/", "--unshare-pid", "--proc", "/proc"]
        out.append("--die-with-parent")
        for path in self.hidden:
            out += ["--tmpfs", str(path)]
        for path in own_dirs:
            if any(Path(path).is_relative_to(hidden) for hidden in self.hidden):
                out += ["--bind", str(path), str(path)]
        return [*out, "--", *command]

    def wrapper(self, own_dirs: Iterable[Path] = ()) -> Callable[[list[str]], list[str]]:
        keep = [Path(d) for d in own_dirs]
        return lambda command: self.argv(command, keep)


async def detect_sandbox(config: HostConfig) -> Sandbox | None:
    """The sandbox runs get here, or ``None`` (plain spawn), tried once at start and logged."""
    if (config.env.get("CLAWBOO_SANDBOX") or "auto").strip().lower() == "off":
        log.warning("run sandbox: off (CLAWBOO_SANDBOX=off): runs can read the data dir's secrets/")
        return None
    bwrap = shutil.which("bwrap", path=config.env.get("PATH"))
    if bwrap is None:
        log.warning(
            "run sandbox: unavailable (bubblewrap `bwrap` not on PATH): runs are spawned "
            "plainly and can read the data dir's secrets/; install bubblewrap to hide it"
        )
        return None
    hidden = (config.secrets_dir, config.runtimes_dir, config.runs_dir)
    for path in hidden:  # hidden from the start, even if the vault is only created mid-run
        private_dir(path)
    sandbox = Sandbox(bwrap=bwrap, hidden=hidden)
    probe = await run_capture(
        sandbox.argv([sys.executable, "-c", "pass"]),
        env=build_child_env(config.env),
        timeout=_PROBE_TIMEOUT_S,
    )
    if not probe.ok:
        why = (probe.stderr or probe.stdout).strip() or f"exit code {probe.returncode}"
        log.warning("run sandbox: bubblewrap cannot sandbox here (%s): plain spawn", why)
        return None
    log.info("run sandbox: bubblewrap (%s)", bwrap)
    return sandbox
