"""Fixtures for the store against Azurite: `connection` and `store` (fresh tables per test) are shared
suite-wide from tests/conftest.py (the online CLI tests in tests/app use them too); workspace ids and
findings are built by tests/support/store.py.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from tests.support.store import ws_id

_counter = itertools.count()


@pytest.fixture
def unique_ws() -> Callable[[], str]:
    return lambda: ws_id(f"ws-{next(_counter)}")
