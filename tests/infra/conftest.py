"""Shared fixtures for the infra checks: the Bicep templates parsed once per session with pycep."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"


def bicep_files() -> list[Path]:
    return sorted(INFRA.rglob("*.bicep"))


@pytest.fixture(scope="session")
def templates() -> dict[str, dict[str, Any]]:
    """Every infra/**/*.bicep parsed to pycep's JSON, keyed by path relative to infra/ (posix)."""
    from pycep import BicepParser

    parser = BicepParser()
    return {path.relative_to(INFRA).as_posix(): parser.parse(file_path=path) for path in bicep_files()}
