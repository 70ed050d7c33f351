"""What one app keeps for its whole life (event handlers, feeds, caches), reached from its
connections, so the domains find their app's state without Flask and two apps never share it."""

from __future__ import annotations

import threading
from typing import TypeVar

Part = TypeVar("Part")


class AppState:
    """One instance of each registry or cache kind, made on first use, for one app only."""

    def __init__(self) -> None:
        self._parts: dict[type, object] = {}
        self._lock = threading.Lock()

    def get(self, kind: type[Part]) -> Part:
        """Return this app's `kind` (a class made without arguments), making it the first time."""
        part = self._parts.get(kind)
        if part is None:
            with self._lock:  # two threads asking first must still get one and the same
                part = self._parts.setdefault(kind, kind())
        assert isinstance(part, kind)
        return part
