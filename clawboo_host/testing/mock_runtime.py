"""``clawboo-mock``: a fault-injection runtime that needs no CLI and no provider key.

Enabled only by ``CLAWBOO_ENABLE_MOCK_RUNTIME=1``. Its run behaviour is driven by directive
lines in the task description (see ``docs/api.md``), so the whole run flow can be exercised
over HTTP.
"""

from __future__ import annotations

from clawboo_host.plugin_api import Capabilities, Health, RuntimeDescriptor, hookimpl

DESCRIPTOR = RuntimeDescriptor(
    id="clawboo-mock",
    name="Mock (fault injection)",
    cli_binary=None,
    install=None,
    auth_kind="none",
    docs_url="https://github.com/clawboo/clawboo",
    headless_auth=True,
    capabilities=Capabilities(
        streaming=True,
        mcp=True,
        worktrees=True,
        resume=True,
        tool_approval=True,
        steerable=False,
        models=("mock",),
        runtime_class="wrapped-oneshot",
    ),
)


@hookimpl
def clawboo_runtime_descriptor() -> RuntimeDescriptor:
    return DESCRIPTOR


@hookimpl
def clawboo_runtime_health() -> Health:
    return Health(ok=True)
