"""Operations tests may connect to 127.0.0.1 only: any other connection fails the test."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

LOOPBACK = ("127.0.0.1", "::1")


@pytest.fixture(autouse=True)
def connections(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Record every outgoing connection; refuse, before it is made, one off the loopback."""
    connect = socket.create_connection
    made: list[Any] = []
    refused: list[Any] = []

    def guarded(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        if address[0] not in LOOPBACK:
            refused.append(address)
            raise AssertionError(f"a test tried to connect to {address}")
        made.append(address)
        return connect(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", guarded)
    yield made
    assert not refused, f"connections attempted outside 127.0.0.1: {refused}"
