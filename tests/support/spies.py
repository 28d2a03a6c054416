"""Count calls of one of driftwatch's own methods (not an SDK's) while it still does its work."""

from __future__ import annotations

import functools
from typing import Any

import pytest


def record_calls(monkeypatch: pytest.MonkeyPatch, owner: type, name: str) -> list[Any]:
    """Wrap `owner.name` for the test; the returned list gets each call's first argument after `self`."""
    calls: list[Any] = []
    method = getattr(owner, name)

    @functools.wraps(method)
    def recorded(self: Any, first: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(first)
        return method(self, first, *args, **kwargs)

    monkeypatch.setattr(owner, name, recorded)
    return calls
