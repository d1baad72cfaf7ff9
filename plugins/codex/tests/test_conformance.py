import clawboo_codex

from clawboo_host.testing.conformance import RuntimeConformanceTests


class TestClawbooCodexConformance(RuntimeConformanceTests):
    plugin = clawboo_codex
    runtime_id = "codex"
