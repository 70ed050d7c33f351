"""Connect the domain's event handlers and pull feeds, once per process."""

from __future__ import annotations

from . import events, rollups


def connect() -> None:
    """Subscribe rollups, webhooks and other reactions to domain events."""
    # Each feature registers here, so the order of reactions inside a commit is explicit.
    events.subscribe(events.VISIT_CHANGED, rollups.on_visit_changed)
