"""Stable, irreversible pseudonyms that keep shoppers anonymous to the stores they visit."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC
from typing import Any

from .db import Database, one
from .scope import Principal, Role
from .timeutil import parse_rfc3339, to_rfc3339


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


def round_to_hour(timestamp: str | None) -> str | None:
    """Return an RFC 3339 time floored to the hour, in UTC."""
    if timestamp is None:
        return None
    moment = parse_rfc3339(timestamp).astimezone(UTC)
    return to_rfc3339(moment.replace(minute=0, second=0, microsecond=0))


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
    store_side = principal.role in (Role.MANAGER, Role.AREA_LEAD)
    if not store_side or visit["kind"] == "walkthrough":
        body["observer"] = {
            "pseudonym": pseudonym,
            "id": observer["id"],
            "username": observer["username"],
            "display_name": observer["display_name"],
        }
        return body
    body["observer"] = {"pseudonym": pseudonym}
    for name in ("assignment_id", "flags"):
        body.pop(name, None)
    for name in TIME_FIELDS:
        if name in body:
            body[name] = round_to_hour(body[name])
    return body
