"""Webhook subscriptions: which URL hears which events, and the log of what was sent.

A delivery row is written inside the transaction that made the event (`webhook_events`), so an
event is never lost, nor announced for a change that rolled back. No HTTP happens on the request
path: the `deliver_webhooks` job (`delivery`) posts due deliveries, retrying with exponential
backoff, and logs every attempt.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from fieldobs.errors import Invalid, NotFound
from fieldobs.operations.webhook_bodies import AUDIENCES, CLIENT, CLIENT_EVENTS
from fieldobs.operations.webhook_events import EVENTS
from fieldobs.operations.webhook_targets import TargetPolicy, check_url
from fieldobs.storage.connection import Database, one, rows, transaction
from fieldobs.storage.paging import Keyset
from fieldobs.timeutil import now_rfc3339, to_rfc3339


def check_webhook(
    data: dict[str, Any], policy: TargetPolicy, known: Mapping[str, list[str]] | None = None
) -> dict[str, list[str]]:
    """Return the problems of a subscription by field, with those found already (`known`)."""
    problems: dict[str, list[str]] = {name: list(listed) for name, listed in (known or {}).items()}
    # `events.0` is a problem of `events`: that field is not checked again.
    checked = {name.split(".", 1)[0] for name in problems}
    url = data.get("url")
    if "url" not in checked:
        if not isinstance(url, str):
            problems["url"] = ["must be an absolute http:// or https:// URL"]
        elif found := check_url(url, policy):
            problems["url"] = found
    audience = data.get("audience") or CLIENT
    if "audience" not in checked and audience not in AUDIENCES:
        problems["audience"] = [f"choose from {', '.join(AUDIENCES)}"]
    subscribed = data.get("events")
    if "events" not in checked:
        if not isinstance(subscribed, list) or not subscribed:
            problems["events"] = [f"choose from {', '.join(EVENTS)}"]
        elif unknown := [e for e in subscribed if e not in EVENTS]:
            problems["events"] = [f"unknown {unknown}; choose from {', '.join(EVENTS)}"]
        elif audience == CLIENT and (hidden := [e for e in subscribed if e not in CLIENT_EVENTS]):
            problems["events"] = [
                f"a client webhook hears only {', '.join(CLIENT_EVENTS)} (not {', '.join(hidden)}):"
                " store staff never see them; register an agency webhook for those"
            ]
    return problems


def create_webhook(
    db: Database,
    data: dict[str, Any],
    *,
    policy: TargetPolicy,
    created_by: int | None = None,
    problems: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """Subscribe a URL to events; the answer carries the signing secret, shown only now."""
    if found := check_webhook(data, policy, problems):
        raise Invalid("The webhook is invalid.", fields=found)
    secret = "whsec_" + secrets.token_urlsafe(32)
    with transaction(db):
        webhook_id = db.execute(
            "INSERT INTO webhooks (url, events, audience, secret, description, created_by,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                data["url"],
                json.dumps(sorted(set(data["events"]))),
                data.get("audience") or CLIENT,
                secret,
                data.get("description"),
                created_by,
                now_rfc3339(),
            ],
        ).lastrowid
    return {**get_webhook(db, int(webhook_id or 0)), "secret": secret}


def resume_webhook(db: Database, webhook_id: int, now: datetime) -> dict[str, Any]:
    """Resume a paused endpoint: every kept delivery is due at once."""
    with transaction(db):
        get_webhook(db, webhook_id)
        resume(db, webhook_id, now)
    return get_webhook(db, webhook_id)


def resume(db: Database, webhook_id: int, now: datetime) -> None:
    """Clear an endpoint's failing state and make its retries due (in a transaction).

    A delivery never sent keeps its first time: it may be held until the end of its hour.
    """
    db.execute(
        "UPDATE webhooks SET failing_since = NULL, paused_at = NULL, probe_at = NULL WHERE id = ?",
        [webhook_id],
    )
    db.execute(
        "UPDATE webhook_deliveries SET next_attempt_at = min(next_attempt_at, ?)"
        " WHERE webhook_id = ? AND status = 'pending' AND attempts > 0",
        [to_rfc3339(now), webhook_id],
    )


def _present(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "url": row["url"],
        "events": json.loads(row["events"]),
        "audience": row["audience"],
        "description": row["description"],
        "created_at": row["created_at"],
        "pending": row.get("pending", 0),
        "failed": row.get("failed", 0),
        "failing_since": row["failing_since"],
        "paused_at": row["paused_at"],
    }


HOOK_SELECT = (
    "SELECT w.*, (SELECT count(*) FROM webhook_deliveries d WHERE d.webhook_id = w.id"
    " AND d.status = 'pending') AS pending, (SELECT count(*) FROM webhook_deliveries d"
    " WHERE d.webhook_id = w.id AND d.status = 'failed') AS failed FROM webhooks w"
)


def get_webhook(db: Database, webhook_id: int) -> dict[str, Any]:
    """Return one active subscription (never its secret), or 404."""
    row = one(db.execute(f"{HOOK_SELECT} WHERE w.id = ? AND w.deleted_at IS NULL", [webhook_id]))
    if row is None:
        raise NotFound("No such webhook.")
    return _present(row)


def list_webhooks(db: Database) -> list[dict[str, Any]]:
    """Return the active subscriptions."""
    return [
        _present(r)
        for r in rows(db.execute(f"{HOOK_SELECT} WHERE w.deleted_at IS NULL ORDER BY w.id"))
    ]


def delete_webhook(db: Database, webhook_id: int) -> None:
    """Unsubscribe: nothing more is queued or sent to it; its log stays."""
    with transaction(db):
        get_webhook(db, webhook_id)
        db.execute("UPDATE webhooks SET deleted_at = ? WHERE id = ?", [now_rfc3339(), webhook_id])
        db.execute(
            "UPDATE webhook_deliveries SET status = 'cancelled', last_error = 'unsubscribed'"
            " WHERE webhook_id = ? AND status = 'pending'",
            [webhook_id],
        )


DELIVERY_PAGES = Keyset("webhook_deliveries", ("id",), descending=True)


def list_deliveries(
    db: Database,
    webhook_id: int,
    *,
    status: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """Return a page of a subscription's deliveries, newest first, each with its attempts."""
    get_webhook(db, webhook_id)
    conditions: list[str] = ["webhook_id = ?"]
    values: list[Any] = [webhook_id]
    if status is not None:
        conditions.append("status = ?")
        values.append(status)
    page, next_cursor, has_more = DELIVERY_PAGES.fetch(
        db, "SELECT * FROM webhook_deliveries", conditions, values, limit=limit, cursor=cursor
    )
    attempts: dict[int, list[dict[str, Any]]] = {d["id"]: [] for d in page}
    if page:
        for attempt in rows(
            db.execute(
                "SELECT * FROM webhook_attempts WHERE delivery_id IN"
                " (SELECT value FROM json_each(?)) ORDER BY delivery_id, attempt",
                [json.dumps(list(attempts))],
            )
        ):
            attempts[attempt["delivery_id"]].append(
                {
                    "attempt": attempt["attempt"],
                    "started_at": attempt["started_at"],
                    "duration_ms": attempt["duration_ms"],
                    "status_code": attempt["status_code"],
                    "error": attempt["error"],
                    "outcome": attempt["outcome"],
                }
            )
    deliveries = [
        {
            "id": d["id"],
            "event": d["event"],
            "event_id": d["event_id"],
            "occurred_at": d["occurred_at"],
            "status": d["status"],
            "attempts": d["attempts"],
            "next_attempt_at": d["next_attempt_at"] if d["status"] == "pending" else None,
            "delivered_at": d["delivered_at"],
            "last_error": d["last_error"],
            "body": d["body"],
            "log": attempts[d["id"]],
        }
        for d in page
    ]
    return {
        "deliveries": deliveries,
        "cursor": next_cursor,
        "has_more": has_more,
    }
