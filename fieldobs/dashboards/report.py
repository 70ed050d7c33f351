"""A visit's report: every item with its answer, points, reason, comment and photos."""

from __future__ import annotations

import json
from typing import Any

from fieldobs.checklists.published import get_version
from fieldobs.dashboards.store import local_time
from fieldobs.people.anonymity import is_store_side
from fieldobs.people.orgs import get_location
from fieldobs.people.scope import Principal
from fieldobs.storage.connection import Database, rows
from fieldobs.visits.read import get_visit
from fieldobs.visits.review import list_reviews


def show_answer(item: dict[str, Any], answer: dict[str, Any] | None) -> str:
    """Return an answer as a person reads it ("Yes", "45 s", the option's label…)."""
    if answer is None:
        return "—"
    if answer.get("na"):
        return "Not applicable"
    value = answer.get("value")
    kind = item.get("type")
    if kind == "photo" or value is None:
        return "—" if kind != "photo" else f"{len(answer.get('photos') or [])} photo(s)"
    if kind == "yes_no":
        return "Yes" if value else "No"
    if kind == "choice":
        labels = {o["id"]: o.get("label", o["id"]) for o in item.get("options", [])}
        return str(labels.get(value, value))
    if kind == "scale":
        labels = item.get("labels") or {}
        label = labels.get(str(value)) if isinstance(labels, dict) else None
        shown = f"{value} of {item.get('max')}"
        return f"{shown} ({label})" if label else shown
    if kind == "duration":
        return f"{value:g} s" if isinstance(value, int | float) else str(value)
    if kind == "number":
        unit = item.get("unit")
        return f"{value:g} {unit}" if unit and isinstance(value, int | float) else str(value)
    return str(value)


def _changes(db: Database, visit: dict[str, Any]) -> list[dict[str, Any]] | None:
    """Return the answers that differ from the last returned revision (None if never returned)."""
    if visit["revision"] < 2:
        return None  # a first revision was never corrected
    returned = db.execute(
        "SELECT revision FROM reviews WHERE visit_id = ? AND action = 'return'"
        " ORDER BY id DESC LIMIT 1",
        [visit["id"]],
    ).fetchone()
    if returned is None or returned[0] >= visit["revision"]:
        return None
    before = db.execute(
        "SELECT body FROM visit_revisions WHERE visit_id = ? AND revision = ?",
        [visit["id"], returned[0]],
    ).fetchone()
    if before is None:
        return None
    old = {a["item"]: a for a in json.loads(before[0]).get("answers", [])}
    new = {a["item"]: a for a in visit.get("answers", [])}
    changed = []
    for item in sorted(set(old) | set(new)):
        if old.get(item) != new.get(item):
            changed.append({"item": item, "before": old.get(item), "after": new.get(item)})
    return [{"revision": returned[0], "items": changed}]


def visit_report(db: Database, principal: Principal, visit_id: str, secret: str) -> dict[str, Any]:
    """Return a visit as the caller may see it, laid out by its checklist (404 outside scope)."""
    visit = get_visit(db, principal, visit_id, secret)
    location = get_location(db, visit["location_id"], principal)
    checklist = get_version(db, visit["checklist"]["slug"], visit["checklist"]["version"])
    store_side = is_store_side(principal) and visit["kind"] == "mystery_shop"
    answers = {a["item"]: a for a in visit.get("answers", [])}
    scored = {i["item"]: i for i in visit["breakdown"]["items"]}
    section_scores = {s["id"]: s for s in visit["breakdown"]["sections"]}
    photos = {p["id"]: p for p in visit.get("photos", [])}
    sections = []
    for section in checklist["sections"]:
        items = []
        for item in section["items"]:
            answer = answers.get(item["id"])
            score = scored.get(item["id"], {})
            item_photos = [
                photos[p]
                for p in (answer or {}).get("photos", []) or []
                if p in photos and photos[p].get("state") == "received"
            ]
            items.append(
                {
                    "id": item["id"],
                    "prompt": item["prompt"],
                    "type": item["type"],
                    "answer": show_answer(item, answer),
                    "comment": (answer or {}).get("comment"),
                    "earned": score.get("earned"),
                    "possible": score.get("possible"),
                    "applicable": score.get("applicable", False),
                    "failed": score.get("failed", False),
                    "critical": bool(item.get("critical")),
                    "critical_failed": bool(item.get("critical")) and score.get("failed", False),
                    "reason": score.get("reason"),
                    "photos": item_photos,
                }
            )
        own = section_scores.get(section["id"], {})
        sections.append(
            {
                "id": section["id"],
                "title": section["title"],
                "score": None if own.get("score") is None else round(own["score"], 1),
                "critical_failed": own.get("critical_failed", False),
                "items": items,
            }
        )
    is_admin = principal.is_admin
    loose = [
        p for p in visit.get("photos", []) if p.get("state") == "received" and not p.get("item")
    ]
    return {
        "visit": visit,
        "location": location,
        "checklist": {
            "slug": checklist["slug"],
            "version": checklist["version"],
            "title": checklist["title"],
        },
        "local_time": local_time(
            visit.get("finished_at") and visit["observed_at"],
            location["timezone"],
            to_hour=store_side,
        ),
        "to_hour": store_side,
        "observer": visit.get("observer", {}),
        "sections": sections,
        "loose_photos": loose,
        "critical_failures": visit["breakdown"].get("critical_failures", []),
        "reviews": list_reviews(db, visit["id"]) if is_admin else None,
        "changes": _changes(db, visit) if is_admin else None,
    }


def queue_photos(db: Database, visit_ids: list[str]) -> dict[str, list[str]]:
    """Return the received photo ids of each visit (for the review queue's thumbnails)."""
    found: dict[str, list[str]] = {}
    for row in rows(
        db.execute(
            "SELECT vp.visit_id, vp.photo_id FROM visit_photos vp JOIN photos p"
            " ON p.id = vp.photo_id AND p.state = 'received' AND p.sha256 = vp.sha256"
            " WHERE vp.visit_id IN (SELECT value FROM json_each(?)) ORDER BY vp.photo_id",
            [json.dumps(visit_ids)],
        )
    ):
        found.setdefault(row["visit_id"], []).append(row["photo_id"])
    return found
