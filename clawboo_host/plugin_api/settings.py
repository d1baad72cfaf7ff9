"""Numeric settings read from environment variables, with a safe fallback."""

from __future__ import annotations

from collections.abc import Mapping


def positive_float(env: Mapping[str, str], name: str, default: float) -> float:
    """``env[name]`` as a positive number; missing, malformed or ``<= 0`` means ``default``.

    A typo in a timeout must not turn into "no timeout" or a crash at start-up.
    """
    try:
        value = float(env.get(name, ""))
    except ValueError:
        return default
    return value if value > 0 and value == value else default  # NaN is not a setting
