"""In-transaction domain events: rollups and webhooks react inside the same commit."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from fieldobs.storage.connection import Database

Handler = Callable[[Database, dict[str, Any]], None]

_handlers: dict[str, list[Handler]] = defaultdict(list)


def subscribe(event: str, handler: Handler) -> None:
    """Call `handler(db, payload)` whenever `event` is emitted (idempotent per handler)."""
    if handler not in _handlers[event]:
        _handlers[event].append(handler)


def emit(db: Database, event: str, payload: dict[str, Any]) -> None:
    """Run every handler of an event inside the caller's transaction."""
    for handler in _handlers.get(event, ()):
        handler(db, payload)


VISIT_CHANGED = "visit.changed"  # payload: {"before": row | None, "after": row}
VISIT_SUBMITTED = "visit.submitted"  # payload: {"visit": row}
VISIT_RELEASED = "visit.released"
VISIT_RETURNED = "visit.returned"
# payload: {"location_id": id}; periods are local, so what was filed where may move.
LOCATION_TIMEZONE_CHANGED = "location.timezone_changed"
