"""clawboo-host: coding-agent runtimes behind one HTTP API, as pluggy plugins."""

#: The one version of the host and the built-in runtime plugins, released together. Every
#: pyproject in the repository is kept equal to it by ``scripts/bump-version`` and checked by
#: ``tests/test_versions.py``; the core distribution reads it directly (hatch dynamic version).
__version__ = "0.1.0"

#: The distribution that ships this package (the bare host).
CORE_DISTRIBUTION = "clawboo-host-core"

#: The meta-distribution people install: the core plus the four built-in runtime plugins
#: (docs/install.md says why the host is split this way).
META_DISTRIBUTION = "clawboo-host"
