"""Webhooks: signed event deliveries, queued with the event and sent by a scheduled job.

A delivery row is written inside the transaction that made the event (so an event is never
lost, nor announced for a change that rolled back). No HTTP happens on the request path: the
`deliver_webhooks` job posts due deliveries, retrying with exponential backoff, and logs
every attempt. Bodies never name a shopper: observers and shoppers appear as the same
pseudonym store-side staff see.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import secrets
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from fieldobs import events
from fieldobs.errors import Invalid, NotFound
from fieldobs.operations.assignments import ASSIGNMENT_EXPIRED
from fieldobs.people.anonymity import observer_pseudonym, round_to_hour
from fieldobs.storage.connection import Database, one, rows, transaction
from fieldobs.storage.paging import Keyset
from fieldobs.timeutil import now_rfc3339, parse_rfc3339, to_rfc3339, utcnow

EVENTS = (events.VISIT_SUBMITTED, events.VISIT_RELEASED, events.VISIT_RETURNED, ASSIGNMENT_EXPIRED)
SIGNATURE_HEADER = "X-Fieldobs-Signature"
USER_AGENT = "fieldobs-webhooks/1"
MAX_ERROR_CHARS = 500


@dataclass(frozen=True)
class DeliverySettings:
    """How deliveries are attempted."""

    secret_key: str  # keys the pseudonyms in bodies
    timeout: float = 5
    max_attempts: int = 10
    backoff: float = 30
    backoff_max: float = 6 * 3600
    batch: int = 100
    budget_seconds: float = 120  # a run stops starting new attempts after this long


# Subscriptions ---------------------------------------------------------------------------


def _check(url: str, subscribed: list[str]) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {}
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 2000:
        problems["url"] = ["must be an absolute http:// or https:// URL"]
    unknown = [e for e in subscribed if e not in EVENTS]
    if unknown or not subscribed:
        problems["events"] = [f"choose from {', '.join(EVENTS)}"]
    return problems


def create_webhook(
    db: Database,
    *,
    url: str,
    subscribed: list[str],
    description: str | None = None,
    created_by: int | None = None,
) -> dict[str, Any]:
    """Subscribe a URL to events; the answer carries the signing secret, shown only now."""
    if problems := _check(url, subscribed):
        raise Invalid("The webhook is invalid.", fields=problems)
    secret = "whsec_" + secrets.token_urlsafe(32)
    with transaction(db):
        webhook_id = db.execute(
            "INSERT INTO webhooks (url, events, secret, description, created_by, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [
                url,
                json.dumps(sorted(set(subscribed))),
                secret,
                description,
                created_by,
                now_rfc3339(),
            ],
        ).lastrowid
    return {**get_webhook(db, int(webhook_id or 0)), "secret": secret}


def _present(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "url": row["url"],
        "events": json.loads(row["events"]),
        "description": row["description"],
        "created_at": row["created_at"],
        "pending": row.get("pending", 0),
        "failed": row.get("failed", 0),
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
    after, after_values = DELIVERY_PAGES.after(db, cursor)
    found = rows(
        db.execute(
            f"SELECT * FROM webhook_deliveries WHERE {' AND '.join(conditions)} AND {after}"
            f" ORDER BY {DELIVERY_PAGES.order_by} LIMIT ?",
            [*values, *after_values, limit + 1],
        )
    )
    page, next_cursor, has_more = DELIVERY_PAGES.page(db, found, limit, cursor)
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


# Queueing (inside the event's transaction) -----------------------------------------------


def queue(db: Database, event: str, payload: dict[str, Any] | Callable[[], dict[str, Any]]) -> int:
    """Queue one delivery of an event per subscription to it; call inside the transaction.

    The payload may be given as a function, called only when someone subscribes to the event.
    """
    hooks = [
        h["id"]
        for h in rows(db.execute("SELECT id, events FROM webhooks WHERE deleted_at IS NULL"))
        if event in json.loads(h["events"])
    ]
    if not hooks:
        return 0
    now = now_rfc3339()
    event_id = str(uuid.uuid4())
    data = json.dumps(payload() if callable(payload) else payload, sort_keys=True)
    db.conn.executemany(
        "INSERT INTO webhook_deliveries (webhook_id, event_id, event, occurred_at, payload,"
        " next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(hook, event_id, event, now, data, now, now) for hook in hooks],
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


# Rendering and signing -------------------------------------------------------------------


def render(delivery: dict[str, Any], secret_key: str) -> str:
    """Return the exact JSON body of a delivery, with people as pseudonyms."""
    data = json.loads(delivery["payload"])
    if visit := data.get("visit"):
        visit["observer"] = {"pseudonym": observer_pseudonym(secret_key, visit.pop("observer_id"))}
        if visit["kind"] == "mystery_shop":
            # As store-side staff see it: to the hour, so the time does not point at a shopper.
            visit["observed_at"] = round_to_hour(visit["observed_at"])
    if assignment := data.get("assignment"):
        assignment["shopper"] = {
            "pseudonym": observer_pseudonym(secret_key, assignment.pop("shopper_id"))
        }
    body = {
        "id": delivery["event_id"],
        "event": delivery["event"],
        "occurred_at": delivery["occurred_at"],
        "data": data,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sign(secret: str, body: bytes) -> str:
    """Return the signature header value: sha256=<hex HMAC-SHA256 of the exact body>."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    """Tell whether a signature header matches a body (what a receiver does)."""
    return hmac.compare_digest(sign(secret, body), header)


# Delivering (the scheduled job) ----------------------------------------------------------


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A redirect is a failure: re-posting a signed body elsewhere is not ours to decide.
    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None


# No proxies from the environment and no redirects: the admin's URL is the one called.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects())


@dataclass
class _Outcome:
    status_code: int | None
    error: str | None
    duration_ms: int


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> _Outcome:
    started = time.monotonic()
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 -- scheme checked at subscription
    code: int | None = None
    error: str | None = None
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            code = int(response.status)
            response.read(4096)
    except urllib.error.HTTPError as failure:
        code, error = failure.code, f"HTTP {failure.code}"
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as failure:
        error = f"{type(failure).__name__}: {failure}"
    duration = int((time.monotonic() - started) * 1000)
    if code is not None and not 200 <= code < 300 and error is None:
        error = f"HTTP {code}"
    return _Outcome(code, (error or "")[:MAX_ERROR_CHARS] or None, duration)


def backoff_delay(attempts: int, settings: DeliverySettings) -> timedelta:
    """Return how long to wait after the n-th failed attempt."""
    seconds = min(settings.backoff_max, settings.backoff * 2 ** max(attempts - 1, 0))
    return timedelta(seconds=seconds)


def deliver_due(db: Database, now: datetime, settings: DeliverySettings) -> dict[str, int]:
    """Attempt every delivery due at `now`; return counts by outcome.

    Once an endpoint fails in a run, its other deliveries wait for the next run, so one dead
    endpoint costs one timeout per run, not one per delivery.
    """
    started = time.monotonic()
    due = rows(
        db.execute(
            "SELECT d.*, w.url, w.secret FROM webhook_deliveries d"
            " JOIN webhooks w ON w.id = d.webhook_id"
            " WHERE d.status = 'pending' AND d.next_attempt_at <= ? AND w.deleted_at IS NULL"
            " ORDER BY d.id LIMIT ?",
            [to_rfc3339(now), settings.batch],
        )
    )
    counts = {"delivered": 0, "retry": 0, "failed": 0, "deferred": 0}
    failing: set[int] = set()
    for delivery in due:
        if (
            delivery["webhook_id"] in failing
            or time.monotonic() - started > settings.budget_seconds
        ):
            counts["deferred"] += 1
            continue
        outcome = _attempt(db, delivery, now, settings)
        counts[outcome] += 1
        if outcome != "delivered":
            failing.add(delivery["webhook_id"])
    return counts


def _attempt(
    db: Database, delivery: dict[str, Any], now: datetime, settings: DeliverySettings
) -> str:
    body = delivery["body"]
    if body is None:
        body = render(delivery, settings.secret_key)
        # Frozen before the first send: every retry carries the same bytes and signature.
        with transaction(db):
            db.execute(
                "UPDATE webhook_deliveries SET body = ? WHERE id = ? AND body IS NULL",
                [body, delivery["id"]],
            )
            body = db.execute(
                "SELECT body FROM webhook_deliveries WHERE id = ?", [delivery["id"]]
            ).fetchone()[0]
    raw = body.encode()
    attempt = delivery["attempts"] + 1
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Fieldobs-Event": delivery["event"],
        "X-Fieldobs-Event-Id": delivery["event_id"],
        "X-Fieldobs-Timestamp": str(int(parse_rfc3339(delivery["occurred_at"]).timestamp())),
        "X-Fieldobs-Delivery": str(delivery["id"]),
        "X-Fieldobs-Attempt": str(attempt),
        SIGNATURE_HEADER: sign(delivery["secret"], raw),
    }
    attempted_at = now_rfc3339()
    result = _post(delivery["url"], raw, headers, settings.timeout)
    if result.error is None:
        outcome = "delivered"
    elif attempt >= settings.max_attempts:
        outcome = "failed"
    else:
        outcome = "retry"
    with transaction(db):
        db.execute(
            "INSERT INTO webhook_attempts (delivery_id, attempt, started_at, duration_ms,"
            " status_code, error, outcome) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                delivery["id"],
                attempt,
                attempted_at,
                result.duration_ms,
                result.status_code,
                result.error,
                outcome,
            ],
        )
        db.execute(
            "UPDATE webhook_deliveries SET attempts = ?, status = ?, next_attempt_at = ?,"
            " delivered_at = ?, last_error = ? WHERE id = ? AND status = 'pending'",
            [
                attempt,
                "pending" if outcome == "retry" else outcome,
                to_rfc3339(now + backoff_delay(attempt, settings)),
                to_rfc3339(utcnow()) if outcome == "delivered" else None,
                result.error,
                delivery["id"],
            ],
        )
    return outcome
