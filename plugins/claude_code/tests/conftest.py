"""Fixtures for this plugin's suite; the fake CLI lives in ``fake_claude.py``."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # importlib mode: make fake_claude importable

from fake_claude import FakeClaude  # noqa: E402


@pytest.fixture
def fake_claude(fake_executables) -> FakeClaude:
    return FakeClaude(fake_executables)
