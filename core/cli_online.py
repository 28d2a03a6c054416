"""CLI commands that talk to Azure / the emulator / the findings store (`scan`, `findings`)."""

from __future__ import annotations

from typing import Any


def register(sub: Any, output_flags: Any) -> None:
    """Nothing yet: `scan` and `findings` arrive with the collectors and the store."""
