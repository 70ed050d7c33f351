"""Observer calibration: how far each observer sits from the others at the same place and month.

In each place and month (a cell) an observer shares with others, their deviation is the mean
of their visits there minus the mean of the other observers' visits there; cells without
another observer are skipped. An observer's deviation is the mean of their cells' deviations,
each weighted by its precision 1 / (1/n_own + 1/n_others), with a 90 % t-interval over the
cells (none below two cells: one shared month says as much about that month as about the
observer). "lenient" or "harsh" is claimed only when Benjamini-Hochberg at a false discovery
rate of 1 - LEVEL (10 %) over every observer compared keeps the two-sided t test of "no
deviation": compare enough observers and some look off by chance alone.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from fieldobs.scores.common import json_ids, rounded
from fieldobs.scores.contribution import RANKED_KIND
from fieldobs.scores.periods import check_period
from fieldobs.scoring.stats import (
    LEVEL,
    Moments,
    benjamini_hochberg,
    t_critical,
    t_two_sided_p,
)
from fieldobs.storage.connection import Database, rows

# One place and month: each observer there with the moments of their visit scores.
Cell = Sequence[tuple[int, Moments]]


@dataclass(frozen=True)
class Calibration:
    """One observer's deviation from the consensus, its interval, and the label it earns."""

    n: int  # the observer's visits in cells shared with others
    cells: int
    deviation: float
    low: float | None
    high: float | None
    p_value: float | None
    tendency: str | None


@dataclass
class _Sums:
    """Running sums of one observer's cell deviations D, each weighted by its precision w."""

    n: int = 0
    cells: int = 0
    weight: float = 0.0  # sum of w
    weighted: float = 0.0  # sum of w D
    weighted_sq: float = 0.0  # sum of w D^2

    def add(self, own: Moments, others: Moments) -> None:
        # Var(D) = sigma^2 (1 / n_own + 1 / n_others): w is its inverse, up to sigma^2.
        deviation = own.total / own.n - others.total / others.n
        weight = 1.0 / (1.0 / own.n + 1.0 / others.n)
        self.n += own.n
        self.cells += 1
        self.weight += weight
        self.weighted += weight * deviation
        self.weighted_sq += weight * deviation * deviation

    def judge(self, level: float) -> tuple[float, float | None, float | None, float | None]:
        """Return the weighted mean deviation, its t-interval and the two-sided p-value.

        A weighted t test over the cells (df = cells - 1): the cells are independent, and
        the weights make every cell's deviation estimate the same sigma^2. None below 2 cells.
        """
        mean = self.weighted / self.weight
        df = self.cells - 1
        if df < 1:
            return mean, None, None, None
        variance = max(0.0, self.weighted_sq - self.weighted * self.weighted / self.weight) / df
        stderr = math.sqrt(variance / self.weight)
        if stderr == 0.0:
            p_value = 1.0 if mean == 0.0 else 0.0
        else:
            p_value = t_two_sided_p(mean / stderr, df)
        half = t_critical(df, level) * stderr
        return mean, max(-100.0, mean - half), min(100.0, mean + half), p_value


def _cell_sums(cells: Iterable[Cell]) -> dict[int, _Sums]:
    """Sum each observer's deviations from the other observers' mean, cell by cell."""
    found: dict[int, _Sums] = defaultdict(_Sums)
    for members in cells:
        if len(members) < 2:
            continue
        everyone = Moments()
        for _, own in members:
            everyone = everyone + own
        for observer_id, own in members:
            others = Moments(everyone.n - own.n, everyone.total - own.total)
            found[observer_id].add(own, others)
    return found


def calibrate(cells: Iterable[Cell], level: float = LEVEL) -> dict[int, Calibration]:
    """Return each observer's calibration from the place-and-month cells they share."""
    judged = {o: (sums, sums.judge(level)) for o, sums in _cell_sums(cells).items()}
    tested = [o for o, (_, figures) in judged.items() if figures[3] is not None]
    pvalues = [judged[o][1][3] or 1.0 for o in tested]
    kept = benjamini_hochberg(pvalues, 1.0 - level, dependent=True)
    discoveries = {o for o, keep in zip(tested, kept, strict=True) if keep}
    result = {}
    for observer_id, (sums, (deviation, low, high, p_value)) in judged.items():
        tendency = None
        if p_value is not None:
            tendency = "in_line"
            if observer_id in discoveries:
                tendency = "lenient" if deviation > 0 else "harsh"
        result[observer_id] = Calibration(
            sums.n, sums.cells, deviation, low, high, p_value, tendency
        )
    return result


def observer_calibration(
    db: Database,
    *,
    kind: str = RANKED_KIND,
    first: str | None = None,
    last: str | None = None,
) -> dict[str, Any]:
    """Return each observer's mean deviation from other observers at the same place and month.

    Admins only. See the module's docstring for the statistics.
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
    calibrations = calibrate(cells.values())
    names = {
        row["id"]: row
        for row in rows(
            db.execute(
                "SELECT id, username, display_name FROM users WHERE id IN"
                " (SELECT value FROM json_each(?))",
                [json_ids(calibrations)],
            )
        )
    }
    observers: list[dict[str, Any]] = []
    for observer_id, found in calibrations.items():
        user = names.get(observer_id, {})
        observers.append(
            {
                "observer_id": observer_id,
                "username": user.get("username"),
                "name": user.get("display_name"),
                "n": found.n,
                "cells": found.cells,
                "deviation": rounded(found.deviation),
                "low": rounded(found.low),
                "high": rounded(found.high),
                "p_value": rounded(found.p_value, 4),
                "tendency": found.tendency,
            }
        )
    observers.sort(key=lambda o: (-abs(o["deviation"] or 0.0), o["observer_id"]))
    return {
        "kind": kind,
        "period": "month",
        "level": LEVEL,
        "false_discovery_rate": round(1.0 - LEVEL, 2),
        "observers": observers,
    }
