"""Filters shared by the console's pages: period grain, which period, kind, checklist."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from statistics import NormalDist
from typing import Any

from fieldobs.checklists.published import list_latest
from fieldobs.errors import Invalid
from fieldobs.scores import KINDS
from fieldobs.scores.periods import PERIOD_PATTERNS, check_period, current_period, shift_period
from fieldobs.storage.connection import Database
from fieldobs.timeutil import utcnow

Z90 = NormalDist().inv_cdf(0.95)
KIND_LABELS = {"mystery_shop": "Mystery shops", "walkthrough": "Walk-throughs"}
KIND_NAMES = {"mystery_shop": "Mystery shop", "walkthrough": "Walk-through"}

GRAINS = tuple(PERIOD_PATTERNS)  # week, month


@dataclass(frozen=True)
class Filters:
    """What a page is asked to show; every field round-trips through the URL."""

    grain: str
    period: str
    kind: str
    checklist: str | None

    def query(self, **changes: Any) -> dict[str, str]:
        """Return the URL query of these filters with some changed."""
        values: dict[str, Any] = {
            "grain": self.grain,
            "period": self.period,
            "kind": self.kind,
            "checklist": self.checklist,
            **changes,
        }
        return {k: str(v) for k, v in values.items() if v not in (None, "")}

    @property
    def ranked(self) -> bool:
        """Tell whether the fair ranking (monthly mystery shops, all checklists) applies."""
        return self.grain == "month" and self.kind == "mystery_shop" and self.checklist is None


def parse_filters(
    db: Database, args: dict[str, str], now: datetime | None = None, timezone: str = "UTC"
) -> Filters:
    """Read filters from a URL query; 422 names a bad one, blanks take defaults."""
    grain = args.get("grain") or "month"
    if grain not in GRAINS:
        raise Invalid("Unknown period grain.", fields={"grain": ["must be month or week"]})
    kind = args.get("kind") or "mystery_shop"
    if kind not in KINDS:
        raise Invalid("Unknown kind.", fields={"kind": [f"must be one of {', '.join(KINDS)}"]})
    # By default the last complete period: the current one has only just begun.
    period = args.get("period") or shift_period(
        grain, current_period(grain, timezone, now or utcnow()), -1
    )
    check_period(grain, period, "period")
    checklist = args.get("checklist") or None
    if checklist is not None and checklist not in {c["slug"] for c in checklists(db)}:
        raise Invalid("Unknown checklist.", fields={"checklist": ["no such checklist"]})
    return Filters(grain, period, kind, checklist)


def checklists(db: Database) -> list[dict[str, Any]]:
    """Return slug, title and kind of every checklist's latest version."""
    return [{"slug": c["slug"], "title": c["title"], "kind": c["kind"]} for c in list_latest(db)]


def recent_periods(grain: str, last: str, count: int) -> list[str]:
    """Return `count` periods ending at `last`, newest first."""
    return [shift_period(grain, last, -step) for step in range(count)]


def section_titles(db: Database, kind: str) -> dict[str, str]:
    """Return section id -> title over the latest checklists of a kind, in checklist order."""
    titles: dict[str, str] = {}
    for checklist in list_latest(db):
        if checklist["kind"] == kind:
            for section in checklist["sections"]:
                titles.setdefault(section["id"], section["title"])
    return titles


def rounded(value: float | None, digits: int = 1) -> float | None:
    """Round for display; None stays None."""
    return None if value is None or math.isnan(value) else round(value, digits)
