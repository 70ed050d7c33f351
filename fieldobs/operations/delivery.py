"""Webhook delivery (the scheduled job): render, sign and POST due deliveries, with retries."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fieldobs.people.anonymity import observer_pseudonym, round_to_hour
from fieldobs.storage.connection import Database, rows, transaction
from fieldobs.timeutil import now_rfc3339, parse_rfc3339, to_rfc3339, utcnow

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
