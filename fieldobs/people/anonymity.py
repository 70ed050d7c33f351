"""Stable, irreversible pseudonyms that keep shoppers anonymous to the stores they visit.

Store-side staff (managers, area leads) see a released mystery shop with:
- the observer as a pseudonym only (HMAC-SHA256 keyed with SECRET_KEY), never a name,
  username or user id;
- every time floored to the hour, in UTC (minutes, and a device's UTC offset, could point at
  a shopper's rota or home time zone);
- no assignment id, no flags (they describe the shopper's device clock and assignment);
- photos as ids and states only: the file facts in the manifest (sha256, size, type) are of the
  original file from the phone, which still carried its metadata; the photos themselves are
  served only as sanitised copies (GET /api/v1/photos/<id>).
Webhook bodies use the same pseudonym (fieldobs/operations/webhook_bodies.py); the review trail and
assignments are admin-only.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC
from typing import Any

from fieldobs.people.scope import Principal, Role
from fieldobs.storage.connection import Database, one
from fieldobs.timeutil import parse_rfc3339, to_rfc3339


def observer_pseudonym(secret: str, user_id: int) -> str:
    """Return the same opaque name for a user every time; nothing reverses it without the key."""
    digest = hmac.new(secret.encode(), f"observer:{user_id}".encode(), hashlib.sha256).hexdigest()
    return f"Observer-{digest[:10].upper()}"


# Store-side staff see a mystery shop's times only to the hour: minutes could identify the shopper.
TIME_FIELDS = (
    "started_at",
    "finished_at",
    "observed_at",
    "received_at",
    "updated_at",
    "submitted_at",
    "released_at",
)

# Facts about the shopper, their device or their assignment: never shown store-side.
HIDDEN_FIELDS = ("assignment_id", "flags", "clock_skew_seconds", "observer_id", "fingerprint")

# What store-side staff learn about each photo of a mystery shop.
PHOTO_FIELDS = ("id", "state", "item")


def round_to_hour(timestamp: str | None) -> str | None:
    """Return an RFC 3339 time floored to the hour, in UTC."""
    if timestamp is None:
        return None
    moment = parse_rfc3339(timestamp).astimezone(UTC)
    return to_rfc3339(moment.replace(minute=0, second=0, microsecond=0))


def is_store_side(principal: Principal) -> bool:
    """Tell whether the caller works for the stores being observed."""
    return principal.role in (Role.MANAGER, Role.AREA_LEAD)


def anonymise(body: dict[str, Any], pseudonym: str) -> dict[str, Any]:
    """Shape a mystery shop's representation for store-side staff (in place; returned)."""
    body["observer"] = {"pseudonym": pseudonym}
    for name in HIDDEN_FIELDS:
        body.pop(name, None)
    for name in TIME_FIELDS:
        if name in body:
            body[name] = round_to_hour(body[name])
    if isinstance(body.get("photos"), list):
        body["photos"] = [
            {k: photo[k] for k in PHOTO_FIELDS if k in photo}
            for photo in body["photos"]
            if isinstance(photo, dict)
        ]
    return body


def present_for(
    db: Database,
    principal: Principal,
    visit: dict[str, Any],
    body: dict[str, Any],
    secret: str,
) -> dict[str, Any]:
    """Shape a visit's representation for the caller: identity for some, a pseudonym for others."""
    observer = one(
        db.execute(
            "SELECT id, username, display_name FROM users WHERE id = ?", [visit["observer_id"]]
        )
    )
    assert observer is not None
    pseudonym = observer_pseudonym(secret, observer["id"])
    if not is_store_side(principal) or visit["kind"] == "walkthrough":
        body["observer"] = {
            "pseudonym": pseudonym,
            "id": observer["id"],
            "username": observer["username"],
            "display_name": observer["display_name"],
        }
        return body
    return anonymise(body, pseudonym)
