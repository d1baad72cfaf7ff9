"""Write a tiny third-party runtime plugin as a real project on disk (pyproject + package).

For tests that build, install and serve a plugin the way its author would ship it:
``pip install <dir>``, ``python -m build <dir>``, ``clawboo-host install <wheel>``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from ..plugin_api.version import PLUGIN_API_ATTRIBUTE, PLUGIN_API_VERSION

_PYPROJECT = """\
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "{distribution}"
version = "{version}"
dependencies = {dependencies}

[project.entry-points."clawboo.runtimes"]
{runtime_id} = "{package}"

[tool.hatch.build.targets.wheel]
packages = ["{package}"]

# editable installs as a plain path entry: no `editables` needed when building offline
[tool.hatch.build]
dev-mode-dirs = ["."]
"""

_MODULE = """\
from clawboo_host.plugin_api import (
    Capabilities, ConnectPlan, Done, InstallSpec, RuntimeDescriptor, TextDelta, hookimpl,
)

@hookimpl
def clawboo_runtime_descriptor():
    return RuntimeDescriptor(
        id={runtime_id!r}, name={name!r}, cli_binary={binary!r},
        install=InstallSpec(method="npm", package={npm!r}),
        auth_kind="api-key", env_var={env_var!r}, docs_url={docs!r},
        capabilities=Capabilities(streaming=True, mcp=False, worktrees=True, resume=False,
                                  tool_approval=False, models=({model!r},)),
    )

@hookimpl
def clawboo_runtime_connect(request):
    return ConnectPlan(slot={env_var!r})

@hookimpl
async def clawboo_runtime_run(ctx):
    yield TextDelta({hello!r})
    yield Done("success", summary={summary!r})
"""


def write_plugin_project(
    root: Path,
    *,
    distribution: str,
    runtime_id: str,
    version: str = "1.0.0",
    dependencies: Sequence[str] = (),
    plugin_api: int | None = PLUGIN_API_VERSION,
    prelude: str = "",
) -> Path:
    """Write the project into ``root`` (created) and return it.

    The runtime ``acme-agent`` is named "Acme Agent", runs the CLI ``acme`` and keeps its key in
    ``ACME_API_KEY``. ``plugin_api`` is the version it declares (``None``: declares none);
    ``prelude`` is source placed first in the module (e.g. a ``raise`` to break its import).
    """
    package = runtime_id.replace("-", "_")
    binary = runtime_id.split("-")[0]
    root.mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        _PYPROJECT.format(
            distribution=distribution,
            version=version,
            dependencies=json.dumps(list(dependencies)),
            runtime_id=runtime_id,
            package=package,
        )
    )
    declaration = f"{PLUGIN_API_ATTRIBUTE} = {plugin_api}\n" if plugin_api is not None else ""
    body = _MODULE.format(
        runtime_id=runtime_id,
        name=runtime_id.replace("-", " ").title(),
        binary=binary,
        npm=f"{runtime_id}@1",
        env_var=f"{binary.upper()}_API_KEY",
        docs=f"https://{binary}.invalid/docs",
        model=f"{binary}-1",
        hello=f"hello from {binary}",
        summary=f"{binary} done",
    )
    (root / package).mkdir()
    (root / package / "__init__.py").write_text(prelude + declaration + body)
    return root
