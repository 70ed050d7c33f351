"""Ranks and rank ranges: how sure a ranking is, from each location's posterior, simulated.

Under the ranking's empirical-Bayes model a location's true level, given its visits, is normal
with mean `adjusted` and variance w sigma^2 / n = tau^2 sigma^2 / (n tau^2 + sigma^2) (zero when
tau^2 <= 0: every location is then at the area mean). The levels of all the locations ranked
are drawn together many times; each draw is ranked (1 = best, equal levels share the better
rank), and a location's rank range is the central 90 % of its ranks over the draws. The draws
come from fixed, seeded standard normal deviates, so the same data always give the same ranges
(and the same ETags). The plug-in model leaves out the uncertainty of sigma^2 and tau^2; that
of the area mean moves every location of an area together and changes no rank within it.
"""

from __future__ import annotations

import math
import random
from array import array
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from fieldobs.scoring.stats import LEVEL

MAX_DRAWS = 1000
MIN_DRAWS = 200
# Draws x locations per table: an area's table gets MAX_DRAWS; a table of thousands of
# locations (every area at once) gets fewer, so its first, uncached answer stays quick.
DRAW_BUDGET = 100_000
SEED = 20_260_612
# Fewer visits than this in the month: listed, but "not enough visits" to rank (see settings).
DEFAULT_MIN_VISITS = 3
NOT_ENOUGH_VISITS = "not_enough_visits"
NO_VISITS = "no_visits"


def draws_for(count: int) -> int:
    """Return how many joint draws a table of `count` locations is ranked over."""
    return max(MIN_DRAWS, min(MAX_DRAWS, DRAW_BUDGET // max(1, count)))


@lru_cache(maxsize=4096)
def deviates(position: int) -> array[float]:
    """Return the standard normal deviates of the location at `position` in a table.

    As many as the smallest table with that position is ranked over: a table is at least
    position + 1 long, and larger tables take fewer draws. Each position's sequence is seeded
    on its own, so a shorter one is the start of a longer one (at most about 8 MB cached).
    """
    rng = random.Random(SEED + position)
    return array("d", (rng.gauss(0.0, 1.0) for _ in range(draws_for(position + 1))))


def _percentile_index(share: float, draws: int) -> int:
    """Return the index of the `share` quantile in `draws` sorted values (the lower one)."""
    return max(0, math.ceil(share * draws - 1e-9) - 1)


def rank_ranges(
    posteriors: Sequence[tuple[float, float]], level: float = LEVEL
) -> list[tuple[int, int]]:
    """Return each location's `level` rank range from its posterior (mean, standard deviation).

    The locations come in the order they are listed (best first): a location's deviates are
    those of its position, which keeps the answer a function of the data alone.
    """
    count = len(posteriors)
    if count == 0:
        return []
    draws = draws_for(count)
    columns = [
        [mean + sd * z for z in deviates(position)[:draws]] if sd > 0 else [mean] * draws
        for position, (mean, sd) in enumerate(posteriors)
    ]
    ranks = [array("l") for _ in range(count)]
    positions = range(count)
    for levels in zip(*columns, strict=True):
        order = sorted(positions, key=levels.__getitem__, reverse=True)
        rank, previous = 0, math.nan
        for place, index in enumerate(order, start=1):
            value = levels[index]
            if value != previous:
                rank, previous = place, value
            ranks[index].append(rank)
    tail = (1.0 - level) / 2.0
    low, high = _percentile_index(tail, draws), _percentile_index(1.0 - tail, draws)
    found = []
    for own in ranks:
        ordered = sorted(own)
        found.append((ordered[low], ordered[high]))
    return found


def _by_adjusted(entry: dict[str, Any]) -> tuple[Any, ...]:
    return (-entry["adjusted"], -entry["n"], entry["name"], entry["location_id"])


def rank_table(
    entries: list[dict[str, Any]], posteriors: Mapping[int, tuple[float, float]], min_visits: int
) -> list[dict[str, Any]]:
    """Order by adjusted score and rank, with rank ranges; the unranked follow.

    A rank is the position by adjusted score (rounded to the tenth shown: equal when equal),
    except that every location whose rank range reaches 1, and every one listed above such a
    location, is tied for the top (rank 1) when more than one is.
    """
    ranked = [e for e in entries if e["adjusted"] is not None and e["n"] >= min_visits]
    ranked.sort(key=_by_adjusted)
    ranges = rank_ranges([posteriors[e["location_id"]] for e in ranked])
    rank, previous_value, top = 0, None, 0
    for position, (entry, (low, high)) in enumerate(zip(ranked, ranges, strict=True), start=1):
        if entry["adjusted"] != previous_value:
            rank, previous_value = position, entry["adjusted"]
        entry["rank"], entry["rank_low"], entry["rank_high"] = rank, low, high
        if low == 1:
            top = position
    if top > 1:
        for entry in ranked[:top]:
            entry["rank"], entry["tied_for_top"] = 1, True
    few = [e for e in entries if e["adjusted"] is not None and e["n"] < min_visits]
    few.sort(key=_by_adjusted)
    for entry in few:
        entry["unranked"] = NOT_ENOUGH_VISITS
    none = sorted(
        (e for e in entries if e["adjusted"] is None), key=lambda e: (e["name"], e["location_id"])
    )
    for entry in none:
        entry["unranked"] = NO_VISITS
    return ranked + few + none
