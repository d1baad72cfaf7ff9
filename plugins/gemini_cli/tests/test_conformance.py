import clawboo_gemini_cli
from fake_gemini import FakeGemini

from clawboo_host.testing.conformance import RuntimeConformanceTests


class TestClawbooGeminiCliConformance(RuntimeConformanceTests):
    plugin = clawboo_gemini_cli
    runtime_id = "gemini-cli"
    fake_cli = FakeGemini
