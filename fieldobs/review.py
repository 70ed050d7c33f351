"""Review before release: release a submitted mystery shop, or return it for correction."""

from __future__ import annotations

from typing import Any

from . import events
from .db import Database, one
from .errors import Conflict, NotFound
from .timeutil import now_rfc3339


def _load(db: Database, visit_id: str) -> dict[str, Any]:
    visit = one(db.execute("SELECT * FROM visits WHERE id = ?", [visit_id.lower()]))
    if visit is None:
        raise NotFound("No such visit.")
    return visit


def release_visit(db: Database, visit_id: str) -> dict[str, Any]:
    """Release a submitted visit so it counts and store-side staff can see it (in a transaction)."""
    visit = _load(db, visit_id)
    if visit["status"] != "submitted":
        raise Conflict(
            f"Only a submitted visit can be released; this one is {visit['status']}.",
            code="not_submitted",
        )
    now = now_rfc3339()
    db.execute(
        "UPDATE visits SET status = 'released', released_at = ?, updated_at = ? WHERE id = ?",
        [now, now, visit["id"]],
    )
    after = {**visit, "status": "released", "released_at": now, "updated_at": now}
    events.emit(db, events.VISIT_CHANGED, {"before": visit, "after": after})
    events.emit(db, events.VISIT_RELEASED, {"visit": after})
    return after


def return_visit(db: Database, visit_id: str, note: str | None = None) -> dict[str, Any]:
    """Return a visit to its observer for correction (in a transaction)."""
    visit = _load(db, visit_id)
    if visit["status"] not in ("submitted", "released", "awaiting_photos"):
        raise Conflict(f"This visit is already {visit['status']}.", code="not_returnable")
    now = now_rfc3339()
    db.execute(
        "UPDATE visits SET status = 'returned', released_at = NULL, updated_at = ? WHERE id = ?",
        [now, visit["id"]],
    )
    after = {**visit, "status": "returned", "released_at": None, "updated_at": now}
    events.emit(db, events.VISIT_CHANGED, {"before": visit, "after": after})
    events.emit(db, events.VISIT_RETURNED, {"visit": after, "note": note})
    return after
