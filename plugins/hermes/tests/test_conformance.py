import clawboo_hermes

from clawboo_host.testing.conformance import RuntimeConformanceTests


class TestClawbooHermesConformance(RuntimeConformanceTests):
    plugin = clawboo_hermes
    runtime_id = "hermes"
