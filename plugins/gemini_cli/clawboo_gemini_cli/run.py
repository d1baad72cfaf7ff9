"""``clawboo_runtime_run`` for Gemini CLI, built on :mod:`clawboo_host.plugin_api.cli`.

The command line (in the task's worktree)::

    gemini --prompt=<prompt> --output-format stream-json --yolo [--model M]

(``--prompt=<prompt>`` is one argv element, so a prompt starting with ``-`` is never read as
an option.) The child env is ``ctx.env`` plus:

- ``GEMINI_CLI_HOME=<scratch>/gemini-home``: a private home whose ``.gemini/settings.json``
  is made from the user's own with the host's MCP tasks server (see :mod:`.home`);
- ``GEMINI_CLI_TRUST_WORKSPACE=true``: headless Gemini only loads MCP servers (and honours
  ``--yolo``) in a trusted folder, and a worktree is never in the user's trusted list;
- ``TMPDIR=<scratch>/tmp``: Gemini writes error reports that quote the request (the prompt)
  into its temp dir; they go with the run's scratch.

``GEMINI_API_KEY`` comes from the vault or the server's environment like every granted key;
the user's ``GOOGLE_GEMINI_BASE_URL`` (a gateway) passes through untouched.

Outcome: a ``result`` with ``status: success`` → ``success`` with the final answer (the text
after the last tool call); ``FatalTurnLimitedError`` → ``max_turns``; any other error result
→ ``error`` with its message; no result → ``error`` with the stderr tail. Tokens per model
become ``CostEvent``s (priced by the host).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from pathlib import Path

import anyio

from clawboo_host.plugin_api import Done, ErrorEvent, RunContext, RuntimeEvent
from clawboo_host.plugin_api.cli import LineCli, missing_cli, resolve_cli

from .events import GeminiStream
from .home import UserSettingsError, load_user_settings, write_home

__all__ = ["BINARY", "build_argv", "build_env", "run"]

BINARY = "gemini"


def build_argv(bin_path: str, prompt: str, *, model: str | None = None) -> list[str]:
    argv = [bin_path, f"--prompt={prompt}", "--output-format", "stream-json", "--yolo"]
    if model:
        argv.append(f"--model={model}")
    return argv


def build_env(ctx: RunContext, home: Path) -> dict[str, str]:
    """``ctx.env`` plus the private home, the workspace trust headless MCP needs, and a
    private ``TMPDIR`` (Gemini writes error reports quoting the request there)."""
    env = dict(ctx.env)
    env["GEMINI_CLI_HOME"] = str(home)
    env["GEMINI_CLI_TRUST_WORKSPACE"] = "true"
    tmp = Path(ctx.scratch_dir) / "tmp"
    tmp.mkdir(parents=True, exist_ok=True, mode=0o700)
    env["TMPDIR"] = str(tmp)
    return env


async def run(ctx: RunContext) -> AsyncIterator[RuntimeEvent]:
    bin_path = await resolve_cli(BINARY, ctx)
    if bin_path is None:
        yield missing_cli(BINARY)
        return
    if ctx.abort.is_set:
        yield Done("aborted")
        return
    home = Path(ctx.scratch_dir) / "gemini-home"
    try:
        user = await anyio.to_thread.run_sync(lambda: load_user_settings(ctx.env, exclude=home))
        await anyio.to_thread.run_sync(write_home, home, ctx, user)
    except UserSettingsError as exc:
        yield Done("error", summary=str(exc))
        return
    except OSError as exc:
        yield Done("error", summary=f"could not prepare GEMINI_CLI_HOME: {exc.strerror or exc}")
        return

    parser = GeminiStream(ctx.model)
    argv = build_argv(bin_path, ctx.prompt, model=ctx.model)
    cli = LineCli(argv, ctx=ctx, env=build_env(ctx, home))
    finished = lambda: parser.result is not None  # noqa: E731
    async with aclosing(cli.events(parser.feed, finished=finished)) as events:
        async for event in events:
            yield event
    for cost in parser.cost_events():
        yield cost
    exit_ = cli.exit
    if parser.result is not None and not exit_.aborted and not exit_.start_error:
        if parser.max_turns:
            yield Done(
                "max_turns",
                summary=ctx.scrub(parser.error_message() or ""),
                session_id=parser.session_id,
            )
            return
        if parser.succeeded:
            yield parser.summary.done("success", scrub=ctx.scrub, session_id=parser.session_id)
            return
        message = ctx.scrub(parser.error_message() or "gemini reported an error")
        yield ErrorEvent(message, code="result_error", fatal=True)
        yield Done("error", summary=message, session_id=parser.session_id)
        return
    done = exit_.done(success=parser.summary.text, scrub=ctx.scrub, session_id=parser.session_id)
    if done.reason == "success":  # exit 0 without a result line: not a finished turn
        done = Done("error", summary="gemini exited without a result", session_id=done.session_id)
    for event in exit_.error_events(done):
        yield event
