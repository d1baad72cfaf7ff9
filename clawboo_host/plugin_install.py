"""``clawboo-host install / uninstall / --version``: plugins in the host's own environment.

Like ``llm install``, installing runs pip with the interpreter the host itself runs on
(``sys.executable -m pip``), so a plugin lands beside the host whether that is a pipx venv, a
project venv or a system Python — no need to know about ``pipx inject``. Plugins are found
through their entry points when a host starts, so a running server needs a restart to see a
change.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable, Sequence

from . import CORE_DISTRIBUTION, META_DISTRIBUTION, __version__
from .plugin_api.version import PLUGIN_API_VERSION
from .registry import discover_entry_points, mock_enabled, normalized_name

RESTART_HINT = (
    "A running `clawboo-host serve` loads plugins when it starts: restart it to pick this up. "
    "`clawboo-host plugins` lists what is installed."
)

#: Removing either of these removes the host (and its command) rather than a plugin.
_HOST_DISTRIBUTIONS = frozenset({CORE_DISTRIBUTION, META_DISTRIBUTION})


def pip_install_args(
    specs: Sequence[str],
    *,
    upgrade: bool = False,
    editable: Sequence[str] = (),
    force_reinstall: bool = False,
) -> list[str]:
    """The pip arguments for ``clawboo-host install``: pip's own flags, passed through."""
    args = ["install"]
    if upgrade:
        args.append("--upgrade")
    if force_reinstall:
        args.append("--force-reinstall")
    for path in editable:
        args += ["--editable", path]
    return args + list(specs)


def pip_uninstall_args(distributions: Sequence[str], *, yes: bool = False) -> list[str]:
    return ["uninstall", *(["--yes"] if yes else []), *distributions]


def host_distributions_in(distributions: Iterable[str]) -> list[str]:
    """The names in ``distributions`` that are the host itself, not a plugin."""
    host = {normalized_name(name) for name in _HOST_DISTRIBUTIONS}
    return [name for name in distributions if normalized_name(name) in host]


def run_pip(args: Sequence[str]) -> int:
    """Run pip in the host's environment, attached to this terminal; its exit status."""
    return subprocess.call([sys.executable, "-m", "pip", *args])


def version_report() -> str:
    """``--version``: the host, the plugin API it speaks, and every installed runtime plugin.

    Read from installed metadata, without importing the plugins, so a broken plugin still shows
    its version here (``clawboo-host plugins`` says whether it loads).
    """
    lines = [f"clawboo-host {__version__}", f"plugin API {PLUGIN_API_VERSION}"]
    found = discover_entry_points(include_mock=mock_enabled(os.environ))
    plugins = sorted(found, key=lambda entry: entry[0].name)
    lines.append("runtime plugins:" if plugins else "runtime plugins: none")
    for ep, distribution, version in plugins:
        lines.append(f"  {ep.name:<16} {distribution or '?'} {version or '?'}")
    return "\n".join(lines)
