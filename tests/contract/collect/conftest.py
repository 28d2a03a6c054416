"""Integration fixtures: the estate emulator over HTTP, read through the real azure-mgmt and databricks-sdk."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.baseline import Baseline, load_baseline
from emulator.server import EmulatorServer
from samples.factory import sample_estate

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def example_baseline() -> Baseline:
    return load_baseline(ROOT / "baseline.example.yaml")


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    """A fresh emulator on the bundled sample estate (tests may inject drift and faults)."""
    with EmulatorServer(sample_estate(), page_size=3) as server:
        yield server
