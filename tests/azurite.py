"""The Azurite pytest fixture; the process wrapper lives in samples/azurite.py (demo and benchmarks use it too)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from samples.azurite import ACCOUNT_KEY, ACCOUNT_NAME, AZURITE_BIN, HOST, AzuriteProcess, free_port

__all__ = ["ACCOUNT_KEY", "ACCOUNT_NAME", "AZURITE_BIN", "HOST", "AzuriteProcess", "azurite", "free_port"]


@pytest.fixture(scope="session")
def azurite() -> Iterator[AzuriteProcess]:
    """One in-memory Azurite per test session (per xdist worker)."""
    with AzuriteProcess() as az:
        yield az
