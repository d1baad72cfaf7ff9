"""Fixtures for this plugin's suite; the fake CLI lives in ``fake_codex.py``."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # importlib mode: make fake_codex importable

from fake_codex import FakeCodex  # noqa: E402


@pytest.fixture
def fake_codex(fake_executables) -> FakeCodex:
    return FakeCodex(fake_executables)
