import clawboo_hermes
from fake_hermes import FakeHermes

from clawboo_host.testing.conformance import RuntimeConformanceTests


class TestClawbooHermesConformance(RuntimeConformanceTests):
    plugin = clawboo_hermes
    runtime_id = "hermes"
    fake_cli = FakeHermes
