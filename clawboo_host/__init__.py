"""clawboo-host: coding-agent runtimes behind one HTTP API, as pluggy plugins."""

#: The one version of the host and the built-in runtime plugins, released together. Every
#: pyproject in the repository is kept equal to it by ``scripts/bump-version`` and checked by
#: ``tests/test_versions.py``; the core distribution reads it directly (hatch dynamic version).
__version__ = "0.1.0"

#: The distribution that ships this package. ``clawboo-host`` is the meta-distribution that
#: adds the four built-in runtimes (docs/install.md says why).
CORE_DISTRIBUTION = "clawboo-host-core"
