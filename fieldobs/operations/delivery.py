"""Webhook delivery (the scheduled job): due deliveries POSTed fairly across endpoints.

Each run takes the due deliveries endpoint by endpoint in turn (round-robin, oldest first), so
an endpoint with a long backlog or a dead one never takes the turns of the others. Once an
endpoint fails in a run, its other deliveries wait for the next run: a dead endpoint costs one
attempt per run. An endpoint failing without a success for WEBHOOK_PAUSE_AFTER_SECONDS is
paused: its deliveries are kept (none fails for want of attempts), one of them is tried every
WEBHOOK_PROBE_SECONDS, and a success, or an admin's resume, lets them all flow again.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fieldobs.operations.webhook_bodies import headers, render
from fieldobs.operations.webhook_http import Outcome, post
from fieldobs.operations.webhook_targets import (
    TargetPolicy,
    TargetRefused,
    TargetUnresolved,
    resolve_target,
)
from fieldobs.operations.webhooks import resume
from fieldobs.storage.connection import Database, rows, transaction
from fieldobs.timeutil import now_rfc3339, parse_rfc3339, to_rfc3339, utcnow

MAX_ERROR_CHARS = 500


@dataclass(frozen=True)
class DeliverySettings:
    """How deliveries are attempted, and where they may go."""

    secret_key: str  # keys the pseudonyms in bodies
    timeout: float = 5
    max_attempts: int = 10
    backoff: float = 30
    backoff_max: float = 6 * 3600
    batch: int = 100  # attempts per run, shared fairly by the endpoints
    budget_seconds: float = 120  # a run stops starting new attempts after this long
    pause_after: float = 3600  # seconds of failing without a success before a pause
    probe_every: float = 900  # seconds between the tries of a paused endpoint
    targets: TargetPolicy = field(default_factory=TargetPolicy)


def backoff_delay(attempts: int, settings: DeliverySettings) -> timedelta:
    """Return how long to wait after the n-th failed attempt."""
    seconds = min(settings.backoff_max, settings.backoff * 2 ** max(attempts - 1, 0))
    return timedelta(seconds=seconds)


DUE = (
    "SELECT * FROM (SELECT d.*, w.url, w.secret, w.audience, w.paused_at,"
    " row_number() OVER (PARTITION BY d.webhook_id ORDER BY d.id) AS turn"
    " FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id"
    " WHERE d.status = 'pending' AND w.deleted_at IS NULL AND ("
    # Active endpoints: what is due. Paused ones at their probe time: the oldest kept one
    # (one held back until the end of its hour, never sent yet, still waits for it).
    "  (w.paused_at IS NULL AND d.next_attempt_at <= :now)"
    "  OR (w.paused_at IS NOT NULL AND w.probe_at <= :now"
    "      AND (d.attempts > 0 OR d.next_attempt_at <= :now))))"
    " WHERE turn <= CASE WHEN paused_at IS NULL THEN :batch ELSE 1 END"
    " ORDER BY webhook_id, turn"
)


def deliver_due(db: Database, now: datetime, settings: DeliverySettings) -> dict[str, int]:
    """Attempt the deliveries due at `now`, endpoints taking turns; return counts by outcome."""
    started = time.monotonic()
    queues: dict[int, deque[dict[str, Any]]] = {}
    for delivery in rows(db.execute(DUE, {"now": to_rfc3339(now), "batch": settings.batch})):
        queues.setdefault(delivery["webhook_id"], deque()).append(delivery)
    counts = {"delivered": 0, "retry": 0, "failed": 0, "cancelled": 0, "deferred": 0}
    attempts = 0
    while queues:
        for webhook_id in list(queues):
            waiting = queues[webhook_id]
            if attempts >= settings.batch or time.monotonic() - started > settings.budget_seconds:
                counts["deferred"] += sum(len(q) for q in queues.values())
                return counts
            outcome = _attempt(db, waiting.popleft(), now, settings)
            attempts += 1
            counts[outcome] += 1
            if outcome in ("retry", "failed"):
                counts["deferred"] += len(waiting)
                waiting.clear()
            if not waiting:
                del queues[webhook_id]
    return counts


def _frozen_body(db: Database, delivery: dict[str, Any], settings: DeliverySettings) -> str | None:
    """Return the delivery's body, rendered and stored before its first send (None: cancelled)."""
    if delivery["body"] is not None:
        return str(delivery["body"])
    body = render(delivery, settings.secret_key, delivery["audience"])
    with transaction(db):
        if body is None:  # queued before its webhook's audience forbade it
            db.execute(
                "UPDATE webhook_deliveries SET status = 'cancelled',"
                " last_error = 'not for this webhook''s audience' WHERE id = ?",
                [delivery["id"]],
            )
            return None
        # Frozen: every retry carries the same bytes and signature.
        db.execute(
            "UPDATE webhook_deliveries SET body = ? WHERE id = ? AND body IS NULL",
            [body, delivery["id"]],
        )
        return str(
            db.execute(
                "SELECT body FROM webhook_deliveries WHERE id = ?", [delivery["id"]]
            ).fetchone()[0]
        )


def _send(delivery: dict[str, Any], body: str, settings: DeliverySettings) -> Outcome:
    """Check the URL's address again, then POST to exactly that address."""
    try:
        target = resolve_target(delivery["url"], settings.targets)
    except TargetRefused as refused:
        # Nothing was sent: the log says why without a trace of what listens there.
        return Outcome(None, f"refused: {refused}", 0)
    except TargetUnresolved as unresolved:
        return Outcome(None, str(unresolved), 0)
    attempt = delivery["attempts"] + 1
    sent = headers(delivery, body, delivery["secret"], attempt, delivery["audience"])
    return post(target, body.encode(), sent, settings.timeout)


def _attempt(
    db: Database, delivery: dict[str, Any], now: datetime, settings: DeliverySettings
) -> str:
    body = _frozen_body(db, delivery, settings)
    if body is None:
        return "cancelled"
    attempt = delivery["attempts"] + 1
    attempted_at = now_rfc3339()
    result = _send(delivery, body, settings)
    with transaction(db):
        paused = _record_health(db, delivery["webhook_id"], result.error is None, now, settings)
        if result.error is None:
            outcome = "delivered"
        elif attempt >= settings.max_attempts and not paused:
            outcome = "failed"
        else:
            outcome = "retry"  # a paused endpoint's deliveries are kept, however often tried
        db.execute(
            "INSERT INTO webhook_attempts (delivery_id, attempt, started_at, duration_ms,"
            " status_code, error, outcome) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                delivery["id"],
                attempt,
                attempted_at,
                result.duration_ms,
                result.status_code,
                (result.error or "")[:MAX_ERROR_CHARS] or None,
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


def _record_health(
    db: Database, webhook_id: int, succeeded: bool, now: datetime, settings: DeliverySettings
) -> bool:
    """Note an endpoint's success (resumed) or failure (paused once failing for long); return
    whether it is paused now."""
    if succeeded:
        if db.execute(
            "SELECT 1 FROM webhooks WHERE id = ? AND failing_since IS NOT NULL", [webhook_id]
        ).fetchone():
            resume(db, webhook_id, now)
        return False
    stamp = to_rfc3339(now)
    db.execute(
        "UPDATE webhooks SET failing_since = coalesce(failing_since, ?) WHERE id = ?",
        [stamp, webhook_id],
    )
    since = parse_rfc3339(
        db.execute("SELECT failing_since FROM webhooks WHERE id = ?", [webhook_id]).fetchone()[0]
    )
    if now - since >= timedelta(seconds=settings.pause_after):
        db.execute(
            "UPDATE webhooks SET paused_at = coalesce(paused_at, ?), probe_at = ? WHERE id = ?",
            [stamp, to_rfc3339(now + timedelta(seconds=settings.probe_every)), webhook_id],
        )
        return True
    return False
