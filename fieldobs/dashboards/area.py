"""An area at a glance (or all of a caller's areas): key figures, league table, funnel, heat map.

The fair ranking itself (adjusted scores, ranks, deltas, trends) is fieldobs.scores'
area_ranking / overall_ranking, the functions behind the API's ranking endpoints. This module
adds what a page needs around it, read from the same rollups: per-store visit counts and means
for any grain, kind and checklist, the share of visits at or above the pass mark, the funnel
plot's control limits, a 12-month sparkline per store and the stores x sections grid.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from datetime import datetime
from statistics import NormalDist
from typing import Any

from fieldobs.dashboards.common import Z90, Filters, rounded, section_titles
from fieldobs.people.orgs import get_area
from fieldobs.people.scope import Principal
from fieldobs.scores import area_priorities, area_ranking, overall_ranking
from fieldobs.scores.periods import shift_period
from fieldobs.scoring.stats import Moments, estimate_shrinkage, mean_interval
from fieldobs.storage.connection import Database, rows
from fieldobs.timeutil import now_rfc3339

# Spiegelhalter's "alert" and "alarm" limits: about 2 and 3 standard errors.
FUNNEL_LEVELS = (0.95, 0.998)
SPARK_PERIODS = 12


def _scope_locations(
    db: Database, principal: Principal, area_id: int | None
) -> list[dict[str, Any]]:
    if area_id is not None:
        return rows(
            db.execute(
                "SELECT l.id, l.name, l.area_id, a.name AS area_name FROM locations l"
                " JOIN areas a ON a.id = l.area_id WHERE l.deleted_at IS NULL AND l.area_id = ?"
                " ORDER BY l.name",
                [area_id],
            )
        )
    clause, params = principal.area_clause("l.area_id")
    return rows(
        db.execute(
            "SELECT l.id, l.name, l.area_id, a.name AS area_name FROM locations l"
            f" JOIN areas a ON a.id = l.area_id WHERE l.deleted_at IS NULL AND {clause}"
            " ORDER BY a.name, l.name",
            params,
        )
    )


def visit_moments(
    db: Database, location_ids: list[int], filters: Filters, pass_mark: float
) -> dict[int, tuple[Moments, int]]:
    """Return per location the moments of counted visit scores and how many reached the mark."""
    column = "week" if filters.grain == "week" else "month"
    join, extra, params = "", "", [filters.kind, filters.period]
    if filters.checklist is not None:
        join = " JOIN visits v ON v.id = s.visit_id"
        extra = " AND v.checklist_slug = ?"
        params.append(filters.checklist)
    found: dict[int, tuple[Moments, int]] = {}
    for location_id, n, total, total_sq, passed in db.execute(
        "SELECT s.location_id, count(*), total(s.score), total(s.score * s.score),"
        f" total(s.score >= ?) FROM score_visits s{join}"
        f" WHERE s.kind = ? AND s.{column} = ? AND s.score IS NOT NULL{extra}"
        " AND s.location_id IN (SELECT value FROM json_each(?)) GROUP BY s.location_id",
        [pass_mark, *params, json.dumps(location_ids)],
    ):
        found[location_id] = (Moments(n, total, total_sq), int(passed))
    return found


def key_figures(
    moments: dict[int, tuple[Moments, int]], open_work: dict[str, int] | None
) -> dict[str, Any]:
    """Return the strip: visits, mean with its 90 % interval, share at or above the mark."""
    n = sum(m.n for m, _ in moments.values())
    total = math.fsum(m.total for m, _ in moments.values())
    total_sq = math.fsum(m.total_sq for m, _ in moments.values())
    passed = sum(p for _, p in moments.values())
    overall = Moments(n, total, total_sq)
    low, high = mean_interval(overall)
    return {
        "n": n,
        "mean": rounded(overall.mean),
        "low": rounded(low),
        "high": rounded(high),
        "share_pass": rounded(100.0 * passed / n if n else None),
        "open_work": open_work,
    }


def open_assignments(db: Database, location_ids: list[int]) -> dict[str, int]:
    """Return how many assignments at these locations are open, and how many of them overdue."""
    now = now_rfc3339()
    row = db.execute(
        "SELECT count(*), total(window_end < ?) FROM assignments WHERE status = 'open'"
        " AND location_id IN (SELECT value FROM json_each(?))",
        [now, json.dumps(location_ids)],
    ).fetchone()
    return {"open": int(row[0]), "overdue": int(row[1])}


def funnel_limits(
    mean: float | None, within_sd: float | None, between_sd: float | None, max_n: int
) -> dict[str, Any] | None:
    """Return the funnel's control limits around the area mean for n = 1..max_n.

    Spiegelhalter (2005): limits mean +- z sqrt(sigma^2 / n), widened by the between-store
    variance tau^2 (an additive random-effects model) when stores really differ by more than
    chance, so a store outside them differs from the area by more than either explains.
    """
    if mean is None or not within_sd or max_n < 1:
        return None
    tau2 = (between_sd or 0.0) ** 2
    sigma2 = within_sd**2
    # Drawn a little past the largest store, so the funnel's mouth shows where it is heading.
    reach = max(2, math.ceil(max_n * 2.5))
    steps = {1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 75, 100, 150, 200, 300}
    ns = sorted({k for k in steps if k <= reach} | {reach})
    bands = []
    for level in FUNNEL_LEVELS:
        z = NormalDist().inv_cdf(0.5 + level / 2)
        points = []
        for k in ns:
            half = z * math.sqrt(sigma2 / k + tau2)
            points.append((k, max(0.0, mean - half), min(100.0, mean + half)))
        bands.append({"level": level, "points": points})
    return {"mean": mean, "sigma": within_sd, "tau": between_sd or 0.0, "bands": bands}


def funnel_rows(funnel: dict[str, Any], table: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return each store with visits and its own 95 % and 99.8 % limits (the chart's numbers)."""
    mean, sigma, tau = funnel["mean"], funnel["sigma"], funnel["tau"]
    z_alert, z_alarm = (NormalDist().inv_cdf(0.5 + level / 2) for level in FUNNEL_LEVELS)
    found = []
    for row in table:
        if not row["n"] or row["mean"] is None:
            continue
        spread = math.sqrt(sigma * sigma / row["n"] + tau * tau)
        found.append(
            {
                "name": row["name"],
                "n": row["n"],
                "mean": row["mean"],
                "alert": (mean - z_alert * spread, mean + z_alert * spread),
                "alarm": (mean - z_alarm * spread, mean + z_alarm * spread),
            }
        )
    return found


SORTS = {"name": False, "shown": True, "mean": True, "n": True, "delta": True}


def sort_table(table: list[dict[str, Any]], key: str | None) -> None:
    """Sort the league table by a column (blanks last); rank order is the default."""
    if key not in SORTS:
        return
    if key == "name":
        table.sort(key=lambda row: row["name"].casefold())
        return
    present = [row for row in table if row[key] is not None]
    present.sort(key=lambda row: row[key], reverse=SORTS[key])
    table[:] = present + [row for row in table if row[key] is None]


def _sparklines(
    db: Database, location_ids: list[int], filters: Filters
) -> dict[int, list[float | None]]:
    last = filters.period if filters.grain == "month" else None
    if last is None:
        return {}
    first = shift_period("month", last, 1 - SPARK_PERIODS)
    months = [shift_period("month", first, k) for k in range(SPARK_PERIODS)]
    found: dict[int, dict[str, float]] = defaultdict(dict)
    for location_id, period, n, total in db.execute(
        "SELECT location_id, period, n, total FROM score_rollups WHERE kind = ? AND grain = 'month'"
        " AND period BETWEEN ? AND ? AND location_id IN (SELECT value FROM json_each(?))",
        [filters.kind, first, last, json.dumps(location_ids)],
    ):
        if n:
            found[location_id][period] = total / n
    return {loc: [own.get(m) for m in months] for loc, own in found.items()}


def heat_map(db: Database, location_ids: list[int], filters: Filters) -> dict[str, Any]:
    """Return each store's mean per section in the period (where each loses points)."""
    titles = section_titles(db, filters.kind)
    cells: dict[int, dict[str, dict[str, float]]] = defaultdict(dict)
    for location_id, section, n, total in db.execute(
        "SELECT location_id, section_id, n, total FROM section_rollups WHERE kind = ?"
        " AND grain = ? AND period = ? AND location_id IN (SELECT value FROM json_each(?))",
        [filters.kind, filters.grain, filters.period, json.dumps(location_ids)],
    ):
        if n:
            cells[location_id][section] = {"n": n, "mean": round(total / n, 1)}
    seen = {s for own in cells.values() for s in own}
    sections = [{"id": s, "title": t} for s, t in titles.items() if s in seen]
    sections += [{"id": s, "title": s} for s in sorted(seen - set(titles))]
    return {"sections": sections, "cells": cells}


def area_view(
    db: Database,
    principal: Principal,
    area_id: int | None,
    filters: Filters,
    *,
    pass_mark: float,
    sort: str | None = None,
    page: int = 1,
    per_page: int = 50,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Return everything the area page shows; area_id None: all the caller's areas.

    The league table is ranked over every store, then one page of it (`per_page` rows) gets
    its sparklines and heat-map row: an all-areas view may hold thousands of stores.
    """
    area = get_area(db, area_id, principal) if area_id is not None else None
    locations = _scope_locations(db, principal, area_id)
    ids = [loc["id"] for loc in locations]
    moments = visit_moments(db, ids, filters, pass_mark)
    ranking: dict[str, Any] | None = None
    if filters.ranked:
        if area_id is not None:
            ranking = area_ranking(db, principal, area_id, at=filters.period, now=now)
            summaries = [ranking["area"]]
        else:
            ranking = overall_ranking(db, principal, at=filters.period, now=now)
            summaries = ranking["areas"]
    else:
        summaries = []
    ranked = {r["location_id"]: r for r in (ranking or {}).get("locations", [])}
    spread = {s["area_id"]: s for s in summaries}
    table = []
    for loc in locations:
        own, passed = moments.get(loc["id"], (Moments(), 0))
        entry: dict[str, Any] = {
            "location_id": loc["id"],
            "name": loc["name"],
            "area_id": loc["area_id"],
            "area_name": loc["area_name"],
            "n": own.n,
            "mean": rounded(own.mean),
            "low": None,  # intervals: for the page's rows only (below)
            "high": None,
            "share_pass": rounded(100.0 * passed / own.n if own.n else None),
            "adjusted": None,
            "rank": None,
            "rank_low": None,
            "rank_high": None,
            "unranked": None if own.n else "no_visits",
            "delta": None,
            "trend": None,
            "weight": None,
        }
        found = ranked.get(loc["id"])
        if found is not None:
            keys = ("adjusted", "rank", "rank_low", "rank_high", "unranked", "delta", "trend")
            entry.update({k: found.get(k) for k in (*keys, "weight")})
        entry["shown"] = entry["adjusted"] if entry["adjusted"] is not None else entry["mean"]
        table.append(entry)
    table.sort(
        key=lambda e: (
            e["rank"] is None,
            e["rank"] or 0,
            -(e["mean"] if e["mean"] is not None else -1),
            e["name"],
        )
    )
    _mark_ties(table)
    sort_table(table, sort)
    pages = max(1, math.ceil(len(table) / per_page))
    page = min(max(1, page), pages)
    shown = table[(page - 1) * per_page : page * per_page]
    shown_ids = [row["location_id"] for row in shown]
    for row in shown:
        # Worked out for the rows drawn: an all-areas table has thousands.
        low, high = mean_interval(moments.get(row["location_id"], (Moments(), 0))[0])
        row["low"], row["high"] = rounded(low), rounded(high)
        _interval_of_shown(row, spread.get(row["area_id"]))
    sparks = _sparklines(db, shown_ids, filters)
    for row in shown:
        row["spark"] = sparks.get(row["location_id"], [])
    figures = key_figures(moments, None)
    funnel = None
    if area_id is not None:
        summary = summaries[0] if summaries else _summary_from(moments)
        max_n = max((m.n for m, _ in moments.values()), default=0)
        funnel = funnel_limits(
            summary.get("mean"), summary.get("within_sd"), summary.get("between_sd"), max_n
        )
        if funnel is not None:
            funnel["rows"] = funnel_rows(funnel, table)
            funnel["points"] = [(r["name"], r["n"], r["mean"]) for r in funnel["rows"]]
    priorities = None
    if area_id is not None and filters.grain == "month":
        priorities = area_priorities(
            db, principal, area_id, kind=filters.kind, last=filters.period, months=3, limit=10
        )
    return {
        "area": area,
        "filters": filters,
        "figures": figures,
        "table": shown,
        "stores": len(table),
        "page": page,
        "pages": pages,
        "summaries": summaries,
        "funnel": funnel,
        "heat": heat_map(db, shown_ids, filters),
        "priorities": priorities,
        "pass_mark": pass_mark,
        "location_ids": ids,
    }


def _summary_from(moments: dict[int, tuple[Moments, int]]) -> dict[str, Any]:
    """Estimate the area mean and spreads without the ranking (other grains and kinds)."""
    found = estimate_shrinkage([m for m, _ in moments.values()], min_within_df=1)
    if found is None:
        return {}
    return {
        "mean": found.grand_mean,
        "within_sd": math.sqrt(found.within) if found.within is not None else None,
        "between_sd": math.sqrt(max(0.0, found.between)) if found.between is not None else 0.0,
    }


def _interval_of_shown(entry: dict[str, Any], summary: dict[str, Any] | None) -> None:
    """Set the 90 % interval of the score the table ranks by (adjusted when there is one).

    An adjusted (shrunk) score's interval is its posterior one, sqrt(w sigma^2 / n); with no
    adjusted score (or w = 0) the raw mean's t-interval is shown.
    """
    entry["shown"] = entry["adjusted"] if entry["adjusted"] is not None else entry["mean"]
    entry["int_low"], entry["int_high"] = entry["low"], entry["high"]
    weight, n = entry.get("weight") or 0.0, entry["n"]
    sigma = (summary or {}).get("within_sd")
    if entry["adjusted"] is not None and weight > 0 and sigma and n:
        half = Z90 * math.sqrt(weight * sigma * sigma / n)
        entry["int_low"] = round(max(0.0, entry["adjusted"] - half), 1)
        entry["int_high"] = round(min(100.0, entry["adjusted"] + half), 1)


def _mark_ties(table: list[dict[str, Any]]) -> None:
    """Mark rows whose rank equals a neighbour's: shown as tied (=)."""
    for index, row in enumerate(table):
        rank = row["rank"]
        row["tied"] = rank is not None and any(
            0 <= j < len(table) and j != index and table[j]["rank"] == rank
            for j in (index - 1, index + 1)
        )
