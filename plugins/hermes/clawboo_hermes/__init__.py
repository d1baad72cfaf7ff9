"""Hermes as a clawboo runtime: a Python CLI installed with pipx (or pip --user).

It takes an OpenRouter, Anthropic or OpenAI key, the user's own ChatGPT login stored in
Hermes's ``auth.json``, or the user's own Hermes setup (``~/.hermes/config.yaml`` and
``.env``), which every run starts from. It is installed with the ``mcp`` extra so it can
reach the host's MCP tasks server.
"""

from __future__ import annotations

from clawboo_host.plugin_api import (
    AuthState,
    Capabilities,
    InstallContext,
    InstallSpec,
    NativeHome,
    RuntimeDescriptor,
    StatusProbe,
    hookimpl,
)
from clawboo_host.plugin_api.install import pip_install

from .auth import has_chatgpt_auth, hermes_home
from .config_file import user_is_configured

#: The plugin-API version this plugin is written against (see clawboo_host.plugin_api.version).
CLAWBOO_PLUGIN_API = 2

DESCRIPTOR = RuntimeDescriptor(
    id="hermes",
    name="Hermes",
    cli_binary="hermes",
    install=InstallSpec(method="pip", package="hermes-agent[anthropic,mcp]<1", python_min_minor=11),
    auth_kind="api-key",
    env_var="OPENROUTER_API_KEY",
    alt_env_vars=("ANTHROPIC_API_KEY", "OPENAI_API_KEY"),
    docs_url="https://pypi.org/project/hermes-agent/",
    headless_auth=True,
    capabilities=Capabilities(
        streaming=False,
        mcp=True,
        worktrees=True,
        resume=True,
        tool_approval=True,
        steerable=False,
        models=(),
        runtime_class="wrapped-oneshot",
        native_home=NativeHome("per-identity", True),
        native_skills="preserve",
        native_memory="preserve",
        native_channels="none",
        native_scheduler=True,
    ),
)


@hookimpl
def clawboo_runtime_descriptor() -> RuntimeDescriptor:
    return DESCRIPTOR


@hookimpl
def clawboo_runtime_auth_state(probe: StatusProbe) -> AuthState:
    """Ready without a vault key when the user's own Hermes has a ChatGPT login or its
    config picks a provider/model (their gateway, with its key in their ``.env``)."""
    home = hermes_home(probe.env)
    return AuthState(
        external_credential=has_chatgpt_auth(home / "auth.json") or user_is_configured(home)
    )


@hookimpl
async def clawboo_runtime_install(ctx: InstallContext):
    spec = DESCRIPTOR.install
    async for event in pip_install(
        spec.package, min_minor=spec.python_min_minor, env=ctx.env, display_name=DESCRIPTOR.name
    ):
        yield event


from .run import clawboo_runtime_run  # noqa: E402  (the run hook lives in run.py)

__all__ = ["DESCRIPTOR", "clawboo_runtime_run", "has_chatgpt_auth", "hermes_home"]
