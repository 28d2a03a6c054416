"""Fixtures for pure unit tests; the builders they use are in tests/support/estates.py."""

from __future__ import annotations

import pytest

from core.baseline import Baseline
from tests.support.estates import baseline


@pytest.fixture
def strict() -> Baseline:
    return baseline()
