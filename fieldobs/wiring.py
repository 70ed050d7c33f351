"""Connect the domain's event handlers and pull feeds, once per process."""

from __future__ import annotations


def connect() -> None:
    """Subscribe rollups, webhooks and other reactions to domain events."""
    # Each feature registers here, so the order of reactions inside a commit is explicit.
