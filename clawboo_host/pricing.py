"""Estimate a run's cost from token counts when the runtime reports none (USD per 1M tokens)."""

from __future__ import annotations

# (key, input $/1M, output $/1M). Lookup: exact key, else the first key the lower-cased
# model name contains (so "anthropic/claude-haiku-4.5" and dated ids match), else the
# default rate. Haiku 4.5 is priced at its list price ($1/$5), not the reference's $0.25/$1.25.
PRICES: tuple[tuple[str, float, float], ...] = (
    ("claude-opus-4-6", 15.0, 75.0),
    ("claude-opus-4", 15.0, 75.0),
    ("claude-sonnet-4-6", 3.0, 15.0),
    ("claude-sonnet-4", 3.0, 15.0),
    ("claude-sonnet-3-7", 3.0, 15.0),
    ("claude-haiku-4-5", 1.0, 5.0),
    ("claude-haiku-4.5", 1.0, 5.0),
    ("claude-haiku-3-5", 0.8, 4.0),
    ("gpt-4o-mini", 0.15, 0.6),
    ("gpt-4o", 2.5, 10.0),
    ("gemini-2.5-pro", 1.25, 10.0),
    ("gemini-2.5-flash-lite", 0.1, 0.4),
    ("gemini-2.5-flash", 0.3, 2.5),
)
DEFAULT_RATE = (3.0, 15.0)


def rates_for(model: str | None) -> tuple[float, float]:
    name = (model or "").lower()
    for key, rate_in, rate_out in PRICES:
        if name == key:
            return rate_in, rate_out
    for key, rate_in, rate_out in PRICES:
        if name and key in name:
            return rate_in, rate_out
    return DEFAULT_RATE


def estimate_cost_usd(model: str | None, input_tokens: int, output_tokens: int) -> float:
    rate_in, rate_out = rates_for(model)
    return max(input_tokens, 0) / 1e6 * rate_in + max(output_tokens, 0) / 1e6 * rate_out
