"""The built-in native runtime: calls LLM providers directly over HTTP, no CLI to install."""

from __future__ import annotations

from collections.abc import AsyncIterator

from clawboo_host.plugin_api import (
    Capabilities,
    ConnectPlan,
    ConnectRequest,
    Health,
    HealthcheckRequest,
    HealthcheckResult,
    NativeHome,
    RunContext,
    RuntimeDescriptor,
    RuntimeEvent,
    SeedPlan,
    SeedRequest,
    StatusProbe,
    hookimpl,
)

from .providers import NO_KEY_MESSAGE, PROVIDER_ENV_VARS, PROVIDERS
from .seed import plan_team

#: The plugin-API version this plugin is written against (see clawboo_host.plugin_api.version).
CLAWBOO_PLUGIN_API = 2

DESCRIPTOR = RuntimeDescriptor(
    id="clawboo-native",
    name="Clawboo Native",
    cli_binary=None,
    install=None,
    auth_kind="api-key",
    env_var="ANTHROPIC_API_KEY",
    alt_env_vars=tuple(v for v in PROVIDER_ENV_VARS if v != "ANTHROPIC_API_KEY"),
    docs_url="https://github.com/clawboo/clawboo",
    headless_auth=True,
    capabilities=Capabilities(
        streaming=True,
        mcp=True,
        worktrees=True,
        resume=True,
        tool_approval=True,
        steerable=True,
        models=("claude-haiku-4-5", "claude-sonnet-4-6", "gpt-4o-mini", "gpt-4o"),
        context_window_tokens=200_000,
        runtime_class="native",
        native_home=NativeHome("per-identity", True),
        native_skills="none",
        native_memory="preserve",
        native_channels="none",
        native_scheduler=False,
    ),
)


@hookimpl
def clawboo_runtime_descriptor() -> RuntimeDescriptor:
    return DESCRIPTOR


@hookimpl
def clawboo_runtime_health(probe: StatusProbe) -> Health:
    """Healthy with any provider key, or with an Ollama server configured. No network call."""
    if any(probe.has_key(name) for name in PROVIDER_ENV_VARS):
        return Health(ok=True)
    if (probe.env.get("OLLAMA_BASE_URL") or "").strip():
        return Health(ok=True)
    return Health(ok=False, message=NO_KEY_MESSAGE)


@hookimpl
def clawboo_runtime_connect(request: ConnectRequest) -> ConnectPlan:
    """Route the key to the chosen provider's slot; Ollama is keyless."""
    if not request.provider:
        return ConnectPlan(slot="ANTHROPIC_API_KEY")
    provider = PROVIDERS.get(request.provider)
    if provider is None:
        return ConnectPlan(error=f"unknown provider '{request.provider}'")
    if provider.env_var is None:
        return ConnectPlan(slot=None)
    return ConnectPlan(slot=provider.env_var, reuse_existing=True)


@hookimpl
async def clawboo_runtime_healthcheck(request: HealthcheckRequest) -> HealthcheckResult:
    from .healthcheck import check_key  # httpx is imported by what needs it, not at start

    return await check_key(request)


@hookimpl
def clawboo_seed_team(request: SeedRequest) -> SeedPlan:
    return plan_team(request)


@hookimpl
async def clawboo_runtime_run(ctx: RunContext) -> AsyncIterator[RuntimeEvent]:
    """Run the agent loop in-process (see :mod:`clawboo_native.loop`)."""
    from . import loop  # the agent loop (and httpx) load with the first run

    async for event in loop.run(ctx):
        yield event
