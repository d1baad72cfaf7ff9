"""The public contract for runtime plugins: import everything you need from here.

See ``docs/plugins.md`` for a walk-through. Nothing outside this package is part of the
plugin API; plugins must not import other ``clawboo_host`` modules.
"""

from .hookspecs import HOOK_NAMES, hookimpl, hookspec
from .types import (
    AbortSignal,
    AuthState,
    Capabilities,
    ConnectPlan,
    ConnectRequest,
    CostEvent,
    Done,
    ErrorEvent,
    Health,
    HealthcheckRequest,
    HealthcheckResult,
    InstallComplete,
    InstallContext,
    InstallError,
    InstallEvent,
    InstallOutput,
    InstallProgress,
    InstallSpec,
    NativeHome,
    PluginContractError,
    RunContext,
    RuntimeDescriptor,
    RuntimeEvent,
    SeedAgent,
    SeedPlan,
    SeedRequest,
    StatusEvent,
    StatusProbe,
    TextDelta,
    ToolCall,
    ToolResult,
)

__all__ = [
    "HOOK_NAMES", "hookimpl", "hookspec",
    "AbortSignal", "AuthState", "Capabilities", "ConnectPlan", "ConnectRequest", "CostEvent",
    "Done", "ErrorEvent", "Health", "HealthcheckRequest", "HealthcheckResult",
    "InstallComplete", "InstallContext", "InstallError", "InstallEvent", "InstallOutput",
    "InstallProgress", "InstallSpec", "NativeHome", "PluginContractError", "RunContext",
    "RuntimeDescriptor", "RuntimeEvent", "SeedAgent", "SeedPlan", "SeedRequest",
    "StatusEvent", "StatusProbe", "TextDelta", "ToolCall", "ToolResult",
]
