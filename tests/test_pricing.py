from clawboo_host.pricing import estimate_cost_usd


def test_known_models_and_the_default_rate():
    assert estimate_cost_usd("claude-haiku-4-5", 1_000_000, 1_000_000) == 6.0
    assert estimate_cost_usd("anthropic/claude-haiku-4-5-20251001", 1_000_000, 0) == 1.0
    assert estimate_cost_usd("anthropic/claude-haiku-4.5", 0, 1_000_000) == 5.0
    assert estimate_cost_usd("gpt-5-codex", 1000, 1000) > 0
    assert estimate_cost_usd(None, 1_000_000, 1_000_000) == 18.0
    assert estimate_cost_usd("gpt-4o-mini", 1_000_000, 0) == 0.15
    assert estimate_cost_usd("x", 0, 0) == 0
    assert estimate_cost_usd("x", -5, -5) == 0
