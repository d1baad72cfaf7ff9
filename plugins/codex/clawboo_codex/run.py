"""Drive ``codex exec --json`` for one run and normalize its output.

The command line (stdin is ``/dev/null``: with a pipe codex waits to read more input)::

    codex exec --json --dangerously-bypass-approvals-and-sandbox --skip-git-repo-check
               -C <worktree> [-m MODEL] -- <prompt>
    codex exec -C <worktree> resume --json --dangerously-bypass-approvals-and-sandbox
               --skip-git-repo-check [-m MODEL] -- <session id> <prompt>

(``codex exec resume`` has no ``-C`` of its own: the parent's applies. ``--`` keeps a prompt
that starts with ``-`` from being read as an option.)

- ``CODEX_HOME`` is the per-identity home the host gives the runtime (``ctx.home_dir``), else
  ``<scratch>/codex-home``; never the user's ``~/.codex``. The user's ``codex login`` is
  seeded into it (see :mod:`clawboo_codex.home`).
- ``<CODEX_HOME>/config.toml`` is made before each run from the user's own config (their
  model, provider, profiles and the rest), with the host's MCP tasks server as the only
  ``[mcp_servers.*]`` entry (``bearer_token_env_var = "CLAWBOO_MCP_TOKEN"``; the token is
  only in the child's env).
- Credentials follow the provider that config selects: the ``openai`` provider needs the
  login or ``CODEX_API_KEY``/``OPENAI_API_KEY``; a custom provider its ``env_key`` (from the
  server's environment or the vault: the plugin names it to the host through
  ``clawboo_runtime_key_names``); a local one nothing. Missing → the run fails without
  spawning.
- The child env is ``ctx.env`` plus ``CODEX_HOME`` and ``CLAWBOO_MCP_TOKEN``.
- Resume: ``ctx.resume_session_id`` is used only with a persistent home (where codex keeps
  the session). If codex cannot find the session, the run starts a new one.
- Codex loops for ever on an unreachable provider (``Reconnecting... waiting for network``):
  after :data:`RECONNECT_LIMIT` of those in a row the tree is killed and the run fails with
  ``codex could not reach its provider: <last error>`` (about 90 s with codex's back-off).
- After ``turn.completed``/``turn.failed`` codex normally exits at once; if it lingers more
  than :data:`TERMINAL_EXIT_GRACE_S` its tree is killed and the outcome stands.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path

import anyio

from clawboo_host.plugin_api import (
    Done,
    ErrorEvent,
    RunContext,
    RuntimeEvent,
    StatusEvent,
    hookimpl,
)
from clawboo_host.plugin_api.cli import LineCli, missing_cli, resolve_cli
from clawboo_host.plugin_api.text import tail

from .events import CodexStream
from .home import (
    MCP_TOKEN_ENV,
    ProviderChoice,
    UserConfigError,
    load_user_config,
    seed_auth,
    selected_provider,
    write_config,
)

__all__ = [
    "BINARY",
    "NO_CREDENTIALS",
    "RECONNECT_LIMIT",
    "build_argv",
    "build_env",
    "clawboo_runtime_run",
    "codex_home",
    "run",
]

BINARY = "codex"
#: Unbounded ``Reconnecting...`` errors in a row before we give up on the provider.
RECONNECT_LIMIT = 5
#: How long codex may take to exit after its turn ended before its tree is killed.
TERMINAL_EXIT_GRACE_S = 10.0
#: Longest summary built from error output.
MAX_SUMMARY_CHARS = 2000
#: Granted env keys codex can authenticate with instead of a ``codex login``.
CREDENTIAL_ENV = ("CODEX_API_KEY", "OPENAI_API_KEY")
NO_CREDENTIALS = "no Codex credentials: run `codex login` on this machine"
_BYPASS = ("--json", "--dangerously-bypass-approvals-and-sandbox", "--skip-git-repo-check")
_SESSION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_RESUME_FAILED = re.compile(r"no rollout found|thread/resume|session .*not found", re.I)
#: stderr lines that are noise in an error summary.
_NOISE = (
    re.compile(r"^WARNING: proceeding, even though we could not create PATH aliases"),
    re.compile(r"^Reading additional input from stdin"),
    re.compile(r"^Stack backtrace:\s*$"),
    re.compile(r"^\s+\d+:\s"),
    re.compile(r"^\s+at\s"),
)


# --------------------------------------------------------------------------- setup


def codex_home(ctx: RunContext) -> Path:
    """The child's ``CODEX_HOME``: the identity home, else ``<scratch>/codex-home`` (0700)."""
    if ctx.home_dir is not None:
        home = Path(ctx.home_dir)
    else:
        home = Path(ctx.scratch_dir) / "codex-home"
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    return home


def build_argv(
    binary: str,
    prompt: str,
    *,
    workdir: Path | str,
    model: str | None = None,
    resume: str | None = None,
) -> list[str]:
    """The codex command line; the prompt is one element, always last."""
    model_args = ["-m", model] if model else []
    if resume:
        return [
            binary,
            "exec",
            "-C",
            str(workdir),
            "resume",
            *_BYPASS,
            *model_args,
            "--",
            resume,
            prompt,
        ]
    return [binary, "exec", *_BYPASS, "-C", str(workdir), *model_args, "--", prompt]


def build_env(ctx: RunContext, home: Path) -> dict[str, str]:
    """``ctx.env`` plus ``CODEX_HOME`` and (with MCP) the bearer token codex reads."""
    env = dict(ctx.env)
    env["CODEX_HOME"] = str(home)
    env.pop(MCP_TOKEN_ENV, None)
    if ctx.mcp_url and ctx.mcp_token:
        env[MCP_TOKEN_ENV] = ctx.mcp_token
    return env


def has_key(env: dict[str, str]) -> bool:
    return any((env.get(name) or "").strip() for name in CREDENTIAL_ENV)


def missing_credential(provider: ProviderChoice, env, *, logged_in: bool) -> str | None:
    """Why codex cannot authenticate with ``provider``, or ``None`` when it can."""
    if provider.openai_auth:
        return None if logged_in or has_key(env) else NO_CREDENTIALS
    if provider.env_key and not (env.get(provider.env_key) or "").strip():
        return (
            f"no key for Codex's model provider '{provider.id}': set {provider.env_key} "
            "in the server's environment or connect a key"
        )
    return None


# --------------------------------------------------------------------------- summaries


def _clean_stderr(stderr: str) -> str:
    lines = stderr.splitlines()
    return "\n".join(ln for ln in lines if ln.strip() and not any(p.match(ln) for p in _NOISE))


def _failure_summary(parser: CodexStream, stderr: str, code: int | None) -> str:
    if parser.last_error:
        return tail(parser.last_error, MAX_SUMMARY_CHARS)
    cleaned = _clean_stderr(stderr)
    if cleaned:
        return tail(cleaned, MAX_SUMMARY_CHARS)
    if parser.other_lines:
        return tail("\n".join(parser.other_lines), MAX_SUMMARY_CHARS)
    if code is not None and code < 0:
        return f"codex was killed by signal {-code}"
    return f"codex exited with code {code}"


# --------------------------------------------------------------------------- one process


@dataclass
class _Outcome:
    parser: CodexStream
    code: int | None = None
    stderr: str = ""
    gave_up: bool = False  # we killed it: the provider is unreachable
    lingered: bool = False  # we killed it: it did not exit after its turn ended
    start_error: str | None = None


async def _attempt(
    argv: list[str], *, cwd: Path, env: dict[str, str], ctx: RunContext, outcome: _Outcome
) -> AsyncIterator[RuntimeEvent]:
    """Run codex once, yielding its events; the outcome is left in ``outcome``."""
    parser = outcome.parser

    def feed(line: str) -> list[RuntimeEvent]:
        return [
            ErrorEvent(ctx.scrub(e.message), code=e.code, fatal=e.fatal)
            if isinstance(e, ErrorEvent)
            else e
            for e in parser.feed(line)
        ]

    cli = LineCli(argv, ctx=ctx, env=env, cwd=cwd, exit_grace=TERMINAL_EXIT_GRACE_S)
    events = cli.events(
        feed,
        finished=lambda: parser.terminal,
        give_up=lambda: parser.reconnects >= RECONNECT_LIMIT,  # the provider is unreachable
    )
    async with aclosing(events) as stream:
        async for event in stream:
            yield event
    result = cli.exit
    outcome.code, outcome.stderr = result.code, result.stderr
    outcome.gave_up, outcome.lingered = result.gave_up, result.lingered
    outcome.start_error = result.start_error


def _resume_failed(outcome: _Outcome, ctx: RunContext) -> bool:
    """Codex refused the session id (no rollout for it in this home): start afresh."""
    return (
        not ctx.abort.is_set
        and outcome.start_error is None
        and not outcome.parser.saw_json
        and outcome.code not in (0, None)
        and bool(_RESUME_FAILED.search(outcome.stderr))
    )


def _done(outcome: _Outcome, ctx: RunContext, session_id: str | None) -> Done:
    parser = outcome.parser
    session_id = parser.session_id or session_id
    if outcome.start_error:
        return Done("error", summary=outcome.start_error, session_id=session_id)
    if ctx.abort.is_set:
        return Done("aborted", summary=ctx.scrub(parser.last_message), session_id=session_id)
    if outcome.gave_up:
        last = parser.last_reconnect or "no answer"
        summary = tail(f"codex could not reach its provider: {last}", MAX_SUMMARY_CHARS)
        return Done("error", summary=ctx.scrub(summary), session_id=session_id)
    if parser.failed is not None:
        return Done(
            "error",
            summary=ctx.scrub(tail(parser.failed, MAX_SUMMARY_CHARS)),
            session_id=session_id,
        )
    if parser.completed or outcome.code == 0:
        return Done("success", summary=ctx.scrub(parser.last_message), session_id=session_id)
    summary = _failure_summary(parser, outcome.stderr, outcome.code)
    return Done("error", summary=ctx.scrub(summary), session_id=session_id)


# --------------------------------------------------------------------------- the run


async def run(ctx: RunContext) -> AsyncIterator[RuntimeEvent]:
    """The run hook's body: resolve, prepare the home, spawn, normalize, one ``Done``."""
    binary = await resolve_cli(BINARY, ctx)
    if binary is None:
        yield missing_cli(BINARY)
        return
    try:
        home = codex_home(ctx)
        logged_in = await anyio.to_thread.run_sync(seed_auth, home, ctx.env)
        user_config = await anyio.to_thread.run_sync(
            lambda: load_user_config(ctx.env, exclude=home)
        )
    except OSError as exc:
        yield Done("error", summary=f"could not prepare CODEX_HOME: {exc.strerror or exc}")
        return
    except UserConfigError as exc:
        yield Done("error", summary=str(exc))
        return
    missing = missing_credential(selected_provider(user_config), ctx.env, logged_in=logged_in)
    if missing:
        yield Done("error", summary=missing)
        return
    try:
        await anyio.to_thread.run_sync(
            lambda: write_config(home, user_config, ctx.mcp_url, bearer_token=bool(ctx.mcp_token))
        )
    except OSError as exc:
        yield Done("error", summary=f"could not write codex config: {exc.strerror or exc}")
        return

    workdir = Path(ctx.cwd) if ctx.cwd is not None else Path(ctx.scratch_dir)
    env = build_env(ctx, home)
    resume = ctx.resume_session_id
    if not (ctx.home_dir is not None and resume and _SESSION_ID.match(resume)):
        resume = None

    while True:
        argv = build_argv(binary, ctx.prompt, workdir=workdir, model=ctx.model, resume=resume)
        outcome = _Outcome(CodexStream(ctx.model))
        if resume:
            yield StatusEvent(f"resuming {resume}")
        attempt = _attempt(argv, cwd=workdir, env=env, ctx=ctx, outcome=outcome)
        async with aclosing(attempt) as events:
            async for event in events:
                yield event
        if resume and _resume_failed(outcome, ctx):
            yield StatusEvent("resume-failed: starting a new Codex session")
            resume = None
            continue
        yield _done(outcome, ctx, resume)
        return


@hookimpl
async def clawboo_runtime_run(ctx: RunContext) -> AsyncIterator[RuntimeEvent]:
    """Run ``codex exec --json`` on the task (see the module docstring)."""
    async with aclosing(run(ctx)) as events:
        async for event in events:
            yield event
