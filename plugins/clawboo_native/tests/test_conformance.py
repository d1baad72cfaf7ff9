import clawboo_native

from clawboo_host.testing.conformance import RuntimeConformanceTests


class TestClawbooNativeConformance(RuntimeConformanceTests):
    plugin = clawboo_native
    runtime_id = "clawboo-native"
