"""Fixtures for pure unit tests (every folder under tests/unit); the builders they use are in
tests/support/estates.py. Unit tests open no socket: `no_network` fails a test that connects or binds
an internet socket (such a test belongs in tests/contract or tests/app)."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import pytest

from core.baseline import Baseline
from tests.support.estates import baseline


@pytest.fixture
def strict() -> Baseline:
    return baseline()


def _refusing(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
    def guarded(sock: socket.socket, *args: Any, **kwargs: Any) -> Any:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            raise RuntimeError(f"tests/unit opens no socket: socket.{name}{args!r} "
                               "(a test that needs the network belongs in tests/contract or tests/app)")
        return real(sock, *args, **kwargs)

    return guarded


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Connecting or binding an IPv4/IPv6 socket fails the test (Unix sockets and pipes stay allowed)."""
    for name in ("connect", "connect_ex", "bind"):
        monkeypatch.setattr(socket.socket, name, _refusing(name, getattr(socket.socket, name)))
