"""Cached score answers: what they depend on, and the per-app caches that keep them encoded."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from fieldobs.storage.connection import Database


def data_version(db: Database) -> tuple[Any, ...]:
    """Return what every ranking depends on: changes to it change this (one cheap read).

    The database's identity, the rollups' version (bumped with every counted change), the
    change feed's sequence (locations created, edited, moved or retired) and the area count.
    """
    return tuple(
        db.execute(
            "SELECT (SELECT value FROM server_meta WHERE key = 'database_id'),"
            " (SELECT version FROM score_state), (SELECT max(seq) FROM changes),"
            " (SELECT count(*) FROM areas)"
        ).fetchone()
    )


class BodyCache:
    """Keep the latest encoded bodies of reads, keyed by everything they depend on, with ETags.

    Keys end with the data version (see data_version), so a stale body is never served. A body
    is the same for every caller allowed to see it: callers check the scope first, then ask.
    Each body carries a strong ETag, a hash of its bytes.
    """

    def __init__(self, size: int, max_bytes: int = 16 * 1024 * 1024) -> None:
        self.size, self.max_bytes = size, max_bytes
        self._bodies: OrderedDict[Hashable, tuple[bytes, str]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable, encode: Callable[[], bytes]) -> tuple[bytes, str]:
        """Return the body and ETag kept for key, encoding and keeping them when absent."""
        with self._lock:
            found = self._bodies.get(key)
            if found is not None:
                self._bodies.move_to_end(key)
        if found is None:
            body = encode()
            found = (body, hashlib.blake2b(body, digest_size=16).hexdigest())
            self._keep(key, found)
        return found

    def clear(self) -> None:
        """Forget every body (benchmarks measure the computed answers)."""
        with self._lock:
            self._bodies.clear()
            self._bytes = 0

    def _keep(self, key: Hashable, entry: tuple[bytes, str]) -> None:
        with self._lock:
            old = self._bodies.pop(key, None)
            self._bytes += len(entry[0]) - (len(old[0]) if old else 0)
            self._bodies[key] = entry
            # Oldest out first, down to the limits; the newest body stays even if it is larger.
            while len(self._bodies) > 1 and (
                len(self._bodies) > self.size or self._bytes > self.max_bytes
            ):
                _, (dropped, _) = self._bodies.popitem(last=False)
                self._bytes -= len(dropped)


class ScoreCaches:
    """One app's cached series and rankings (never another app's, whatever its database)."""

    def __init__(self) -> None:
        # Rankings cost tens of milliseconds; a series about one (the round trip costs as much).
        self.rankings = BodyCache(size=32, max_bytes=32 * 1024 * 1024)
        self.series = BodyCache(size=2048)

    def clear(self) -> None:
        """Forget every cached answer."""
        self.rankings.clear()
        self.series.clear()


def score_caches(db: Database) -> ScoreCaches:
    """Return the score caches of the app this connection belongs to."""
    return db.app_state.get(ScoreCaches)
