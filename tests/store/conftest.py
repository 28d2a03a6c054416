"""Fixtures for store tests: one Azurite per xdist worker (tests/conftest.py), fresh tables per test.

Builders (workspace ids, findings, an emptied account) are in tests/support/store.py.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import pytest

from core.store import StorageConnection, TableFindingsStore
from tests.azurite import AzuriteProcess
from tests.support.store import reset_storage, ws_id

_counter = itertools.count()


@pytest.fixture(scope="session")
def connection(azurite: AzuriteProcess) -> StorageConnection:
    conn = StorageConnection.from_connection_string(azurite.connection_string)
    conn.ensure()
    return conn


@pytest.fixture
def store(connection: StorageConnection) -> Iterator[TableFindingsStore]:
    reset_storage(connection)
    yield TableFindingsStore(connection)


@pytest.fixture
def unique_ws() -> Callable[[], str]:
    return lambda: ws_id(f"ws-{next(_counter)}")
