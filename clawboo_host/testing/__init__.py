"""Test support for clawboo-host and for runtime plugin authors.

- :mod:`.pytest_plugin` (auto-loaded by pytest): fixtures for an isolated host.
- :mod:`.conformance`: ``RuntimeConformanceTests``, the suite every runtime plugin runs.
- :mod:`.fakes`: fake CLI executables on a temporary PATH.
- :mod:`.mock_runtime`: ``clawboo-mock``, the fault-injection runtime
  (enabled with ``CLAWBOO_ENABLE_MOCK_RUNTIME=1``).
"""
