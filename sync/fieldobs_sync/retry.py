"""Exponential backoff with full jitter, and the rules for what is worth retrying."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime


def is_retryable_status(status: int) -> bool:
    """Tell whether an HTTP status means "the same request may succeed later"."""
    return status in (408, 429) or 500 <= status <= 599


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Return the seconds a `Retry-After` header asks for, or None when absent or garbage."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        # RFC 9110 dates are GMT; a naive result can only mean that.
        return None
    return max(0.0, when.timestamp() - now)


@dataclass(frozen=True)
class RetryPolicy:
    """Limits of retrying: attempts per call and the backoff envelope."""

    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    # A server asking for a longer pause than this is better served by trying again on the
    # next sync than by a phone blocking in the foreground.
    max_retry_after: float = 120.0

    def ceiling(self, attempt: int) -> float:
        """Return the upper bound of the delay before retry number `attempt` (0-based)."""
        # Cap the exponent so huge attempt counts don't overflow floats.
        return min(self.max_delay, self.base_delay * (2.0 ** min(attempt, 60)))


@dataclass
class Backoff:
    """Compute and wait out retry delays; sleep, clock and randomness are injectable."""

    policy: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int, retry_after: str | None = None) -> float | None:
        """Return the pause before retry `attempt`, or None when Retry-After is too far off."""
        # Full jitter (uniform between 0 and the exponential ceiling) spreads a fleet of phones
        # that lost the network together, so they don't come back in lockstep.
        jittered = self.rng.uniform(0.0, self.policy.ceiling(attempt))
        asked = parse_retry_after(retry_after, self.clock())
        if asked is None:
            return jittered
        if asked > self.policy.max_retry_after:
            return None
        # Honour the server: never earlier than it asked, still jittered above that.
        return max(asked, jittered)

    def wait(self, seconds: float) -> None:
        """Sleep for `seconds` through the injected sleep."""
        if seconds > 0:
            self.sleep(seconds)

    def next_attempt_at(self, failures: int) -> float:
        """Return when an entry that failed `failures` times in a row deserves another try."""
        return self.clock() + self.rng.uniform(0.0, self.policy.ceiling(failures))
