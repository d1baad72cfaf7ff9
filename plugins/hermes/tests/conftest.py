"""Fixtures for this plugin's suite; the fake CLI lives in ``fake_hermes.py``."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # importlib mode: make fake_hermes importable

from fake_hermes import FakeHermes  # noqa: E402


@pytest.fixture
def fake_hermes(fake_executables) -> FakeHermes:
    return FakeHermes(fake_executables)
