"""Which plugin-contract version this host speaks, and how a plugin says which one it targets.

``PLUGIN_API_VERSION`` is a whole number bumped only for a breaking change to
``clawboo_host.plugin_api`` (a hook removed or renamed, a hook argument or return type changed
incompatibly, a required descriptor field added). Additions plugins may ignore (a new optional
hook, a new helper, a new optional field) keep the number.

A plugin declares the version it was written against with a module-level constant named
:data:`PLUGIN_API_ATTRIBUTE` (``CLAWBOO_PLUGIN_API = 2``), written as a literal — importing the
host's constant would always claim whatever host it runs on. The host refuses a plugin whose
declared version it does not support and lists it as an error; other runtimes keep serving.
"""

from __future__ import annotations

#: The plugin contract this host implements (SPEC §7.3 names it version 2).
PLUGIN_API_VERSION = 2

#: Versions whose plugins this host can load. Version 2 only added to version 1 (the plugin
#: boundary, ``RunContext.bin_path`` and ``secrets``, the building blocks), so a version-1
#: plugin keeps working unchanged: the compatibility promise (tests/test_plugin_api_v1.py).
SUPPORTED_PLUGIN_API_VERSIONS: tuple[int, ...] = (1, PLUGIN_API_VERSION)

#: The module attribute a plugin sets to the plugin-API version it targets.
PLUGIN_API_ATTRIBUTE = "CLAWBOO_PLUGIN_API"


def unsupported_plugin_api(plugin: object) -> str | None:
    """Why ``plugin`` cannot be loaded on this host's plugin API, or ``None`` when it can.

    A plugin that declares nothing is assumed to target the current version.
    """
    declared = getattr(plugin, PLUGIN_API_ATTRIBUTE, None)
    if declared is None:
        return None
    supported = ", ".join(str(v) for v in SUPPORTED_PLUGIN_API_VERSIONS)
    if isinstance(declared, bool) or not isinstance(declared, int):
        return f"{PLUGIN_API_ATTRIBUTE} must be a whole number, not {declared!r}"
    if declared not in SUPPORTED_PLUGIN_API_VERSIONS:
        return (
            f"targets plugin API {declared}, but this host supports plugin API {supported}; "
            "install a plugin release made for this host, or a host release made for the plugin"
        )
    return None
