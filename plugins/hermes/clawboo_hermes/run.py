"""``clawboo_runtime_run`` for Hermes: ``hermes chat --query=<prompt> -Q --yolo``.

Hermes is not streaming: with ``-Q`` it prints only its final answer on stdout (plus the
odd warning line) and ``session_id: <id>`` on stderr, and reports no usage. So a run is:

1. resolve ``hermes``; pick its home (``ctx.home_dir``, else ``<scratch>/hermes-home``) and
   pass it as ``HERMES_HOME`` — never ``~/.hermes``;
2. refresh ``<home>/.update_check`` (no PyPI check on start); make ``<home>/config.yaml``
   from the user's own with our ``clawboo-tasks`` MCP server as the only one, and copy the
   user's ``.env`` (see :mod:`.config_file`);
3. spawn ``hermes chat --query=<prompt> -Q --yolo [--provider P] [-m MODEL] [--resume SID]``
   and stream each stdout line as a ``TextDelta``. When the user's config picks the
   provider or model, neither flag is passed (a ``model`` in the run request still is);
4. map the exit: ``0`` → ``success`` (``max_turns`` when Hermes printed its iteration-limit
   warning), non-zero → ``error`` with the answer line (``HTTP 401: ...``) or the stderr
   tail, killed → ``aborted``; ``Done.session_id`` is the first ``session_id:`` line;
5. always take our entry (and its token) back out of ``config.yaml``.

No ``CostEvent`` is emitted (Hermes reports no usage; the host reports ``costUsd: null``).
"""

from __future__ import annotations

import os
import re
from contextlib import aclosing
from pathlib import Path

from clawboo_host.plugin_api import (
    Done,
    ErrorEvent,
    RunContext,
    StatusEvent,
    TextDelta,
    hookimpl,
)
from clawboo_host.plugin_api.cli import LineCli, missing_cli, resolve_cli
from clawboo_host.plugin_api.files import seed_credential_file
from clawboo_host.plugin_api.text import tail

from . import config_file, update_cache
from .auth import has_chatgpt_auth, hermes_home

BINARY = "hermes"
SUMMARY_LIMIT = 2000

#: The provider Hermes should use for each key we may be granted, in order of preference,
#: with the model used when the caller names none.
PROVIDERS: tuple[tuple[str, str, str], ...] = (
    ("OPENROUTER_API_KEY", "openrouter", "openai/gpt-4o-mini"),
    ("ANTHROPIC_API_KEY", "anthropic", "claude-haiku-4-5"),
    ("OPENAI_API_KEY", "openai-api", "gpt-4o-mini"),
)
CHATGPT_PROVIDER = ("openai-codex", "gpt-5.5")

_SESSION_LINE = re.compile(r"^\s*session[\s_-]?id\s*:\s*(\S+)\s*$", re.IGNORECASE)
#: Hermes's iteration-limit warnings (agent/chat_completion_helpers.py, run_agent.py).
_MAX_TURNS = re.compile(
    r"Reached maximum iterations \(\d+\)|maximum tool-iteration limit was reached", re.IGNORECASE
)
#: Start-up notices Hermes prints on stdout that are not part of the answer.
_NOISE = re.compile(r"^\s*⚠\ufe0f?\s+tirith security scanner\b")
_SESSION_NOT_FOUND = re.compile(r"^\s*Session not found:", re.MULTILINE)


def _secret(value: str | None) -> bool:
    return isinstance(value, str) and bool(value.strip())


def choose_provider(env, home: Path, user_config) -> tuple[str | None, str | None]:
    """``(provider flag, default model)`` for this run.

    The user's own config choosing a provider or model wins (no flag, no default model);
    otherwise the first granted key in :data:`PROVIDERS` order; otherwise Hermes's own
    ChatGPT login in the home; otherwise nothing (Hermes decides).
    """
    if config_file.names_provider_or_model(user_config):
        return None, None
    for env_var, provider, model in PROVIDERS:
        if _secret(env.get(env_var)):
            return provider, model
    if has_chatgpt_auth(home / "auth.json"):
        return CHATGPT_PROVIDER
    return None, None


def build_argv(
    bin_path: str,
    prompt: str,
    *,
    provider: str | None,
    model: str | None,
    resume: str | None,
) -> list[str]:
    # ``--query=<prompt>``: one element, so argparse never reads a prompt that starts
    # with "-" ("--yolo", "-h") as an option, nor Hermes's --profile pre-scan as a flag.
    argv = [bin_path, "chat", f"--query={prompt}", "-Q", "--yolo"]
    if provider:
        argv += ["--provider", provider]
    if model:
        argv += ["-m", model]
    if resume:
        argv += ["--resume", resume]
    return argv


def answer_text(stdout_lines: list[str]) -> str:
    """The answer: stdout without session lines and start-up notices, trimmed."""
    kept = [l for l in stdout_lines if not _SESSION_LINE.match(l) and not _NOISE.match(l)]
    return "\n".join(kept).strip()


def _home_for(ctx: RunContext) -> Path:
    home = Path(ctx.home_dir) if ctx.home_dir is not None else Path(ctx.scratch_dir) / "hermes-home"
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(home, 0o700)
    return home


class _Attempt:
    """What one ``hermes`` process printed."""

    def __init__(self) -> None:
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self.session_id: str | None = None
        self.code: int | None = None
        self.aborted = False
        self.start_error: str | None = None


async def _run_once(argv, ctx: RunContext, env, attempt: _Attempt, scrub):
    """Spawn ``argv`` and yield a ``TextDelta`` per stdout line; fill ``attempt``."""

    def reader(stream: str):
        def feed(line: str):
            session = _SESSION_LINE.match(line)
            if session:
                if attempt.session_id is None:
                    attempt.session_id = session.group(1)
                return ()
            line = scrub(line)
            if stream == "stderr":
                attempt.stderr.append(line)
                return ()
            attempt.stdout.append(line)
            return (TextDelta(line + "\n"),)

        return feed

    cwd = ctx.cwd if ctx.cwd is not None else ctx.scratch_dir
    cli = LineCli(argv, ctx=ctx, env=env, cwd=cwd)
    async with aclosing(cli.events(reader("stdout"), feed_stderr=reader("stderr"))) as events:
        async for event in events:
            yield event
    attempt.code, attempt.aborted = cli.exit.code, cli.exit.aborted
    attempt.start_error = cli.exit.start_error


@hookimpl
async def clawboo_runtime_run(ctx: RunContext):
    bin_path = await resolve_cli(BINARY, ctx)
    if not bin_path:
        yield missing_cli(BINARY)
        return

    home = _home_for(ctx)
    user_home = hermes_home(ctx.env)
    # The user's own ChatGPT login (what makes Hermes "ready" without a key) is copied into
    # the identity home, fresher copy wins both ways; the user's file is never written.
    seed_credential_file(home / "auth.json", [user_home / "auth.json"], has_chatgpt_auth)
    try:
        user_config = config_file.load_user_config(user_home, exclude=home)
        dotenv_secrets = config_file.carry_dotenv(user_home, home)
    except (config_file.UserConfigError, OSError) as exc:
        message = (
            str(exc)
            if isinstance(exc, config_file.UserConfigError)
            else (f"could not copy your Hermes .env: {exc.strerror or exc}")
        )
        yield ErrorEvent(message, fatal=True)
        yield Done("error", summary=message)
        return

    def scrub(text: str) -> str:
        """The run's secrets and the values of the user's ``.env`` redacted."""
        for value in sorted((v for v in dotenv_secrets if len(v) >= 6), key=len, reverse=True):
            text = text.replace(value, "[REDACTED]")
        return ctx.scrub(text)

    env = dict(ctx.env)
    env["HERMES_HOME"] = str(home)
    env["PYTHONUNBUFFERED"] = "1"

    try:
        update_cache.refresh(home, update_cache.installed_version(bin_path, ctx.env), ctx.env)
    except OSError as exc:  # a missing cache only costs a network check
        yield ErrorEvent(f"could not write Hermes's update-check cache: {exc.strerror or exc}")

    start_error: str | None = None
    attempt = _Attempt()
    try:
        try:
            config_file.write_config(home, user_config, ctx.mcp_url, ctx.mcp_token)
        except OSError as exc:
            start_error = f"could not write {home / 'config.yaml'}: {exc.strerror or exc}"
        if start_error is None:
            provider, default_model = choose_provider(ctx.env, home, user_config)
            model = ctx.model or default_model
            # An ephemeral home holds no sessions: only a persistent one can resume.
            resume = ctx.resume_session_id if ctx.home_dir is not None else None
            argv = build_argv(bin_path, ctx.prompt, provider=provider, model=model, resume=resume)
            async with aclosing(_run_once(argv, ctx, env, attempt, scrub)) as events:
                async for event in events:
                    yield event

            if (
                resume
                and not attempt.aborted
                and attempt.code not in (0, None)
                and _SESSION_NOT_FOUND.search("\n".join(attempt.stderr + attempt.stdout))
            ):
                # The session is gone (home reset, pruned): start a new one instead.
                yield StatusEvent("resume-failed, starting a new session")
                attempt = _Attempt()
                argv = build_argv(bin_path, ctx.prompt, provider=provider, model=model, resume=None)
                async with aclosing(_run_once(argv, ctx, env, attempt, scrub)) as events:
                    async for event in events:
                        yield event
            start_error = attempt.start_error  # not executable, bad interpreter...
    finally:
        try:
            config_file.write_config(home, user_config, None, None)
        except OSError:  # the next run writes the file afresh anyway
            pass

    if start_error:
        yield ErrorEvent(start_error, fatal=True)
        yield Done("error", summary=start_error)
        return

    answer = answer_text(attempt.stdout)
    if attempt.aborted:
        yield Done(
            "aborted",
            summary=tail(answer, SUMMARY_LIMIT) or "aborted",
            session_id=attempt.session_id,
        )
    elif attempt.code == 0:
        reason = "max_turns" if _MAX_TURNS.search(answer) else "success"
        yield Done(reason, summary=tail(answer, SUMMARY_LIMIT), session_id=attempt.session_id)
    else:
        stderr = "\n".join(l for l in attempt.stderr if l.strip())
        message = tail(
            answer or stderr or f"{BINARY} exited with code {attempt.code}", SUMMARY_LIMIT
        )
        yield ErrorEvent(message, fatal=True)
        yield Done("error", summary=message, session_id=attempt.session_id)
