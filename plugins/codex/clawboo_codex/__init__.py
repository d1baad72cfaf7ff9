"""OpenAI Codex CLI as a clawboo runtime: installed with npm, signed in with ``codex login``
or through the model provider the user's own ``config.toml`` selects (a gateway's
``env_key``, or a local server that needs no key)."""

from __future__ import annotations

import re
import time

import anyio

from clawboo_host.plugin_api import (
    AuthState,
    Capabilities,
    ConnectPlan,
    ConnectRequest,
    InstallContext,
    InstallSpec,
    NativeHome,
    RuntimeDescriptor,
    StatusProbe,
    hookimpl,
)
from clawboo_host.plugin_api.install import npm_install
from clawboo_host.plugin_api.process import run_capture

from .home import ProviderChoice, UserConfigError, load_user_config, selected_provider
from .run import clawboo_runtime_run  # noqa: F401  (the run hook: see run.py)

#: The plugin-API version this plugin is written against (see clawboo_host.plugin_api.version).
CLAWBOO_PLUGIN_API = 2

DESCRIPTOR = RuntimeDescriptor(
    id="codex",
    name="Codex",
    cli_binary="codex",
    install=InstallSpec(method="npm", package="@openai/codex@0"),
    auth_kind="oauth",
    env_var=None,
    docs_url="https://developers.openai.com/codex/cli",
    headless_auth=False,
    capabilities=Capabilities(
        streaming=True,
        mcp=True,
        worktrees=True,
        resume=True,
        tool_approval=True,
        steerable=False,
        models=("gpt-5-codex", "gpt-5", "o4-mini"),
        runtime_class="wrapped-oneshot",
        native_home=NativeHome("per-identity", True),
        native_skills="none",
        native_memory="none",
        native_channels="none",
        native_scheduler=False,
    ),
)

LOGIN_CACHE_TTL_S = 5.0
_LOGGED_IN = re.compile(r"logged in", re.I)
_NOT_LOGGED_IN = re.compile(r"not logged in", re.I)
_login_cache: dict[str, tuple[float, bool]] = {}


def parse_login_status(output: str) -> bool:
    """``codex login status`` exits 0 either way; only its words tell."""
    return bool(_LOGGED_IN.search(output)) and not _NOT_LOGGED_IN.search(output)


async def is_logged_in(bin_path: str, env, *, fresh: bool = False) -> bool:
    """Probe ``codex login status`` (5 s timeout), cached for 5 s per binary."""
    now = time.monotonic()
    cached = _login_cache.get(bin_path)
    if cached and not fresh and now - cached[0] < LOGIN_CACHE_TTL_S:
        return cached[1]
    result = await run_capture([bin_path, "login", "status"], env=dict(env), timeout=5.0)
    logged_in = result.returncode is not None and parse_login_status(result.stdout + result.stderr)
    _login_cache[bin_path] = (time.monotonic(), logged_in)
    return logged_in


@hookimpl
def clawboo_runtime_descriptor() -> RuntimeDescriptor:
    return DESCRIPTOR


def user_provider(env) -> ProviderChoice | None:
    """The provider the user's own codex config selects (``None``: unreadable config)."""
    try:
        return selected_provider(load_user_config(env))
    except UserConfigError:
        return None


@hookimpl
def clawboo_runtime_key_names(env) -> tuple[str, ...]:
    """A custom provider's ``env_key`` is a key this runtime draws on (vault or server env)."""
    provider = user_provider(env)
    return (provider.env_key,) if provider is not None and provider.env_key else ()


@hookimpl
async def clawboo_runtime_auth_state(probe: StatusProbe) -> AuthState:
    if not probe.bin_path:
        return AuthState()
    provider = await anyio.to_thread.run_sync(user_provider, probe.env)
    if provider is not None and not provider.openai_auth:
        # No codex login involved: a local provider is ready as is; a gateway's key
        # counts through clawboo_runtime_key_names.
        return AuthState(external_credential=provider.keyless)
    return AuthState(logged_in=await is_logged_in(probe.bin_path, probe.env, fresh=probe.fresh))


@hookimpl
def clawboo_runtime_connect(request: ConnectRequest) -> ConnectPlan:
    """A pasted key goes to the user's provider's ``env_key``; otherwise ``codex login``."""
    provider = user_provider(request.env)
    if provider is not None and provider.env_key:
        return ConnectPlan(slot=provider.env_key)
    return ConnectPlan(login_command="codex login")


@hookimpl
async def clawboo_runtime_install(ctx: InstallContext):
    _login_cache.clear()
    async for event in npm_install(DESCRIPTOR.install.package, env=ctx.env):
        yield event
