import clawboo_claude_code

from clawboo_host.testing.conformance import RuntimeConformanceTests


class TestClawbooClaudeCodeConformance(RuntimeConformanceTests):
    plugin = clawboo_claude_code
    runtime_id = "claude-code"
