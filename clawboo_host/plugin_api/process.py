"""The one place that starts and stops child processes.

Plugins use it for their CLIs; the host uses it for installs and git. Every child:

- is started from an argv list (never through a shell) in a **new session**, so it leads
  its own process group;
- has stdout and stderr piped and read as whole, decoded lines;
- dies with its whole tree when the ``async with spawn(...)`` block is left while it still
  runs (an exception, a cancellation, the ``abort`` signal): SIGTERM to the group, then
  after ``grace`` seconds SIGKILL to the group and to every descendant psutil found before
  the SIGTERM (so grandchildren that escaped with ``setsid`` die too). The cleanup awaits
  are shielded from cancellation and bounded in time.

Example::

    async with spawn([cli, "-p", prompt], cwd=ctx.cwd, env=ctx.env, abort=ctx.abort) as proc:
        async for stream, line in proc.lines():
            ...
    if proc.aborted: ...

While the host drives a run it sets a :class:`LaunchPolicy` (a context variable, so plugins
need do nothing): every child started in that run is then wrapped in the host's sandbox,
when it has one, and its process group is recorded on the run's execution, so a host that
dies mid-run can have the group killed by the next one (:func:`kill_orphaned_groups`).

POSIX only (process groups, signals).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import aclosing, asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import anyio
import psutil

from .types import AbortSignal

__all__ = [
    "CompletedCapture",
    "LaunchPolicy",
    "ManagedProcess",
    "kill_orphaned_groups",
    "launch_policy",
    "process_start_stamp",
    "run_capture",
    "run_capture_sync",
    "spawn",
]

log = logging.getLogger(__name__)

StreamName = Literal["stdout", "stderr"]

#: Seconds between SIGTERM and SIGKILL.
DEFAULT_GRACE_S = 3.0
#: After the child exits, how long :meth:`ManagedProcess.lines` keeps reading pipes that a
#: grandchild may hold open.
EXIT_DRAIN_S = 2.0
#: How long we wait for processes to vanish after SIGKILL, and to reap our child.
_KILL_CONFIRM_S = 3.0
#: How long the exit cleanup keeps reading the pipes to their end before closing them.
_DRAIN_S = 1.0
_POLL_S = 0.05
_CHUNK = 64 * 1024
#: A "line" longer than this without a newline is cut and yielded in pieces.
MAX_LINE_BYTES = 1024 * 1024
#: ``stdout_text`` / ``stderr_text`` keep at most this many characters (the tail).
_TEXT_TAIL_CHARS = 1024 * 1024


# --------------------------------------------------------------------------- helpers


def _decode(raw: bytes | bytearray) -> str:
    text = bytes(raw).decode("utf-8", errors="replace")
    return text.removesuffix("\r")


def _is_dead(proc: psutil.Process) -> bool:
    """Gone, or a zombie (dead, only waiting to be reaped)."""
    try:
        return not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:  # AccessDenied and friends: assume it still lives
        return False


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
    except OSError:
        pass


def _signal_procs(procs: Sequence[psutil.Process], sig: int) -> None:
    for proc in procs:
        try:
            proc.send_signal(sig)  # psutil refuses if the pid was reused by someone else
        except psutil.Error:
            pass
        except (ProcessLookupError, PermissionError):
            pass


class _TextTail:
    """The last ``limit`` characters of a stream's lines, joined with ``\\n``."""

    def __init__(self, limit: int = _TEXT_TAIL_CHARS) -> None:
        self._lines: deque[str] = deque()
        self._chars = 0
        self._limit = limit

    def add(self, line: str) -> None:
        self._lines.append(line)
        self._chars += len(line) + 1
        while self._chars > self._limit and len(self._lines) > 1:
            self._chars -= len(self._lines.popleft()) + 1

    def text(self) -> str:
        return "\n".join(self._lines)


class _Pipe:
    """One output pipe: a chunk read in flight, and the bytes of an unfinished line."""

    def __init__(self, name: StreamName, reader: asyncio.StreamReader | None) -> None:
        self.name: StreamName = name
        self.reader = reader
        self.buffer = bytearray()
        self.eof = reader is None
        self.task: asyncio.Task[bytes] | None = None

    def start(self) -> asyncio.Task[bytes] | None:
        if self.task is None and not self.eof and self.reader is not None:
            self.task = asyncio.ensure_future(self.reader.read(_CHUNK))
        return self.task

    def take(self) -> list[str]:
        """Turn the finished read into whole lines (the final partial one at EOF)."""
        task, self.task = self.task, None
        if task is None or task.cancelled():
            return []
        try:
            data = task.result()
        except Exception:  # noqa: BLE001 - a broken pipe reads as the end of the stream
            data = b""
        if not data:
            self.eof = True
            rest, self.buffer = self.buffer, bytearray()
            return [_decode(rest)] if rest else []
        self.buffer += data
        lines: list[str] = []
        while True:
            cut = self.buffer.find(b"\n")
            if cut < 0:
                break
            lines.append(_decode(self.buffer[:cut]))
            del self.buffer[: cut + 1]
        while len(self.buffer) > MAX_LINE_BYTES:
            lines.append(_decode(self.buffer[:MAX_LINE_BYTES]))
            del self.buffer[:MAX_LINE_BYTES]
        return lines


# --------------------------------------------------------------------------- launch policy


@dataclass(frozen=True)
class LaunchPolicy:
    """How the host wants children started in the current run (set by the host only).

    - ``wrap(argv) -> argv``: run the child inside a sandbox (e.g. bubblewrap).
    - ``started(pgid, stamp)``: awaited once the child runs, with its process-group id and
      :func:`process_start_stamp`, so the group can be found (and safely killed) later.
    """

    wrap: Callable[[list[str]], list[str]] | None = None
    started: Callable[[int, str | None], Awaitable[None]] | None = None


_policy: ContextVar[LaunchPolicy | None] = ContextVar("clawboo_launch_policy", default=None)


@contextmanager
def launch_policy(policy: LaunchPolicy | None) -> Iterator[None]:
    """Apply ``policy`` to every :func:`spawn` in this context (and tasks started from it)."""
    token = _policy.set(policy)
    try:
        yield
    finally:
        _policy.reset(token)


def _check_startable(
    program: str, cwd: str | os.PathLike[str] | None, env: Mapping[str, str] | None
) -> None:
    """Raise what exec would for a program that cannot start: a wrapped child (the sandbox)
    always starts, so without this a missing CLI would read as a failed run, not an OSError."""
    if os.sep in program:
        path = os.path.join(os.fspath(cwd), program) if cwd is not None else program
    else:
        search = (env if env is not None else os.environ).get("PATH", os.defpath)
        path = shutil.which(program, mode=os.F_OK, path=search) or ""
    if not os.path.exists(path):
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), program)
    if os.path.isdir(path) or not os.access(path, os.X_OK):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), program)


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def process_start_stamp(pid: int) -> str | None:
    """Who ``pid`` is, beyond its number: with the pid it names one process for ever.

    On Linux the boot id and the start time in clock ticks since boot (immune to the wall
    clock being set, and never equal across reboots or machines); elsewhere psutil's start
    time. ``None`` when there is no such process.
    """
    if sys.platform.startswith("linux"):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        # The command name (field 2) may hold spaces and parentheses: split after its ")".
        fields = stat[stat.rindex(")") + 2 :].split()
        return f"{_boot_id()}:{fields[19]}"
    try:
        return repr(psutil.Process(pid).create_time())
    except psutil.Error:
        return None


def _group_members(pgid: int) -> list[psutil.Process]:
    members = []
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) == pgid:
                members.append(proc)
        except OSError:
            continue
    return members


def kill_orphaned_groups(
    groups: Iterable[tuple[int, str | None]], grace: float = DEFAULT_GRACE_S
) -> list[int]:
    """Kill process groups a dead host left behind: SIGTERM, then SIGKILL after ``grace``.

    Blocking (call it from a worker thread). A group is ``(pgid, stamp)`` as recorded at
    spawn. It is killed only while it is provably that run's: its leader is alive with the
    recorded :func:`process_start_stamp`, or the leader is gone and the group still has
    members (Linux never reuses a pid that is still some group's id, so those are the
    leader's own children and grandchildren). A leader pid now held by another process is
    left alone. Descendants that left the group (``setsid``) but whose parent is still in
    it die too. Returns the pgids that were signalled.
    """
    doomed: list[psutil.Process] = []
    signalled: list[int] = []
    own_group = os.getpgrp()
    for pgid, stamp in groups:
        if pgid in (own_group, 0, 1):
            continue
        current = process_start_stamp(pgid)
        if current is not None and current != stamp:
            continue  # the number belongs to someone else now
        members = _group_members(pgid)
        if not members:
            continue
        tree = {p.pid: p for p in members}
        for proc in members:
            for child in _descendants(proc.pid):
                tree.setdefault(child.pid, child)
        signalled.append(pgid)
        doomed.extend(tree.values())
        _killpg(pgid, signal.SIGTERM)
    _signal_procs(doomed, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while any(not _is_dead(p) for p in doomed) and time.monotonic() < deadline:
        time.sleep(_POLL_S)
    survivors = [p for p in doomed if not _is_dead(p)]
    if survivors:
        for pgid in signalled:
            if _group_members(pgid):
                _killpg(pgid, signal.SIGKILL)
        _signal_procs(survivors, signal.SIGKILL)
        deadline = time.monotonic() + _KILL_CONFIRM_S
        while any(not _is_dead(p) for p in survivors) and time.monotonic() < deadline:
            time.sleep(_POLL_S)
    return signalled


# --------------------------------------------------------------------------- process


class ManagedProcess:
    """A child started by :func:`spawn`. Read its output with :meth:`lines`.

    - ``pid``: the child's pid, also its process-group id.
    - ``returncode``: ``None`` while it runs; negative ``-N`` when signal ``N`` ended it.
    - ``aborted``: true when we killed it (abort signal, cancellation, an exception
      leaving the ``spawn`` block, a timeout, or an explicit :meth:`kill_tree`).
    - ``stdout_text`` / ``stderr_text``: the lines read so far (by any reader, including
      :meth:`wait`'s draining), joined with ``\\n``; only the last 1 MiB is kept.
    - ``last_stdout_line``: the last non-blank stdout line read so far.
    - ``stdin``: the writer when spawned with ``stdin_devnull=False``, else ``None``.
    """

    def __init__(
        self,
        proc: asyncio.subprocess.Process,
        *,
        abort: AbortSignal | None = None,
        grace: float = DEFAULT_GRACE_S,
    ) -> None:
        self._proc = proc
        self._abort = abort
        self._grace = grace
        self._pipes = (_Pipe("stdout", proc.stdout), _Pipe("stderr", proc.stderr))
        self._ready: deque[tuple[StreamName, str]] = deque()
        self._stdout_tail = _TextTail()
        self._stderr_tail = _TextTail()
        self._last_stdout_line = ""
        self._active_readers = 0
        self._kill_lock: anyio.Lock | None = None
        self._watcher: asyncio.Task[None] | None = None
        self.aborted = False

    # ------------------------------------------------------------------ properties

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode

    @property
    def stdin(self) -> asyncio.StreamWriter | None:
        return self._proc.stdin

    @property
    def stdout_text(self) -> str:
        return self._stdout_tail.text()

    @property
    def stderr_text(self) -> str:
        return self._stderr_tail.text()

    @property
    def last_stdout_line(self) -> str:
        return self._last_stdout_line

    @property
    def abort_requested(self) -> bool:
        return self._abort is not None and self._abort.is_set

    def __repr__(self) -> str:
        return f"<ManagedProcess pid={self.pid} returncode={self.returncode}>"

    # ------------------------------------------------------------------ reading

    def _collect(self, pipe: _Pipe) -> None:
        for line in pipe.take():
            if pipe.name == "stdout":
                self._stdout_tail.add(line)
                if line.strip():
                    self._last_stdout_line = line
            else:
                self._stderr_tail.add(line)
            self._ready.append((pipe.name, line))

    def _collect_done(self) -> None:
        for pipe in self._pipes:
            if pipe.task is not None and pipe.task.done():
                self._collect(pipe)

    async def lines(
        self, *, exit_drain: float | None = EXIT_DRAIN_S
    ) -> AsyncIterator[tuple[StreamName, str]]:
        """``(stream, line)`` pairs from stdout and stderr, merged as they arrive.

        Lines are whole (a line split across reads comes out once), decoded as UTF-8 with
        replacement, without the trailing ``\\n`` / ``\\r\\n``; an unterminated last line is
        yielded at EOF. Ends when both pipes close, or (tree killed, ``aborted`` true) when
        the abort signal is set, or ``exit_drain`` seconds after the child itself exited:
        a grandchild that inherited the pipes (a background shell, an MCP server) could
        otherwise hold them open for ever (``None`` waits for EOF). Output not yet yielded
        is kept if you stop early, so a later ``lines()`` call goes on where this one stopped.
        """
        self._active_readers += 1
        abort_waiter: asyncio.Future | None = None
        loop = asyncio.get_running_loop()
        exited_at: float | None = None
        try:
            while True:
                self._collect_done()
                while self._ready and not self.abort_requested:
                    yield self._ready.popleft()
                    self._collect_done()
                if self.abort_requested:
                    await self._finish_abort()
                    return
                if all(p.eof for p in self._pipes):
                    return
                waiting: set[asyncio.Future] = {
                    t for p in self._pipes if (t := p.start()) is not None
                }
                if self._watcher is not None and not self._watcher.done():
                    waiting.add(self._watcher)  # finishes when abort is set and the tree is dead
                elif self._abort is not None:
                    if abort_waiter is None:
                        abort_waiter = asyncio.ensure_future(self._abort.wait())
                    waiting.add(abort_waiter)
                timeout = None
                if exit_drain is not None:
                    if self._proc.returncode is None:
                        timeout = _POLL_S * 2  # notice the exit while pipes stay open
                    else:
                        exited_at = loop.time() if exited_at is None else exited_at
                        timeout = exited_at + exit_drain - loop.time()
                        if timeout <= 0:
                            return
                # asyncio.wait never cancels what it waits for: reads stay in flight.
                await asyncio.wait(waiting, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._active_readers -= 1
            if abort_waiter is not None and not abort_waiter.done():
                abort_waiter.cancel()

    async def stdout_lines(self, *, exit_drain: float | None = EXIT_DRAIN_S) -> AsyncIterator[str]:
        """stdout lines only; stderr is kept in :attr:`stderr_text`."""
        async with aclosing(self.lines(exit_drain=exit_drain)) as lines:
            async for stream, line in lines:
                if stream == "stdout":
                    yield line

    async def wait(self) -> int | None:
        """Wait for the child to exit and return its exit code (``-N`` for signal ``N``).

        If no :meth:`lines` iteration is active, unread output is drained meanwhile (into
        ``stdout_text`` / ``stderr_text``; it will not be yielded by ``lines()`` afterwards),
        so a chatty child cannot block on a full pipe.
        """
        # asyncio's ``Process.wait()`` only returns once the pipes are closed too, which a
        # grandchild holding them can delay for ever: also watch ``returncode``, which is
        # set as soon as the child is reaped.
        exited = asyncio.ensure_future(self._proc.wait())
        try:
            while self._proc.returncode is None:
                waiting: set[asyncio.Future] = {exited}
                if self._active_readers == 0:
                    self._collect_done()
                    self._ready.clear()
                    waiting |= {t for p in self._pipes if (t := p.start()) is not None}
                # The timeout also lets draining start once an abandoned ``lines()``
                # iterator has been finalized by the loop.
                await asyncio.wait(
                    waiting, timeout=_POLL_S * 2, return_when=asyncio.FIRST_COMPLETED
                )
            if self._active_readers == 0:
                self._collect_done()
                self._ready.clear()
        finally:
            if not exited.done():
                exited.cancel()
        return self._proc.returncode

    # ------------------------------------------------------------------ killing

    def _root_alive(self) -> bool:
        if self._proc.returncode is not None:
            return False
        try:
            return not _is_dead(psutil.Process(self.pid))
        except psutil.Error:
            return False

    def _pid_is_ours(self) -> bool:
        """May we still signal ``pid`` / its group? True until the child is reaped; after
        that only while no other process has taken the number (Linux never hands out a
        pid still in use as a process-group id, so a free number means any group with
        that id is made of our stragglers)."""
        return self._proc.returncode is None or not psutil.pid_exists(self.pid)

    def _signal_group(self, sig: int) -> None:
        if self._pid_is_ours():
            _killpg(self.pid, sig)

    def _tree(self) -> list[psutil.Process]:
        return _descendants(self.pid) if self._proc.returncode is None else []

    async def kill_tree(self, grace: float | None = None) -> None:
        """Kill the child's whole tree: SIGTERM, then SIGKILL after ``grace`` seconds.

        Safe to call more than once and from several tasks; shielded from cancellation
        and bounded in time. Sets ``aborted`` when the child was still running.
        """
        grace = self._grace if grace is None else grace
        if self._kill_lock is None:
            self._kill_lock = anyio.Lock()
        with anyio.CancelScope(shield=True):
            async with self._kill_lock:
                await self._kill_tree_locked(grace)

    async def _kill_tree_locked(self, grace: float) -> None:
        if self._root_alive():
            self.aborted = True
        # Collect the descendants first: a child dying on SIGTERM orphans its own
        # children, and a setsid'd grandchild is not in our process group.
        tree = self._tree()
        known = {p.pid for p in tree}
        self._signal_group(signal.SIGTERM)
        _signal_procs(tree, signal.SIGTERM)

        def alive() -> list[psutil.Process]:
            return [p for p in tree if not _is_dead(p)]

        def add(found: list[psutil.Process]) -> None:
            for proc in found:
                if proc.pid not in known:
                    known.add(proc.pid)
                    tree.append(proc)

        with anyio.move_on_after(grace):
            while self._root_alive() or alive():
                await anyio.sleep(_POLL_S)
        if self._root_alive() or alive():
            add(self._tree())  # children started during the grace period
            for proc in alive():
                add(_descendants(proc.pid))
            self._signal_group(signal.SIGKILL)
            _signal_procs(alive(), signal.SIGKILL)
            with anyio.move_on_after(_KILL_CONFIRM_S):
                while self._root_alive() or alive():
                    await anyio.sleep(_POLL_S)
        else:
            # Whatever is left in the group (processes we could not see) goes too.
            self._signal_group(signal.SIGKILL)
        await self._reap()

    async def _reap(self) -> None:
        """Wait (bounded) until asyncio has reaped the child and set ``returncode``."""
        with anyio.move_on_after(_KILL_CONFIRM_S):
            while self._proc.returncode is None:
                await anyio.sleep(_POLL_S / 5)

    async def _watch_abort(self) -> None:
        assert self._abort is not None
        await self._abort.wait()
        await self.kill_tree()

    async def _finish_abort(self) -> None:
        """The abort signal is set: make sure the tree is dead before returning."""
        if self._watcher is not None:
            with anyio.move_on_after(self._grace + 2 * _KILL_CONFIRM_S + 1):
                await asyncio.wait({self._watcher})
        if self._root_alive():
            await self.kill_tree()
        self.aborted = True

    async def _close(self) -> None:
        """Exit cleanup. Runs shielded; every step is bounded in time."""
        watcher = self._watcher
        if watcher is not None:
            if self.abort_requested:
                with anyio.move_on_after(self._grace + 2 * _KILL_CONFIRM_S + 1):
                    await asyncio.wait({watcher})
            if not watcher.done():
                watcher.cancel()
                with anyio.move_on_after(1):
                    await asyncio.wait({watcher})
        if self._root_alive():
            await self.kill_tree()
        else:
            # The child is gone; anything left in its process group is a straggler.
            self._signal_group(signal.SIGKILL)
        # Read the pipes to their end so the transport closes cleanly.
        with anyio.move_on_after(_DRAIN_S):
            while not all(p.eof for p in self._pipes):
                waiting = {t for p in self._pipes if (t := p.start()) is not None}
                await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                self._collect_done()
        transport = getattr(self._proc, "_transport", None)
        if transport is not None:
            transport.close()
        pending = [p.task for p in self._pipes if p.task is not None]
        for task in pending:
            task.cancel()
        if pending:
            with anyio.move_on_after(1):
                await asyncio.wait(pending)
        self._collect_done()
        await self._reap()


@asynccontextmanager
async def spawn(
    argv: Sequence[str | os.PathLike[str]],
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    abort: AbortSignal | None = None,
    stdin_devnull: bool = True,
    grace: float = DEFAULT_GRACE_S,
) -> AsyncIterator[ManagedProcess]:
    """Start ``argv`` in its own process group and yield a :class:`ManagedProcess`.

    ``env`` is the child's whole environment (default: the server's). With
    ``stdin_devnull=False`` stdin is a pipe (``proc.stdin``). Starting raises what
    ``asyncio.create_subprocess_exec`` raises (``FileNotFoundError``, ``PermissionError``,
    other ``OSError``, ``ValueError`` for a NUL in an argument...).

    Leaving the block while the child still runs kills its tree (``aborted`` becomes
    true); so does setting ``abort``. On a normal exit, anything the child left running
    in its process group is killed as well.
    """
    args = [os.fspath(a) for a in argv]
    if not args:
        raise ValueError("spawn needs a non-empty argv")
    policy = _policy.get()
    if policy is not None and policy.wrap is not None:
        _check_startable(args[0], cwd, env)
        args = policy.wrap(args)
    # Shielded so a cancellation cannot strike between "started" and "managed".
    with anyio.CancelScope(shield=True):
        proc = await asyncio.create_subprocess_exec(
            *args,
            stdin=asyncio.subprocess.DEVNULL if stdin_devnull else asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=os.fspath(cwd) if cwd is not None else None,
            env=dict(env) if env is not None else None,
            start_new_session=True,
        )
        if policy is not None and policy.started is not None:
            try:
                await policy.started(proc.pid, process_start_stamp(proc.pid))
            except Exception:  # noqa: BLE001 - the run goes on; only crash cleanup is weaker
                log.exception("could not record the process group of pid %d", proc.pid)
    managed = ManagedProcess(proc, abort=abort, grace=grace)
    if abort is not None:
        managed._watcher = asyncio.ensure_future(managed._watch_abort())
    try:
        yield managed
    finally:
        with anyio.CancelScope(shield=True):
            await managed._close()


# --------------------------------------------------------------------------- capture


@dataclass(frozen=True)
class CompletedCapture:
    """The result of a short probe.

    ``returncode`` is ``None`` when the command could not be started (the error text is
    in ``stderr``) or ran past its timeout (``timed_out``; the tree was killed).
    ``stdout`` / ``stderr`` are the output lines joined with ``\\n``.
    """

    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0


async def run_capture(
    argv: Sequence[str | os.PathLike[str]],
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 5.0,
) -> CompletedCapture:
    """Run a short command and capture its output. Never raises for a missing or
    unexecutable binary (``OSError``) or a timeout: ``returncode`` is ``None`` then."""
    out: list[str] = []
    err: list[str] = []
    returncode: int | None = None
    timed_out = False
    started = False
    try:
        async with spawn(argv, cwd=cwd, env=env) as proc:
            started = True
            with anyio.move_on_after(timeout) as scope:
                async for stream, line in proc.lines():
                    (out if stream == "stdout" else err).append(line)
                returncode = await proc.wait()
            if scope.cancelled_caught:
                timed_out = True
                returncode = None
                await proc.kill_tree()
    except OSError as exc:
        if started:
            raise
        return CompletedCapture(None, "", str(exc))
    return CompletedCapture(returncode, "\n".join(out), "\n".join(err), timed_out)


def _kill_popen_tree(popen: subprocess.Popen) -> None:
    running = popen.poll() is None
    tree = _descendants(popen.pid) if running else []
    if running or not psutil.pid_exists(popen.pid):  # see ManagedProcess._pid_is_ours
        _killpg(popen.pid, signal.SIGKILL)
    _signal_procs(tree, signal.SIGKILL)


def _split_text(raw: bytes | None) -> Iterator[str]:
    """Lines as :meth:`ManagedProcess.lines` would yield them."""
    if raw:
        pieces = raw.split(b"\n")
        if pieces[-1] == b"":
            pieces.pop()
        for piece in pieces:
            yield _decode(piece)


def run_capture_sync(
    argv: Sequence[str | os.PathLike[str]],
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 5.0,
) -> CompletedCapture:
    """Blocking twin of :func:`run_capture` for code that cannot await (e.g. a probe
    run in a worker thread). Same rules: own process group, tree killed on timeout."""
    try:
        popen = subprocess.Popen(
            [os.fspath(a) for a in argv],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=os.fspath(cwd) if cwd is not None else None,
            env=dict(env) if env is not None else None,
            start_new_session=True,
        )
    except OSError as exc:
        return CompletedCapture(None, "", str(exc))
    timed_out = False
    try:
        stdout, stderr = popen.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_popen_tree(popen)
        try:
            stdout, stderr = popen.communicate(timeout=_KILL_CONFIRM_S)
        except subprocess.TimeoutExpired:  # a grandchild holds the pipes: give up on them
            stdout, stderr = b"", b""
            for stream in (popen.stdout, popen.stderr):
                if stream is not None:
                    stream.close()
            try:
                popen.wait(timeout=_KILL_CONFIRM_S)
            except subprocess.TimeoutExpired:
                pass
    except BaseException:
        _kill_popen_tree(popen)
        raise
    out = "\n".join(_split_text(stdout))
    err = "\n".join(_split_text(stderr))
    return CompletedCapture(None if timed_out else popen.returncode, out, err, timed_out)
