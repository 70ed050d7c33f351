"""Build valid visits from a published checklist definition, as a phone would."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

NOW = "2026-11-23T09:30:00Z"


def _value(item: dict[str, Any], quality: float) -> Any:
    kind = item["type"]
    if kind == "yes_no":
        return quality >= 0.5
    if kind == "scale":
        return item["min"] + round(quality * (item["max"] - item["min"]))
    if kind == "choice":
        scored = [o for o in item["options"] if o.get("score") is not None] or item["options"]
        return min(scored, key=lambda o: abs((o.get("score") or 0) - quality))["id"]
    if kind in ("duration", "number"):
        target, limit = item.get("target"), item.get("limit")
        if target is None or limit is None:
            return 1
        return target + (1 - quality) * (limit - target)
    if kind == "text":
        return "Observed as described."
    return None


def answers_for(definition: dict[str, Any], quality: float = 1.0) -> list[dict[str, Any]]:
    """Answer every item that takes a value; photo items are left out unless required."""
    answers = []
    for section in definition["sections"]:
        for item in section["items"]:
            if item["type"] == "photo":
                if item["required"] and item["allow_na"]:
                    answers.append({"item": item["id"], "na": True})
                continue
            answers.append({"item": item["id"], "value": _value(item, quality)})
    return answers


def photo_entry(
    data: bytes, content_type: str = "image/jpeg", photo_id: str | None = None
) -> dict[str, Any]:
    """Return a manifest entry describing photo bytes."""
    return {
        "id": photo_id or str(uuid.uuid4()),
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
        "content_type": content_type,
    }


def make_visit(
    definition: dict[str, Any],
    location_id: int,
    *,
    visit_id: str | None = None,
    revision: int = 1,
    quality: float = 1.0,
    photos: list[dict[str, Any]] | None = None,
    started_at: str = "2026-11-23T09:00:00Z",
    finished_at: str = NOW,
    **extra: Any,
) -> dict[str, Any]:
    """Return a complete, valid visit body for PUT /api/v1/visits/<id>."""
    return {
        "id": visit_id or str(uuid.uuid4()),
        "revision": revision,
        "checklist": {"slug": definition["slug"], "version": definition["version"]},
        "location_id": location_id,
        "started_at": started_at,
        "finished_at": finished_at,
        "answers": answers_for(definition, quality),
        "photos": photos or [],
        **extra,
    }
