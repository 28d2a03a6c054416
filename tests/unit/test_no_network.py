"""tests/unit opens no socket (issue 11 §9): the `no_network` guard of tests/unit/conftest.py is on."""

from __future__ import annotations

import socket

import pytest


def test_an_internet_socket_is_refused_but_a_unix_pair_is_not() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        with pytest.raises(RuntimeError, match="tests/unit opens no socket"):
            sock.connect(("127.0.0.1", 9))
        with pytest.raises(RuntimeError, match="tests/unit opens no socket"):
            sock.bind(("127.0.0.1", 0))
    left, right = socket.socketpair()  # pipes and Unix sockets (the card validator, asyncio) stay allowed
    with left, right:
        left.sendall(b"x")
        assert right.recv(1) == b"x"
