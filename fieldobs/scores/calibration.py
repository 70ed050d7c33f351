"""Observer calibration: how far each observer sits from the others at the same place and month."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from fieldobs.scores.common import json_ids, rounded
from fieldobs.scores.contribution import RANKED_KIND
from fieldobs.scores.periods import check_period
from fieldobs.scoring.stats import LEVEL, Moments, mean_interval
from fieldobs.storage.connection import Database, rows


def observer_calibration(
    db: Database,
    *,
    kind: str = RANKED_KIND,
    first: str | None = None,
    last: str | None = None,
) -> dict[str, Any]:
    """Return each observer's mean deviation from other observers at the same place and month.

    For each of an observer's visits, the consensus is the mean of the other observers' visits
    at that location in that month; cells without another observer are skipped. Admins only.
    """
    conditions, params = ["kind = ?", "score IS NOT NULL"], [kind]
    if first is not None:
        conditions.append("month >= ?")
        params.append(check_period("month", first, "from"))
    if last is not None:
        conditions.append("month <= ?")
        params.append(check_period("month", last, "to"))
    cells: dict[tuple[int, str], list[tuple[int, Moments]]] = defaultdict(list)
    for location_id, month, observer_id, n, total, total_sq in db.execute(
        "SELECT location_id, month, observer_id, count(*), sum(score), sum(score * score)"
        f" FROM score_visits WHERE {' AND '.join(conditions)}"
        " GROUP BY location_id, month, observer_id",
        params,
    ):
        cells[(location_id, month)].append((observer_id, Moments(n, total, total_sq)))
    deviations: dict[int, list[float]] = defaultdict(lambda: [0, 0.0, 0.0, 0])
    for members in cells.values():
        if len(members) < 2:
            continue
        everyone = Moments(
            sum(m.n for _, m in members),
            math.fsum(m.total for _, m in members),
            math.fsum(m.total_sq for _, m in members),
        )
        for observer_id, own in members:
            others_n = everyone.n - own.n
            consensus = (everyone.total - own.total) / others_n
            entry = deviations[observer_id]
            entry[0] += own.n
            entry[1] += own.total - own.n * consensus
            entry[2] += own.total_sq - 2 * consensus * own.total + own.n * consensus**2
            entry[3] += 1
    names = {
        row["id"]: row
        for row in rows(
            db.execute(
                "SELECT id, username, display_name FROM users WHERE id IN"
                " (SELECT value FROM json_each(?))",
                [json_ids(deviations)],
            )
        )
    }
    observers: list[dict[str, Any]] = []
    for observer_id, (n, total, total_sq, cell_count) in deviations.items():
        moments = Moments(int(n), total, total_sq)
        low, high = mean_interval(moments, lower=-100.0, upper=100.0)
        tendency = None
        if low is not None and high is not None:
            tendency = "lenient" if low > 0 else "harsh" if high < 0 else "in_line"
        user = names.get(observer_id, {})
        observers.append(
            {
                "observer_id": observer_id,
                "username": user.get("username"),
                "name": user.get("display_name"),
                "n": moments.n,
                "cells": cell_count,
                "deviation": rounded(moments.mean),
                "low": rounded(low),
                "high": rounded(high),
                "tendency": tendency,
            }
        )
    observers.sort(key=lambda o: (-abs(o["deviation"] or 0.0), o["observer_id"]))
    return {"kind": kind, "period": "month", "level": LEVEL, "observers": observers}
