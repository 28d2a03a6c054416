"""Fixtures for the Teams notifier: the estate emulator's Teams sink and a webhook URL on it.

Finding and transition builders are in tests/support/cards.py. Every card any test builds is validated
with Microsoft's tooling by tests/card_check.py (installed from tests/conftest.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from emulator.server import EmulatorServer
from tests.support.cards import MINIMAL_SEED, QUERY


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(MINIMAL_SEED, port=0) as server:
        yield server


@pytest.fixture
def sink(emulator: EmulatorServer) -> Iterator[EmulatorServer]:
    """The emulator with an empty Teams sink, no faults and zeroed request counts."""
    emulator.clear_faults()
    emulator.clear_teams()
    emulator.reset_requests()
    yield emulator
    emulator.clear_faults()


@pytest.fixture
def webhook_url(sink: EmulatorServer) -> str:
    """A Workflows-shaped URL on the emulator's sink, with a secret `sig` to hunt for."""
    return f"{sink.url}/teams/alerts?{QUERY}"
