"""Operations tests may connect to 127.0.0.1 only: any other connection fails the test."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

LOOPBACK = ("127.0.0.1", "::1", "localhost")


@pytest.fixture(autouse=True)
def connections_to_loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Refuse, before any packet leaves, a connection to anything but the loopback address."""
    connect = socket.create_connection
    refused: list[Any] = []

    def guarded(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        if address[0] not in LOOPBACK:
            refused.append(address)
            raise AssertionError(f"a test tried to connect to {address}")
        return connect(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", guarded)
    yield refused
    assert not refused, f"connections attempted outside 127.0.0.1: {refused}"
