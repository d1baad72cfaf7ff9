"""Hermes as a clawboo runtime: a Python CLI installed with pipx (or pip --user).

It takes an OpenRouter, Anthropic or OpenAI key, or the user's own ChatGPT login stored in
Hermes's ``auth.json``. It is installed with the ``mcp`` extra so it can reach the host's
MCP tasks server.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

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


def hermes_home(env) -> Path:
    configured = (env.get("HERMES_HOME") or "").strip()
    if configured:
        return Path(configured).expanduser()
    return Path(env.get("HOME") or os.path.expanduser("~")) / ".hermes"


def _filled(value) -> bool:
    return isinstance(value, str) and bool(value.strip())


def has_chatgpt_auth(auth_file: Path) -> bool:
    """A usable ``openai-codex`` credential in Hermes's ``auth.json``. Never reads it out."""
    try:
        data = json.loads(auth_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(data, dict):
        return False
    providers = data.get("providers")
    tokens = (
        providers.get("openai-codex", {}).get("tokens") if isinstance(providers, dict) else None
    )
    if isinstance(tokens, dict) and _filled(tokens.get("access_token")) and _filled(
        tokens.get("refresh_token")
    ):
        return True
    pool = data.get("credential_pool")
    entries = pool.get("openai-codex") if isinstance(pool, dict) else None
    return isinstance(entries, list) and any(
        isinstance(e, dict) and (_filled(e.get("access_token")) or _filled(e.get("refresh_token")))
        for e in entries
    )


@hookimpl
def clawboo_runtime_descriptor() -> RuntimeDescriptor:
    return DESCRIPTOR


@hookimpl
def clawboo_runtime_auth_state(probe: StatusProbe) -> AuthState:
    return AuthState(external_credential=has_chatgpt_auth(hermes_home(probe.env) / "auth.json"))


@hookimpl
async def clawboo_runtime_install(ctx: InstallContext):
    spec = DESCRIPTOR.install
    async for event in pip_install(
        spec.package, min_minor=spec.python_min_minor, env=ctx.env, display_name=DESCRIPTOR.name
    ):
        yield event


from .run import clawboo_runtime_run  # noqa: E402  (the run hook lives in run.py)
