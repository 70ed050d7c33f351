"""Failed sign-ins slow down further tries, per username and per client address.

Counts live in the database, so every worker process sees the same ones. Each failure past the
free ones doubles the wait before the next try (at most `max_delay`), and a key quiet for
`memory` seconds is forgotten: nobody is ever locked out for good.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from fieldobs.errors import FieldobsError
from fieldobs.storage.connection import Database, transaction


class TooManyAttempts(FieldobsError):
    status = 429
    code = "too_many_attempts"
    default_message = "Too many failed sign-ins; wait before trying again."


class HashingBusy(FieldobsError):
    status = 503
    code = "busy"
    default_message = "The server is checking other passwords; try again shortly."


@dataclass(frozen=True)
class LoginPolicy:
    """How failed sign-ins are throttled (settings LOGIN_*)."""

    free_failures_per_user: int = 5
    free_failures_per_address: int = 20
    base_delay: float = 1.0
    max_delay: float = 900.0
    memory: float = 86_400.0
    # Password checks (scrypt: ~30 MB and tens of ms each) running at once in one process.
    hash_concurrency: int = 1
    hash_wait: float = 10.0


def user_key(username: str) -> str:
    """Return the throttle key of a username."""
    return f"user:{username.lower()}"


def address_key(address: str) -> str:
    """Return the throttle key of a client address."""
    return f"addr:{address}"


def check_allowed(db: Database, keys: dict[str, int], now: float) -> None:
    """Raise 429 with Retry-After when any key is still waiting out its delay."""
    marks = ",".join("?" * len(keys))
    row = db.execute(
        f"SELECT max(blocked_until) FROM login_failures WHERE key IN ({marks})", list(keys)
    ).fetchone()
    blocked_until = row[0] if row else None
    if blocked_until is not None and blocked_until > now:
        wait = max(1, math.ceil(blocked_until - now))
        raise TooManyAttempts(
            f"Too many failed sign-ins; try again in {wait} s.",
            headers={"Retry-After": str(wait)},
        )


def delay_after(failures: int, free: int, policy: LoginPolicy) -> float:
    """Return how long to wait after the given number of consecutive failures."""
    if failures <= free:
        return 0.0
    return float(min(policy.max_delay, policy.base_delay * 2 ** min(failures - free - 1, 40)))


def record_failure(db: Database, keys: dict[str, int], now: float, policy: LoginPolicy) -> None:
    """Count one failed sign-in against every key (key -> its free failures)."""
    with transaction(db):
        db.execute("DELETE FROM login_failures WHERE last_failure_at < ?", [now - policy.memory])
        for key, free in keys.items():
            row = db.execute("SELECT failures FROM login_failures WHERE key = ?", [key]).fetchone()
            failures = (row[0] if row else 0) + 1
            db.execute(
                "INSERT INTO login_failures (key, failures, last_failure_at, blocked_until)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET"
                " failures = excluded.failures, last_failure_at = excluded.last_failure_at,"
                " blocked_until = excluded.blocked_until",
                [key, failures, now, now + delay_after(failures, free, policy)],
            )


def forget(db: Database, key: str) -> None:
    """Clear a key's failures (after a successful sign-in)."""
    if not db.execute("SELECT 1 FROM login_failures WHERE key = ?", [key]).fetchone():
        return  # the usual case: no write, no lock
    with transaction(db):
        db.execute("DELETE FROM login_failures WHERE key = ?", [key])


_slots_lock = threading.Lock()
_slots: dict[int, threading.BoundedSemaphore] = {}


@contextmanager
def hashing_slot(policy: LoginPolicy) -> Iterator[None]:
    """Bound the password checks running at once in this process, so other requests get CPU."""
    with _slots_lock:
        slots = _slots.setdefault(
            policy.hash_concurrency, threading.BoundedSemaphore(policy.hash_concurrency)
        )
    if not slots.acquire(timeout=policy.hash_wait):
        raise HashingBusy(headers={"Retry-After": "1"})
    try:
        yield
    finally:
        slots.release()


def unix_now() -> float:
    """Return the current time in Unix seconds (the throttle's clock)."""
    return time.time()
