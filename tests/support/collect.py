"""Collector-test helpers: an emulator CollectConfig with short timeouts."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from core.collect import CollectConfig
from emulator.server import EmulatorServer

ROOT = Path(__file__).resolve().parents[2]


def fast_config(server: EmulatorServer, **kw: object) -> CollectConfig:
    """Emulator config with short timeouts so fault tests stay quick."""
    base = CollectConfig.for_emulator(server.url)
    return replace(base, **{"read_timeout_s": 2.0, "connect_timeout_s": 2.0, "workspace_timeout_s": 4, **kw})  # type: ignore[arg-type]
