"""Integration fixtures: the estate emulator over HTTP, read through the real azure-mgmt and databricks-sdk."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from core.baseline import Baseline, load_baseline
from core.collect import CollectConfig
from emulator.server import EmulatorServer
from samples.factory import sample_estate

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def example_baseline() -> Baseline:
    return load_baseline(ROOT / "baseline.example.yaml")


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    """A fresh emulator on the bundled sample estate (tests may inject drift and faults)."""
    with EmulatorServer(sample_estate(), page_size=3) as server:
        yield server


def fast_config(server: EmulatorServer, **kw: object) -> CollectConfig:
    """Emulator config with short timeouts so fault tests stay quick."""
    base = CollectConfig.for_emulator(server.url)
    return replace(base, **{"read_timeout_s": 2.0, "connect_timeout_s": 2.0, "workspace_timeout_s": 4, **kw})  # type: ignore[arg-type]
