"""Gemini CLI as a clawboo runtime: installed with npm, authenticated by ``GEMINI_API_KEY``
(or the user's own Gemini setup: their ``~/.gemini/settings.json`` auth type and login),
driven headless with ``--output-format stream-json``. Built on the public plugin API only."""

from __future__ import annotations

from contextlib import aclosing

from clawboo_host.plugin_api import (
    AuthState,
    Capabilities,
    InstallSpec,
    RunContext,
    RuntimeDescriptor,
    StatusProbe,
    hookimpl,
)

from . import run as _run
from .home import has_google_login

CLAWBOO_PLUGIN_API = 2

DESCRIPTOR = RuntimeDescriptor(
    id="gemini-cli",
    name="Gemini CLI",
    cli_binary="gemini",
    install=InstallSpec(method="npm", package="@google/gemini-cli@0"),
    auth_kind="api-key",
    env_var="GEMINI_API_KEY",
    docs_url="https://github.com/google-gemini/gemini-cli",
    headless_auth=True,
    capabilities=Capabilities(
        streaming=True,
        mcp=True,
        worktrees=True,
        resume=False,
        tool_approval=True,
        steerable=False,
        models=("gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.5-flash-lite"),
        context_window_tokens=1_000_000,
        runtime_class="wrapped-oneshot",
        native_skills="none",
        native_memory="none",
        native_channels="none",
        native_scheduler=False,
    ),
)


@hookimpl
def clawboo_runtime_descriptor() -> RuntimeDescriptor:
    return DESCRIPTOR


@hookimpl
def clawboo_runtime_auth_state(probe: StatusProbe) -> AuthState:
    """Ready without a vault key when the user's own Gemini is signed in with Google
    (``oauth-personal`` selected and a usable ``oauth_creds.json``): runs use that login."""
    return AuthState(external_credential=has_google_login(probe.env))


@hookimpl
async def clawboo_runtime_run(ctx: RunContext):
    """``gemini --prompt=… --output-format stream-json --yolo`` in the worktree (:mod:`.run`)."""
    async with aclosing(_run.run(ctx)) as events:
        async for event in events:
            yield event
