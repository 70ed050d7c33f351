"""Computed page data kept until the next change to what it depends on (as the API's bodies).

Keys end with fieldobs.scores.data_version (bumped by every change to the rollups,
locations and areas), so nothing stale is ever shown; callers check the caller's scope first
and put the scope in the key. The caches are the app's own (its AppState), never another's.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from flask import Flask

from fieldobs.extensions import state_of

T = TypeVar("T")


class ViewCache:
    """A small thread-safe LRU of computed page data."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        """Return the value kept for key, computing and keeping it when absent."""
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                found: T = self._entries[key]
                return found
        value = compute()
        with self._lock:
            self._entries[key] = value
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        """Forget everything (benchmarks measure the computed path with this)."""
        with self._lock:
            self._entries.clear()


class PageCaches:
    """One app's cached page data."""

    def __init__(self) -> None:
        self.areas = ViewCache(128)


def page_caches(app: Flask) -> PageCaches:
    """Return the page caches of an app."""
    return state_of(app).get(PageCaches)
