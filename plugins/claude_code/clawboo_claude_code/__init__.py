"""Claude Code as a clawboo runtime: installed with npm, authenticated by ANTHROPIC_API_KEY
(or a gateway's ANTHROPIC_AUTH_TOKEN, or a CLAUDE_CODE_OAUTH_TOKEN). The server's
ANTHROPIC_BASE_URL, CLAUDE_CODE_* and DISABLE_* settings reach the CLI untouched."""

from __future__ import annotations

from contextlib import aclosing

from clawboo_host.plugin_api import (
    Capabilities,
    InstallContext,
    InstallSpec,
    RunContext,
    RuntimeDescriptor,
    hookimpl,
)
from clawboo_host.plugin_api.install import npm_install

from . import run as _run

#: The plugin-API version this plugin is written against (see clawboo_host.plugin_api.version).
CLAWBOO_PLUGIN_API = 2

DESCRIPTOR = RuntimeDescriptor(
    id="claude-code",
    name="Claude Code",
    cli_binary="claude",
    install=InstallSpec(method="npm", package="@anthropic-ai/claude-code@2"),
    auth_kind="api-key",
    env_var="ANTHROPIC_API_KEY",
    # A gateway's bearer token and a `claude setup-token` OAuth token work as well.
    alt_env_vars=("ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN"),
    docs_url="https://docs.claude.com/en/docs/claude-code/overview",
    headless_auth=True,
    capabilities=Capabilities(
        streaming=True,
        mcp=True,
        worktrees=True,
        resume=True,
        tool_approval=True,
        steerable=False,
        models=("sonnet", "opus", "haiku"),
        context_window_tokens=200_000,
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
async def clawboo_runtime_install(ctx: InstallContext):
    async for event in npm_install(DESCRIPTOR.install.package, env=ctx.env):
        yield event


@hookimpl
async def clawboo_runtime_run(ctx: RunContext):
    """``claude -p … --output-format stream-json`` in the task's worktree (see :mod:`.run`)."""
    async with aclosing(_run.run(ctx)) as events:
        async for event in events:
            yield event
