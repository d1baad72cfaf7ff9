"""Running a line-oriented agent CLI for one run: the loop every CLI plugin needs.

A CLI runtime resolves its binary, spawns it in the worktree (its own process group, the
run's abort signal watched), feeds each output line to its own parser, stops reading once
the parser has seen the end (then gives the CLI a bounded time to exit), and turns the exit
into a ``Done``. Only the parser and the command line differ between CLIs::

    from clawboo_host.plugin_api.cli import LineCli, missing_cli, resolve_cli

    @hookimpl
    async def clawboo_runtime_run(ctx):
        bin_path = await resolve_cli("acme", ctx)
        if bin_path is None:
            yield missing_cli("acme")
            return
        parser = AcmeParser()                       # feed(line) -> list of events
        cli = LineCli([bin_path, "--json", ctx.prompt], ctx=ctx)
        async for event in cli.events(parser.feed, finished=lambda: parser.result is not None):
            yield event
        yield cli.exit.done(success=parser.answer)  # aborted / error with stderr tail / success

``cli.exit`` (a :class:`CliExit`) says how it ended: ``code``, ``aborted``, ``stderr``,
``lingered`` (killed after ``finished`` because it did not exit), ``gave_up`` (killed because
``give_up`` said so), ``start_error`` (it could not be started).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path

import anyio

from .binaries import aresolve_binary
from .process import spawn
from .text import tail
from .types import Done, ErrorEvent, RunContext, RuntimeEvent

__all__ = [
    "DEFAULT_EXIT_GRACE_S",
    "SUMMARY_LIMIT",
    "CliExit",
    "LineCli",
    "missing_cli",
    "resolve_cli",
    "run_dir",
]

#: After the parser saw the end, how long the CLI may take to exit before its tree is killed
#: (CLIs have been seen to linger on open MCP connections).
DEFAULT_EXIT_GRACE_S = 10.0
#: Longest summary built from error output.
SUMMARY_LIMIT = 2000

Feed = Callable[[str], Iterable[RuntimeEvent] | None]


async def resolve_cli(binary: str, ctx: RunContext) -> str | None:
    """The CLI's path: the host's resolution when the context carries one (``bin_path``),
    else PATH and the user-install dirs of ``ctx.env``; ``None`` when it is not installed."""
    resolved = getattr(ctx, "bin_path", None)
    if resolved:
        return str(resolved)
    return await aresolve_binary(binary, ctx.env)


def missing_cli(binary: str) -> Done:
    """The ``Done`` of a run whose CLI is not installed."""
    return Done("error", summary=f"{binary} not found on PATH or user-install dirs")


def run_dir(ctx: RunContext) -> Path:
    """Where the CLI runs: the task's worktree, else (research/review runs) a private
    ``<scratch>/work`` — never the server's own directory."""
    if ctx.cwd is not None:
        return Path(ctx.cwd)
    work = Path(ctx.scratch_dir) / "work"
    work.mkdir(parents=True, exist_ok=True, mode=0o700)
    return work


@dataclass
class CliExit:
    """How one CLI process ended."""

    binary: str = "cli"
    code: int | None = None
    stderr: str = ""
    aborted: bool = False
    lingered: bool = False
    gave_up: bool = False
    start_error: str | None = None

    def failure_summary(self, *, extra: str = "") -> str:
        """Why it failed, for a summary: the stderr tail (or ``extra``, e.g. non-JSON
        stdout), else the exit code or signal."""
        text = self.stderr.strip() or extra.strip()
        if text:
            return tail(text, SUMMARY_LIMIT)
        if self.code is None:
            return f"{self.binary} ended without a result"
        if self.code < 0:
            return f"{self.binary} was killed by signal {-self.code}"
        return f"{self.binary} exited with code {self.code}"

    def done(
        self,
        *,
        success: str | None,
        scrub: Callable[[str], str] = lambda text: text,
        session_id: str | None = None,
        error: str | None = None,
    ) -> Done:
        """The usual mapping: could not start / aborted → that; ``error`` (the parser's
        failure message) → ``error``; exit 0 → ``success`` with ``success`` as summary;
        otherwise ``error`` with :meth:`failure_summary`. Summaries are ``scrub``-bed."""
        if self.start_error:
            return Done("error", summary=scrub(self.start_error), session_id=session_id)
        if self.aborted:
            return Done("aborted", summary=scrub(success or ""), session_id=session_id)
        if error:
            return Done("error", summary=scrub(tail(error, SUMMARY_LIMIT)), session_id=session_id)
        if self.code == 0 or self.lingered:
            return Done("success", summary=scrub(success or ""), session_id=session_id)
        return Done("error", summary=scrub(self.failure_summary()), session_id=session_id)

    def error_events(self, done: Done) -> list[RuntimeEvent]:
        """``[ErrorEvent(fatal), done]`` for an error, ``[done]`` otherwise."""
        if done.reason != "error":
            return [done]
        code = f"exit_{self.code}" if self.code is not None and not self.start_error else None
        return [ErrorEvent(done.summary, code=code, fatal=True), done]


class LineCli:
    """One process of a line-oriented CLI. Iterate :meth:`events`, then read :attr:`exit`."""

    def __init__(
        self,
        argv: Sequence[str | os.PathLike[str]],
        *,
        ctx: RunContext,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        exit_grace: float = DEFAULT_EXIT_GRACE_S,
    ) -> None:
        self.argv = [os.fspath(a) for a in argv]
        self.ctx = ctx
        self.env = dict(ctx.env if env is None else env)
        self.cwd = run_dir(ctx) if cwd is None else Path(cwd)
        self.exit_grace = exit_grace
        self.exit = CliExit(binary=Path(self.argv[0]).name if self.argv else "cli")

    async def events(
        self,
        feed: Feed,
        *,
        feed_stderr: Feed | None = None,
        finished: Callable[[], bool] = lambda: False,
        give_up: Callable[[], bool] = lambda: False,
    ) -> AsyncIterator[RuntimeEvent]:
        """Spawn the CLI and yield what ``feed`` makes of each stdout line (``feed_stderr``
        of each stderr line; without it stderr is only kept for the summary).

        Stops reading when ``finished()`` turns true (the CLI then has ``exit_grace``
        seconds to exit before its tree is killed: ``exit.lingered``) or ``give_up()`` does
        (killed at once: ``exit.gave_up``). The run's abort kills the tree
        (``exit.aborted``). A CLI that cannot be started sets ``exit.start_error``.
        """
        exit_, ctx = self.exit, self.ctx
        started = False
        try:
            async with spawn(self.argv, cwd=self.cwd, env=self.env, abort=ctx.abort) as proc:
                started = True
                async with aclosing(proc.lines()) as lines:
                    async for stream, line in lines:
                        handler = feed if stream == "stdout" else feed_stderr
                        if handler is not None:
                            for event in handler(line) or ():
                                yield event
                        if give_up():
                            exit_.gave_up = True
                            break
                        if finished():
                            break
                if exit_.gave_up:
                    await proc.kill_tree()
                elif finished() and not ctx.abort.is_set:
                    with anyio.move_on_after(self.exit_grace):
                        await proc.wait()
                    if proc.returncode is None:
                        exit_.lingered = True
                        await proc.kill_tree()
                exit_.code = await proc.wait()
                exit_.stderr = proc.stderr_text
                killed_by_us = exit_.lingered or exit_.gave_up
                exit_.aborted = ctx.abort.is_set or (proc.aborted and not killed_by_us)
        except OSError as exc:
            what = f"{exit_.binary} failed" if started else f"could not start {exit_.binary}"
            exit_.start_error = ctx.scrub(f"{what}: {exc.strerror or exc}")
