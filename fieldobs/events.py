"""In-transaction domain events: rollups and webhooks react inside the same commit."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from fieldobs.storage.app_state import AppState
from fieldobs.storage.connection import Database

Handler = Callable[[Database, dict[str, Any]], None]


class Subscribers:
    """One app's handlers per event, in the order fieldobs/wiring.py subscribed them."""

    def __init__(self) -> None:
        self.by_event: defaultdict[str, list[Handler]] = defaultdict(list)


def subscribe(state: AppState, event: str, handler: Handler) -> None:
    """Call `handler(db, payload)` whenever the app emits `event` (idempotent per handler)."""
    handlers = state.get(Subscribers).by_event[event]
    if handler not in handlers:
        handlers.append(handler)


def emit(db: Database, event: str, payload: dict[str, Any]) -> None:
    """Run every handler the connection's app has for an event, inside the caller's transaction."""
    for handler in db.app_state.get(Subscribers).by_event.get(event, ()):
        handler(db, payload)


VISIT_CHANGED = "visit.changed"  # payload: {"before": row | None, "after": row}
VISIT_SUBMITTED = "visit.submitted"  # payload: {"visit": row}
VISIT_RELEASED = "visit.released"
VISIT_RETURNED = "visit.returned"
# payload: {"location_id": id}; periods are local, so what was filed where may move.
LOCATION_TIMEZONE_CHANGED = "location.timezone_changed"
