"""Webhook events: one delivery queued per subscription, inside the event's transaction.

The payload holds internal ids; each delivery is rendered for its webhook's audience at the
first attempt (`webhook_bodies`), and a `client` webhook is queued only what a store manager
could see.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

from fieldobs import events
from fieldobs.operations.assignments import ASSIGNMENT_EXPIRED
from fieldobs.operations.webhook_bodies import AGENCY, client_hears, first_attempt_at
from fieldobs.storage.connection import Database, rows
from fieldobs.timeutil import to_rfc3339, utcnow

EVENTS = (events.VISIT_SUBMITTED, events.VISIT_RELEASED, events.VISIT_RETURNED, ASSIGNMENT_EXPIRED)


def queue(db: Database, event: str, payload: dict[str, Any] | Callable[[], dict[str, Any]]) -> int:
    """Queue one delivery of an event per subscription to it; call inside the transaction.

    The payload may be given as a function, called only when someone subscribes to the event.
    """
    hooks = [
        h
        for h in rows(
            db.execute("SELECT id, events, audience FROM webhooks WHERE deleted_at IS NULL")
        )
        if event in json.loads(h["events"])
    ]
    if not hooks:
        return 0
    data = payload() if callable(payload) else payload
    hooks = [h for h in hooks if h["audience"] == AGENCY or client_hears(event, data)]
    now = utcnow()
    stamp = to_rfc3339(now)
    event_id = str(uuid.uuid4())
    text = json.dumps(data, sort_keys=True)
    db.conn.executemany(
        "INSERT INTO webhook_deliveries (webhook_id, event_id, event, occurred_at, payload,"
        " next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (
                hook["id"],
                event_id,
                event,
                stamp,
                text,
                to_rfc3339(first_attempt_at(hook["audience"], data, now)),
                stamp,
            )
            for hook in hooks
        ],
    )
    return len(hooks)


def _visit_payload(visit: dict[str, Any]) -> dict[str, Any]:
    # Only what a store-side integration may know; the observer is rendered as a pseudonym.
    return {
        "visit": {
            "id": visit["id"],
            "revision": visit["revision"],
            "kind": visit["kind"],
            "status": visit["status"],
            "location_id": visit["location_id"],
            "checklist": {"slug": visit["checklist_slug"], "version": visit["checklist_version"]},
            "score": None if visit["score"] is None else round(visit["score"], 1),
            "sections": [
                {"id": s["id"], "score": None if s["score"] is None else round(s["score"], 1)}
                for s in json.loads(visit["section_scores"])
            ],
            "observed_at": visit["observed_at"],
            "observer_id": visit["observer_id"],
        }
    }


def on_visit_submitted(db: Database, payload: dict[str, Any]) -> None:
    """Queue visit.submitted deliveries (an events handler)."""
    queue(db, events.VISIT_SUBMITTED, partial(_visit_payload, payload["visit"]))


def on_visit_released(db: Database, payload: dict[str, Any]) -> None:
    """Queue visit.released deliveries (an events handler)."""
    queue(db, events.VISIT_RELEASED, partial(_visit_payload, payload["visit"]))


def on_visit_returned(db: Database, payload: dict[str, Any]) -> None:
    """Queue visit.returned deliveries; the reviewer's note stays out (it may name people)."""
    queue(db, events.VISIT_RETURNED, partial(_visit_payload, payload["visit"]))


def on_assignment_expired(db: Database, payload: dict[str, Any]) -> None:
    """Queue assignment.expired deliveries (an events handler)."""
    a = payload["assignment"]
    queue(
        db,
        ASSIGNMENT_EXPIRED,
        {
            "assignment": {
                "id": a["id"],
                "location_id": a["location_id"],
                "checklist": a["checklist_slug"],
                "window_start": a["window_start"],
                "window_end": a["window_end"],
                "status": a["status"],
                "expired_at": a["expired_at"],
                "shopper_id": a["shopper_id"],
            }
        },
    )
