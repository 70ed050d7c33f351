"""Visit states: photo states of a manifest, awaiting_photos -> submitted, acknowledgements."""

from __future__ import annotations

import json
from typing import Any

from fieldobs import events
from fieldobs.storage.connection import Database, one, rows
from fieldobs.timeutil import to_rfc3339, utcnow


def photo_states(db: Database, visit_id: str, observer_id: int) -> list[dict[str, Any]]:
    """Return the manifest photos of a visit with their state: expected, received or rejected."""
    manifest = rows(
        db.execute(
            "SELECT vp.photo_id AS id, vp.sha256, vp.size, vp.content_type, vp.item,"
            " p.state, p.sha256 AS got_sha256, p.visit_id AS got_visit, p.uploader_id,"
            " p.reason FROM visit_photos vp LEFT JOIN photos p ON p.id = vp.photo_id"
            " WHERE vp.visit_id = ? ORDER BY vp.photo_id",
            [visit_id],
        )
    )
    states = []
    for photo in manifest:
        state, reason = _photo_state(photo, visit_id, observer_id)
        entry = {k: photo[k] for k in ("id", "sha256", "size", "content_type", "item")}
        entry["state"] = state
        if reason:
            entry["reason"] = reason
        states.append(entry)
    return states


def _photo_state(photo: dict[str, Any], visit_id: str, observer_id: int) -> tuple[str, str | None]:
    if photo["state"] is None:
        return "expected", None
    if photo["state"] == "rejected":
        return "rejected", photo["reason"]
    if photo["got_visit"] != visit_id or photo["uploader_id"] != observer_id:
        return "rejected", "the photo was uploaded for another visit or by another user"
    if photo["got_sha256"] != photo["sha256"]:
        return "rejected", "the uploaded bytes differ from the visit's manifest (sha256)"
    return "received", None


def refresh_status(db: Database, visit_id: str) -> bool:
    """Move a visit from awaiting_photos to submitted once every manifest photo is received."""
    visit = one(db.execute("SELECT * FROM visits WHERE id = ?", [visit_id]))
    if visit is None or visit["status"] != "awaiting_photos":
        return False
    states = photo_states(db, visit_id, visit["observer_id"])
    if any(photo["state"] != "received" for photo in states):
        return False
    now = to_rfc3339(utcnow())
    db.execute(
        "UPDATE visits SET status = 'submitted', submitted_at = ?, updated_at = ? WHERE id = ?",
        [now, now, visit_id],
    )
    after = {**visit, "status": "submitted", "submitted_at": now, "updated_at": now}
    events.emit(db, events.VISIT_CHANGED, {"before": visit, "after": after})
    events.emit(db, events.VISIT_SUBMITTED, {"visit": after})
    return True


def summary(
    row: dict[str, Any], sections: list[tuple[str, float | None]] | None = None
) -> dict[str, Any]:
    """Return what a push acknowledges: id, revision, status and scores (sections if known)."""
    return {
        "id": row["id"],
        "revision": row["revision"],
        "status": row["status"],
        "score": rounded(row["score"]),
        "sections": stored_sections(row)
        if sections is None
        else [{"id": sid, "score": rounded(score)} for sid, score in sections],
    }


def rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def stored_sections(row: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"id": s["id"], "score": rounded(s["score"])} for s in json.loads(row["section_scores"])
    ]
