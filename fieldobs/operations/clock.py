"""The clock scheduled jobs read and wait on: the system's, or one a test moves by hand."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Protocol

from fieldobs.timeutil import utcnow


class Clock(Protocol):
    """What a job runner needs of time."""

    def now(self) -> datetime:
        """Return the current time, aware, in UTC."""
        ...

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        """Wait `seconds` or until `stop` is set; return whether it was set."""
        ...


class SystemClock:
    """Wall-clock time."""

    def now(self) -> datetime:
        """Return the current time, aware, in UTC."""
        return utcnow()

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        """Wait `seconds` or until `stop` is set; return whether it was set."""
        return stop.wait(seconds)


SYSTEM_CLOCK = SystemClock()
