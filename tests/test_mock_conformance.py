from clawboo_host.testing import mock_runtime
from clawboo_host.testing.conformance import RuntimeConformanceTests


class TestMockRuntimeConformance(RuntimeConformanceTests):
    plugin = mock_runtime
    runtime_id = "clawboo-mock"
