"""The small, frozen values that runtime plugins return to the host and receive from it.

Everything a plugin exchanges with the host is one of these dataclasses: the host never
hands a plugin its database, vault or app, and never accepts an untyped dict back. Each
value knows how to render itself in the public JSON shape (``to_json``), so the wire
format lives next to the type that owns it.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from anyio import CancelScope

AuthKind = Literal["api-key", "oauth", "none"]
RuntimeClass = Literal["wrapped-oneshot", "native", "connected-substrate"]
InstallMethod = Literal["npm", "pip"]

#: Runtime ids look like ``claude-code``: lower-case words joined by ``-``.
RUNTIME_ID_PATTERN = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
#: An install package must be pinned (``@2``, ``<1``, ``==1.2``): never a bare latest.
PINNED_PACKAGE_PATTERN = re.compile(r"(@[\^~]?\d|[<>=!~]=?\d)")


class PluginContractError(ValueError):
    """A plugin returned something that breaks the contract (bad id, unpinned package...)."""


@dataclass(frozen=True)
class NativeHome:
    """Where a runtime keeps its own state: ``per-identity`` homes persist across runs."""

    scope: Literal["per-identity", "ephemeral"] = "per-identity"
    persist: bool = True

    def to_json(self) -> dict:
        return {"scope": self.scope, "persist": self.persist}


@dataclass(frozen=True)
class Capabilities:
    """What a runtime can do. Drives degradations, worktree use and MCP attachment.

    Optional fields left as ``None`` are omitted from the JSON (not sent as null).
    """

    streaming: bool
    mcp: bool
    worktrees: bool
    resume: bool
    tool_approval: bool
    steerable: bool = False
    models: tuple[str, ...] = ()
    context_window_tokens: int | None = None
    runtime_class: RuntimeClass | None = None
    native_home: NativeHome | None = None
    native_skills: str | None = None
    native_memory: str | None = None
    native_channels: str | None = None
    native_scheduler: bool | None = None

    def to_json(self) -> dict:
        out: dict = {
            "streaming": self.streaming,
            "mcp": self.mcp,
            "worktrees": self.worktrees,
            "resume": self.resume,
            "toolApproval": self.tool_approval,
            "steerable": self.steerable,
            "models": list(self.models),
        }
        optional = {
            "contextWindowTokens": self.context_window_tokens,
            "runtimeClass": self.runtime_class,
            "nativeHome": self.native_home.to_json() if self.native_home else None,
            "nativeSkills": self.native_skills,
            "nativeMemory": self.native_memory,
            "nativeChannels": self.native_channels,
            "nativeScheduler": self.native_scheduler,
        }
        out.update({k: v for k, v in optional.items() if v is not None})
        return out


@dataclass(frozen=True)
class InstallSpec:
    """How the runtime's CLI is installed: a package manager and a pinned package."""

    method: InstallMethod
    package: str
    python_min_minor: int | None = None  # pip only: the CLI needs Python 3.<minor> or newer

    @property
    def command(self) -> str:
        """The command shown to users (``installCommand``)."""
        if self.method == "npm":
            return f"npm install -g {self.package}"
        return f"pipx install '{self.package}'"


@dataclass(frozen=True)
class RuntimeDescriptor:
    """Who a runtime is: the catalog row the host shows in ``GET /api/runtimes``.

    ``cli_binary`` is the executable whose presence means "installed" (``healthBin``); a
    runtime with no ``install`` spec is built in. ``env_var`` is the primary vault slot and
    ``alt_env_vars`` the other provider keys the runtime may use; slots are shared by name
    across runtimes.
    """

    id: str
    name: str
    capabilities: Capabilities
    auth_kind: AuthKind
    docs_url: str
    cli_binary: str | None = None
    install: InstallSpec | None = None
    env_var: str | None = None
    alt_env_vars: tuple[str, ...] = ()
    headless_auth: bool = True
    participant_kind: str = "agent"

    @property
    def built_in(self) -> bool:
        return self.install is None

    @property
    def install_command(self) -> str | None:
        return self.install.command if self.install else None

    @property
    def package_manager(self) -> str | None:
        return self.install.method if self.install else None

    @property
    def env_vars(self) -> tuple[str, ...]:
        """Every vault slot this runtime draws on, primary first."""
        return ((self.env_var,) if self.env_var else ()) + tuple(self.alt_env_vars)

    def validate(self) -> None:
        """Raise :class:`PluginContractError` when the descriptor cannot be served."""
        if not RUNTIME_ID_PATTERN.match(self.id or ""):
            raise PluginContractError(f"invalid runtime id {self.id!r}")
        if self.id == "openclaw":
            raise PluginContractError("'openclaw' is reserved (a connected substrate)")
        if not self.name:
            raise PluginContractError("descriptor needs a display name")
        if not isinstance(self.capabilities, Capabilities):
            raise PluginContractError("capabilities must be a Capabilities instance")
        if self.auth_kind not in ("api-key", "oauth", "none"):
            raise PluginContractError(f"unknown auth kind {self.auth_kind!r}")
        if self.install is not None:
            if not self.cli_binary:
                raise PluginContractError("an installable runtime must name its cli_binary")
            if not PINNED_PACKAGE_PATTERN.search(self.install.package):
                raise PluginContractError(
                    f"install package {self.install.package!r} is not version-pinned"
                )

    def public_json(self) -> dict:
        """The ``available[]`` entry: the catalog without internals (package, alternates)."""
        return {
            "id": self.id,
            "name": self.name,
            "healthBin": self.cli_binary,
            "packageManager": self.package_manager,
            "installCommand": self.install_command,
            "builtIn": self.built_in,
            "authKind": self.auth_kind,
            "envVar": self.env_var,
            "docsUrl": self.docs_url,
            "headlessAuth": self.headless_auth,
        }


# --------------------------------------------------------------------------- status


@dataclass(frozen=True)
class Health:
    """Is the runtime usable right now? ``message`` says why not."""

    ok: bool
    message: str | None = None

    def to_json(self) -> dict:
        return {"ok": True} if self.ok else {"ok": False, "message": self.message or "unhealthy"}


@dataclass(frozen=True)
class StatusProbe:
    """What the host knows when it asks a plugin for health or auth state.

    ``has_key(ENV)`` answers through the runtime-scoped key chain (process env, vault,
    OpenClaw ``.env``; vault only after a disconnect) without revealing the value.
    ``fresh`` is true when a cached probe result must not be used (after a logout/login).
    """

    runtime_id: str
    bin_path: str | None
    env: Mapping[str, str]
    has_key: Callable[[str], bool]
    fresh: bool = False


@dataclass(frozen=True)
class AuthState:
    """Credentials the runtime holds outside our vault.

    ``logged_in``: an OAuth login (e.g. ``codex login status``). ``external_credential``:
    a usable credential in the runtime's own store (e.g. Hermes's ChatGPT login), which makes
    an api-key runtime ready without a vault key (reported as ``codexAuth``).
    """

    logged_in: bool = False
    external_credential: bool = False


# --------------------------------------------------------------------------- connect


@dataclass(frozen=True)
class ConnectRequest:
    """A ``POST /connect`` body, trimmed. The key itself never reaches a plugin here.

    ``env`` is the server's environment, for a plugin that reads the user's own CLI config
    to decide the slot.
    """

    provider: str
    has_api_key: bool
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ConnectPlan:
    """Where a pasted key goes. The host does the storing; the plugin only decides.

    - ``slot``: the env-var name to store the key under; ``None`` means nothing to store
      (keyless, e.g. Ollama) and the connect succeeds as is.
    - ``reuse_existing``: a blank key with a named provider may reuse a key that already
      resolves for ``slot`` (process env, vault or OpenClaw ``.env``).
    - ``login_command``: an OAuth runtime's sign-in command; nothing is stored.
    - ``error``: reject the request with 400 and this message.
    """

    slot: str | None = None
    reuse_existing: bool = False
    login_command: str | None = None
    error: str | None = None


# --------------------------------------------------------------------------- healthcheck


@dataclass(frozen=True)
class HealthcheckRequest:
    """Verify a credential without storing it.

    ``api_key`` is the pasted key ('' when none); ``stored_key(ENV)`` returns a key that
    already resolves (process env, vault, OpenClaw ``.env``) so a blank paste can be
    checked against what is stored. Never log or return either.
    """

    provider: str
    api_key: str
    stored_key: Callable[[str], str | None]
    env: Mapping[str, str]


@dataclass(frozen=True)
class HealthcheckResult:
    """``ok``/``error`` become the JSON body; ``status_code`` 400 marks a bad request."""

    ok: bool
    error: str | None = None
    status_code: int = 200

    def to_json(self) -> dict:
        return {"ok": True} if self.ok else {"ok": False, "error": self.error or "failed"}


# --------------------------------------------------------------------------- install


@dataclass(frozen=True)
class InstallContext:
    """What an install hook needs: its descriptor and the environment to install with."""

    descriptor: RuntimeDescriptor
    env: Mapping[str, str]


@dataclass(frozen=True)
class InstallProgress:
    step: str
    message: str

    def to_json(self) -> dict:
        return {"type": "progress", "step": self.step, "message": self.message}


@dataclass(frozen=True)
class InstallOutput:
    line: str

    def to_json(self) -> dict:
        return {"type": "output", "line": self.line}


@dataclass(frozen=True)
class InstallError:
    """A failure frame. ``EACCES`` is advisory (the stream goes on); other codes end it."""

    code: str
    message: str

    def to_json(self) -> dict:
        return {"type": "error", "code": self.code, "message": self.message}


@dataclass(frozen=True)
class InstallComplete:
    """The install process exited 0. The host adds a warning if the binary is still missing."""

    warning: str | None = None

    def to_json(self) -> dict:
        out: dict = {"type": "complete", "success": True}
        if self.warning:
            out["warning"] = self.warning
        return out


InstallEvent = InstallProgress | InstallOutput | InstallError | InstallComplete


# --------------------------------------------------------------------------- run


class AbortSignal:
    """Set by the host when a run must stop (client gone, abort route, budget cap).

    Plugins either ``await signal.wait()``, check ``signal.is_set`` between steps, or wrap an
    await in :meth:`cancel_scope`; the spawn helpers in :mod:`clawboo_host.plugin_api.process`
    watch it for you. Set it only from the event loop's thread.
    """

    def __init__(self) -> None:
        import anyio

        self._event = anyio.Event()
        self._scopes: set = set()
        self.reason: str | None = None

    @property
    def is_set(self) -> bool:
        return self._event.is_set()

    def set(self, reason: str = "aborted") -> None:
        if not self._event.is_set():
            self.reason = reason
            self._event.set()
            for scope in list(self._scopes):
                scope.cancel()

    async def wait(self) -> None:
        await self._event.wait()

    @contextmanager
    def cancel_scope(self) -> Iterator[CancelScope]:
        """An anyio cancel scope that the signal cancels: what runs inside stops the moment
        the run is aborted (at once if it already is), and ``scope.cancelled_caught`` tells
        afterwards. No watcher task: cheaper than racing ``wait()`` in a task group."""
        import anyio

        with anyio.CancelScope() as scope:
            if self.is_set:
                scope.cancel()
            self._scopes.add(scope)
            try:
                yield scope
            finally:
                self._scopes.discard(scope)


@dataclass(frozen=True)
class RunContext:
    """Everything one run of a runtime gets. The plugin never sees the board or the vault.

    Frozen: what the host worked out for the run (``bin_path``, ``secrets``) stays as it was;
    ``env`` is your own copy to read (start children from ``dict(ctx.env)``).

    - ``cwd``: the task's git worktree (``None`` for research/review kinds).
    - ``prompt``: the full prompt (task, prior handoff, MCP note) to send as-is.
    - ``env``: the scrubbed server environment plus exactly the keys this runtime is granted;
      pass it to every child process unchanged (add, never copy ``os.environ``).
    - ``mcp_url`` / ``mcp_token``: the host's MCP tasks server and the per-run bearer token
      (send ``Authorization: Bearer <token>``); both ``None`` when MCP is not attached.
    - ``home_dir``: a private per-identity directory for the runtime's own config/state
      (``CODEX_HOME``, ``HERMES_HOME``...). Never write the user's global CLI config.
    - ``scratch_dir``: a per-run directory outside the worktree for run-scoped files
      (e.g. an MCP config file); deleted after the run.
    - ``resume_session_id``: the runtime's own session id from its last run of this task.
    - ``abort``: set when the run must stop; kill your processes and finish ``aborted``.
    - ``bin_path``: the runtime's CLI as the host resolved it before claiming the task
      (``None`` for a built-in runtime); spawn this, never the bare name.
    - ``secrets``: every secret value this run must never show (its granted keys and any
      other runtime's keys the host holds); :meth:`scrub` hides them.
    """

    run_id: str
    task_id: str
    agent_id: str
    prompt: str
    cwd: Path | None
    env: dict[str, str]
    home_dir: Path | None
    scratch_dir: Path
    abort: AbortSignal
    model: str | None = None
    mcp_url: str | None = None
    mcp_token: str | None = None
    resume_session_id: str | None = None
    title: str = ""
    bin_path: str | None = None
    secrets: tuple[str, ...] = ()

    def scrub(self, text: str) -> str:
        """``text`` with this run's secrets (the MCP token, ``secrets``, every provider key
        in ``env``) replaced by ``[REDACTED]``.

        The host redacts everything you yield anyway; use this for text you build yourself
        (a summary made of a CLI's stderr) so it is clean where you produce it too.
        """
        from .childenv import PROVIDER_KEY_NAMES

        values = {self.mcp_token or "", *self.secrets}
        values |= {v for k, v in self.env.items() if k.upper() in PROVIDER_KEY_NAMES}
        for secret in sorted((v for v in values if len(v) >= 6), key=len, reverse=True):
            text = text.replace(secret, "[REDACTED]")
        return text


# Normalized run events. The host turns these into board state and SSE frames.


@dataclass(frozen=True)
class TextDelta:
    text: str
    channel: str | None = None  # "reasoning" text is streamed but not used as the summary

    def to_json(self) -> dict:
        out: dict = {"type": "text-delta", "text": self.text}
        if self.channel:
            out["channel"] = self.channel
        return out


@dataclass(frozen=True)
class ToolCall:
    tool_call_id: str
    name: str
    input: object = None
    partial: bool = False

    def to_json(self) -> dict:
        return {
            "type": "tool-call",
            "toolCallId": self.tool_call_id,
            "name": self.name,
            "input": self.input,
            "partial": self.partial,
        }


@dataclass(frozen=True)
class ToolResult:
    tool_call_id: str
    name: str
    output: object = None
    is_error: bool = False

    def to_json(self) -> dict:
        return {
            "type": "tool-result",
            "toolCallId": self.tool_call_id,
            "name": self.name,
            "output": self.output,
            "isError": self.is_error,
        }


@dataclass(frozen=True)
class StatusEvent:
    phase: str

    def to_json(self) -> dict:
        return {"type": "status", "phase": self.phase}


@dataclass(frozen=True)
class CostEvent:
    """Spend so far in this turn. ``cost_usd=None`` lets the host price the tokens."""

    cost_usd: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    model: str | None = None

    def to_json(self) -> dict:
        return {
            "type": "cost",
            "costUsd": self.cost_usd,
            "usage": {"inputTokens": self.input_tokens, "outputTokens": self.output_tokens},
            "model": self.model,
        }


@dataclass(frozen=True)
class ErrorEvent:
    """A problem worth showing. It does not end the run; a :class:`Done` does."""

    message: str
    code: str | None = None
    fatal: bool = False

    def to_json(self) -> dict:
        return {"type": "error", "code": self.code, "message": self.message, "fatal": self.fatal}


DoneReason = Literal["success", "max_turns", "aborted", "error"]


@dataclass(frozen=True)
class Done:
    """The terminal event: exactly one per run, last.

    ``session_id`` is the runtime's own session id, kept so the same runtime can resume.
    """

    reason: DoneReason
    summary: str = ""
    session_id: str | None = None

    def to_json(self) -> dict:
        return {"type": "done", "reason": self.reason, "summary": self.summary}


RuntimeEvent = TextDelta | ToolCall | ToolResult | StatusEvent | CostEvent | ErrorEvent | Done

# --------------------------------------------------------------------------- seed


@dataclass(frozen=True)
class SeedRequest:
    """``POST /api/onboarding/seed-native-team``, trimmed.

    ``recorded_pick`` is the stored leader pick ``(provider, model)`` or ``None``;
    ``has_key(ENV)`` resolves runtime-scoped; ``env`` is the process environment.
    """

    provider: str
    model: str
    recorded_pick: tuple[str, str] | None
    has_key: Callable[[str], bool]
    env: Mapping[str, str]


@dataclass(frozen=True)
class SeedAgent:
    id: str
    name: str
    role: Literal["leader", "specialist"]
    provider: str
    model: str
    config: dict = field(default_factory=dict)


@dataclass(frozen=True)
class SeedPlan:
    """The team to create. The host writes all of it in one transaction, or nothing.

    ``settings`` are key → string values to upsert (``{team_id}`` in a key is replaced by
    the new team's id). ``error`` rejects the request with 400.
    """

    team_name: str = "My First Team"
    agents: tuple[SeedAgent, ...] = ()
    settings: Mapping[str, str] = field(default_factory=dict)
    error: str | None = None


MaybeAwaitable = object | Awaitable[object]
