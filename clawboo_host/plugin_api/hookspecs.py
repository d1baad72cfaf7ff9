"""The hooks a runtime plugin implements.

A runtime plugin is a module registered in the entry-point group ``clawboo.runtimes``
under its runtime id. The host calls each hook **only on the plugin whose id the request
names** (never "first plugin that answers"). Every hook except the descriptor is optional:
the host has a sensible default for each, so a minimal plugin is a descriptor plus ``run``.

Hooks may be plain functions or ``async def``; ``install`` and ``run`` are async
generators. An implementation may accept any subset of the arguments shown.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence

import pluggy

from .types import (
    AuthState,
    ConnectPlan,
    ConnectRequest,
    Health,
    HealthcheckRequest,
    HealthcheckResult,
    InstallContext,
    InstallEvent,
    RunContext,
    RuntimeDescriptor,
    RuntimeEvent,
    SeedPlan,
    SeedRequest,
    StatusProbe,
)

PROJECT = "clawboo"
hookspec = pluggy.HookspecMarker(PROJECT)
#: Decorate your hook functions with this marker (``@hookimpl``).
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def clawboo_runtime_descriptor() -> RuntimeDescriptor:
    """Describe the runtime: id, name, CLI binary, install spec, auth and capabilities.

    Required. Called once when the plugin loads; the ``id`` must equal the entry-point name.

    Example::

        @hookimpl
        def clawboo_runtime_descriptor():
            return RuntimeDescriptor(
                id="aider", name="Aider", auth_kind="api-key",
                docs_url="https://aider.chat", cli_binary="aider",
                install=InstallSpec(method="pip", package="aider-chat<1", python_min_minor=10),
                env_var="OPENAI_API_KEY",
                capabilities=Capabilities(streaming=True, mcp=False, worktrees=True,
                                          resume=False, tool_approval=False),
            )
    """


@hookspec
def clawboo_runtime_health(probe: StatusProbe) -> Health:
    """Say whether the runtime is usable now. Must be quick: the host gives it 2 seconds.

    Default: a CLI runtime is healthy when ``probe.bin_path`` is set; a built-in one always is.

    Example::

        @hookimpl
        def clawboo_runtime_health(probe):
            if probe.has_key("OPENAI_API_KEY"):
                return Health(ok=True)
            return Health(ok=False, message="no OPENAI_API_KEY connected")
    """


@hookspec
def clawboo_runtime_auth_state(probe: StatusProbe) -> AuthState:
    """Report credentials the runtime holds outside the vault (OAuth login, own auth store).

    Default: none. Cache slow probes for a few seconds unless ``probe.fresh`` is set.

    Example::

        @hookimpl
        async def clawboo_runtime_auth_state(probe):
            out = await run_probe([probe.bin_path, "login", "status"], env=probe.env)
            return AuthState(logged_in="logged in" in out.lower())
    """


@hookspec
def clawboo_runtime_key_names(env: Mapping[str, str]) -> Sequence[str]:
    """Name the extra vault slots the runtime draws on now, beyond the descriptor's.

    For a runtime whose credential depends on the user's own CLI setup (Codex's custom model
    provider names its key in ``env_key``). The host grants these names to the runtime's
    runs (from the server environment or the vault), counts them for ``connectionState``,
    redacts them and wipes them on disconnect. Synchronous and quick: it reads a config file.

    Default: none (only ``env_var`` and ``alt_env_vars``).

    Example::

        @hookimpl
        def clawboo_runtime_key_names(env):
            return ("MY_GATEWAY_KEY",) if gateway_configured(env) else ()
    """


@hookspec
def clawboo_runtime_install(ctx: InstallContext) -> AsyncIterator[InstallEvent]:
    """Install the runtime's CLI, yielding progress, output lines and a final event.

    An async generator. The host sends the opening ``Installing <name>…`` frame, enforces
    the timeout, kills your process tree if the client leaves, and adds a warning to your
    :class:`InstallComplete` if ``cli_binary`` is still not found. Use the helpers
    :func:`~clawboo_host.plugin_api.install.npm_install` /
    :func:`~clawboo_host.plugin_api.install.pip_install` rather than spawning yourself.

    Example::

        @hookimpl
        async def clawboo_runtime_install(ctx):
            async for event in npm_install(ctx.descriptor.install.package, env=ctx.env):
                yield event
    """


@hookspec
def clawboo_runtime_connect(request: ConnectRequest) -> ConnectPlan:
    """Decide where a pasted key goes (or return an OAuth login command, or an error).

    Default: ``oauth`` → ``login_command = "<cli_binary> login"``; ``none`` → keyless;
    ``api-key`` → store in the descriptor's ``env_var``.

    Example::

        @hookimpl
        def clawboo_runtime_connect(request):
            if request.provider == "azure":
                return ConnectPlan(slot="AZURE_OPENAI_API_KEY", reuse_existing=True)
            return ConnectPlan(slot="OPENAI_API_KEY")
    """


@hookspec
def clawboo_runtime_healthcheck(request: HealthcheckRequest) -> HealthcheckResult:
    """Verify a credential against the provider without storing it.

    Optional: a runtime without this hook answers 400 ``healthcheck is only supported for
    the native runtime``. Never follow redirects with a key; bound every request in time.

    Example::

        @hookimpl
        async def clawboo_runtime_healthcheck(request):
            key = request.api_key or request.stored_key("OPENAI_API_KEY")
            if not key:
                return HealthcheckResult(ok=False, error="apiKey is required", status_code=400)
            ...
            return HealthcheckResult(ok=True)
    """


@hookspec
def clawboo_runtime_run(ctx: RunContext) -> AsyncIterator[RuntimeEvent]:
    """Run the agent on ``ctx.prompt`` in ``ctx.cwd`` and yield normalized events.

    An async generator that ends with exactly one :class:`Done`. Run a CLI with
    :class:`~clawboo_host.plugin_api.cli.LineCli` (or spawn children through
    :func:`~clawboo_host.plugin_api.process.spawn` with ``env=ctx.env``) so they run in
    their own process group and die with the run; when ``ctx.abort`` is set, stop and
    yield ``Done("aborted")``. Yield :class:`CostEvent` with tokens (and dollars if the
    runtime reports them) so budgets work.

    Example::

        @hookimpl
        async def clawboo_runtime_run(ctx):
            bin_path = await resolve_cli("mycli", ctx)
            if bin_path is None:
                yield missing_cli("mycli")
                return
            summary = SummaryText()
            cli = LineCli([bin_path, "-p", ctx.prompt], ctx=ctx)
            async for event in cli.events(lambda line: [summary.observe(TextDelta(line))]):
                yield event
            yield cli.exit.done(success=summary.text, scrub=ctx.scrub)
    """


@hookspec
def clawboo_seed_team(request: SeedRequest) -> SeedPlan:
    """Plan a first team for a new user (leader + specialist). The host writes it atomically.

    Implemented by the native runtime; ``POST /api/onboarding/seed-native-team`` dispatches
    to the plugin that implements it (404 when none does).

    Example::

        @hookimpl
        def clawboo_seed_team(request):
            return SeedPlan(agents=(SeedAgent(id="native-lead-1a2b3c", name="Team Lead",
                                              role="leader", provider="openai", model="gpt-4o"),))
    """


#: Every hook name, in documentation order.
HOOK_NAMES = (
    "clawboo_runtime_descriptor",
    "clawboo_runtime_health",
    "clawboo_runtime_auth_state",
    "clawboo_runtime_key_names",
    "clawboo_runtime_install",
    "clawboo_runtime_connect",
    "clawboo_runtime_healthcheck",
    "clawboo_runtime_run",
    "clawboo_seed_team",
)
