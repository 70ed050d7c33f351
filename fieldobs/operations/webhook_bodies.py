"""What a webhook says, by audience: the body and headers of a delivery, signed.

Each webhook speaks to one audience, declared when it is registered:
- `client` (the default): a store's system, told no more than a store manager could see at
  that moment. It hears `visit.released`, and `visit.submitted` of walk-throughs only (a
  mystery shop is not shown store-side before release; returns and assignments never). A
  mystery shop's times (`occurred_at`, `observed_at`, `X-Fieldobs-Timestamp`) are floored to
  the hour as on the manager's pages, its delivery waits for the end of that hour (so its
  arrival does not tell the minute either), and no `X-Fieldobs-Delivery` counter is sent (its
  gaps would count the agency's other events).
- `agency`: the agency's own systems, with the admin view: every event, exact times, the
  assignment and its window. Shoppers are pseudonyms in both.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, timedelta
from typing import Any

from fieldobs import events
from fieldobs.people.anonymity import anonymise, observer_pseudonym, round_to_hour
from fieldobs.timeutil import parse_rfc3339

AGENCY = "agency"
CLIENT = "client"
AUDIENCES = (CLIENT, AGENCY)
CLIENT_EVENTS = (events.VISIT_SUBMITTED, events.VISIT_RELEASED)
SIGNATURE_HEADER = "X-Fieldobs-Signature"
USER_AGENT = "fieldobs-webhooks/1"


def client_hears(event: str, data: dict[str, Any]) -> bool:
    """Tell whether a store manager could see an event's subject when it happened."""
    visit = data.get("visit")
    if visit is None:
        return False
    if event == events.VISIT_RELEASED:
        return True
    return event == events.VISIT_SUBMITTED and visit["kind"] == "walkthrough"


def _hour_only(audience: str, data: dict[str, Any]) -> bool:
    visit = data.get("visit")
    return audience == CLIENT and visit is not None and visit["kind"] == "mystery_shop"


def first_attempt_at(audience: str, data: dict[str, Any], now: datetime) -> datetime:
    """Return when a new delivery may first go: at once, or after the hour it happened in."""
    if not _hour_only(audience, data):
        return now
    return now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


def render(delivery: dict[str, Any], secret_key: str, audience: str) -> str | None:
    """Return the exact JSON body of a delivery for its audience; None if it may not hear it."""
    data = json.loads(delivery["payload"])
    if audience == CLIENT and not client_hears(delivery["event"], data):
        return None
    occurred_at = delivery["occurred_at"]
    if visit := data.get("visit"):
        pseudonym = observer_pseudonym(secret_key, visit.pop("observer_id"))
        if _hour_only(audience, data):
            # The manager's view of a mystery shop (people.anonymity): times to the hour.
            anonymise(visit, pseudonym)
            occurred_at = round_to_hour(occurred_at)
        else:
            visit["observer"] = {"pseudonym": pseudonym}
    if assignment := data.get("assignment"):
        assignment["shopper"] = {
            "pseudonym": observer_pseudonym(secret_key, assignment.pop("shopper_id"))
        }
    body = {"id": delivery["event_id"], "event": delivery["event"], "occurred_at": occurred_at}
    body["data"] = data
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sign(secret: str, body: bytes) -> str:
    """Return the signature header value: sha256=<hex HMAC-SHA256 of the exact body>."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def headers(
    delivery: dict[str, Any], body: str, secret: str, attempt: int, audience: str
) -> dict[str, str]:
    """Return the headers of one attempt: the event, its time as in the body, the signature."""
    occurred_at = json.loads(body)["occurred_at"]
    found = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Fieldobs-Event": delivery["event"],
        "X-Fieldobs-Event-Id": delivery["event_id"],
        "X-Fieldobs-Timestamp": str(int(parse_rfc3339(occurred_at).timestamp())),
        "X-Fieldobs-Attempt": str(attempt),
        SIGNATURE_HEADER: sign(secret, body.encode()),
    }
    if audience == AGENCY:
        found["X-Fieldobs-Delivery"] = str(delivery["id"])
    return found
