import clawboo_claude_code
from fake_claude import FakeClaude

from clawboo_host.testing.conformance import RuntimeConformanceTests


class TestClawbooClaudeCodeConformance(RuntimeConformanceTests):
    plugin = clawboo_claude_code
    runtime_id = "claude-code"
    fake_cli = FakeClaude
