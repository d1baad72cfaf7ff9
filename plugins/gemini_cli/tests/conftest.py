"""Fixtures for the Gemini CLI plugin's suite; the fake CLI lives in ``fake_gemini.py``."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # importlib mode: make fake_gemini importable

from fake_gemini import FakeGemini  # noqa: E402


@pytest.fixture
def fake_gemini(fake_executables) -> FakeGemini:
    return FakeGemini(fake_executables)
