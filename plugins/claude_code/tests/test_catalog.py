import clawboo_claude_code

EXPECTED_CAPABILITIES = {
    "streaming": True,
    "mcp": True,
    "worktrees": True,
    "resume": True,
    "toolApproval": True,
    "steerable": False,
    "models": ["sonnet", "opus", "haiku"],
    "contextWindowTokens": 200000,
    "runtimeClass": "wrapped-oneshot",
    "nativeSkills": "none",
    "nativeMemory": "none",
    "nativeChannels": "none",
    "nativeScheduler": False,
}


def test_descriptor_matches_the_catalog():
    d = clawboo_claude_code.DESCRIPTOR
    assert d.public_json() == {
        "id": "claude-code",
        "name": "Claude Code",
        "healthBin": "claude",
        "packageManager": "npm",
        "installCommand": "npm install -g @anthropic-ai/claude-code@2",
        "builtIn": False,
        "authKind": "api-key",
        "envVar": "ANTHROPIC_API_KEY",
        "docsUrl": "https://docs.claude.com/en/docs/claude-code/overview",
        "headlessAuth": True,
    }
    caps = d.capabilities.to_json()
    assert caps == EXPECTED_CAPABILITIES and list(caps) == list(EXPECTED_CAPABILITIES)
