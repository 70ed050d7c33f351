"""Rank ranges: one lucky visit never ranks above a store with many, by range or by minimum."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fieldobs.scores.rank_ranges import deviates, draws_for, rank_ranges
from fieldobs.scores.ranking import figures_from_cells, rank_locations, trend_window
from fieldobs.scoring.stats import Moments

AT = "2026-06"


def spread(mean: float, n: int, sd: float) -> list[float]:
    """Return n scores with this mean, alternating sd above and below it."""
    offsets = [float((-1) ** i) for i in range(n)]
    if n % 2:
        offsets[-1] = 0.0
    return [mean + sd * offset for offset in offsets]


# Issue 12's two cases. A test area: one visit at 95.5 against 20 visits averaging 95.2, in an
# area whose stores differ a lot and vary little visit to visit (so shrinkage alone keeps
# the lucky store on top). The demo's North area: a new store with one perfect visit against
# stores with seven each.
TEST_AREA = {
    "One visit": spread(95.5, 1, 0.0),
    "Twenty visits": spread(95.2, 20, 1.5),
    "B": spread(90, 20, 1.5),
    "C": spread(80, 20, 1.5),
    "D": spread(70, 20, 1.5),
    "E": spread(60, 20, 1.5),
}
DEMO_NORTH = {
    "New store": [100.0],
    "Seven visits": spread(89.2, 7, 10.0),
    "B": spread(82, 7, 10.0),
    "C": spread(76, 7, 10.0),
    "D": spread(70, 7, 10.0),
    "E": spread(64, 7, 10.0),
}
CASES = [
    pytest.param(TEST_AREA, "One visit", "Twenty visits", id="test-area"),
    pytest.param(DEMO_NORTH, "New store", "Seven visits", id="demo-north"),
]


def rank(scores: dict[str, list[float]], **options: Any) -> dict[str, dict[str, Any]]:
    """Rank one area's locations from their visit scores in the month AT."""
    areas = [{"id": 1, "name": "North"}]
    locations = [{"id": i, "name": name, "area_id": 1} for i, name in enumerate(scores, 1)]
    cells = {i: {AT: Moments.of(values)} for i, values in enumerate(scores.values(), 1)}
    window = trend_window("month", AT)
    figures = figures_from_cells(cells, window)

    def no_fallback(location_ids: Sequence[int], period: str) -> tuple[float, int]:
        return 0.0, 0

    table, _ = rank_locations(areas, locations, figures, AT, window[-2], no_fallback, **options)
    return {row["name"]: row for row in table}


@pytest.mark.parametrize(("scores", "lucky", "steady"), CASES)
def test_shrinkage_alone_would_put_the_one_visit_store_first(
    scores: dict[str, list[float]], lucky: str, steady: str
) -> None:
    table = rank(scores, min_visits=1)
    assert table[lucky]["adjusted"] > table[steady]["adjusted"]  # what ranked it first before


@pytest.mark.parametrize(("scores", "lucky", "steady"), CASES)
def test_by_default_one_visit_is_not_enough_to_rank(
    scores: dict[str, list[float]], lucky: str, steady: str
) -> None:
    table = rank(scores)
    assert table[lucky]["rank"] is None
    assert table[lucky]["unranked"] == "not_enough_visits"
    assert table[lucky]["adjusted"] is not None
    assert table[steady]["rank"] == 1
    assert list(table)[-1] == lucky  # listed after every ranked location


@pytest.mark.parametrize(("scores", "lucky", "steady"), CASES)
def test_ranked_on_one_visit_its_range_ties_it_with_the_steady_store(
    scores: dict[str, list[float]], lucky: str, steady: str
) -> None:
    table = rank(scores, min_visits=1)
    assert next(iter(table)) == lucky  # ordered by the posterior mean ...
    assert table[lucky]["rank"] == table[steady]["rank"] == 1  # ... but not ranked above
    assert table[lucky]["tied_for_top"]
    assert table[steady]["tied_for_top"]
    assert table[lucky]["rank_low"] == table[steady]["rank_low"] == 1
    assert table[lucky]["rank_high"] >= 2


def test_well_separated_locations_have_exact_ranks() -> None:
    table = rank(TEST_AREA, min_visits=20)
    assert [(row["rank"], row["rank_low"], row["rank_high"]) for row in table.values()] == [
        (1, 1, 1),
        (2, 2, 2),
        (3, 3, 3),
        (4, 4, 4),
        (5, 5, 5),
        (None, None, None),
    ]
    assert not any(row["tied_for_top"] for row in table.values())


def test_locations_at_one_level_share_the_best_rank() -> None:
    assert rank_ranges([(80.0, 0.0)] * 3) == [(1, 1)] * 3


def test_two_alike_uncertain_locations_could_each_be_either() -> None:
    assert rank_ranges([(80.0, 5.0), (80.0, 5.0)]) == [(1, 2), (1, 2)]


def test_the_same_data_give_the_same_ranges_every_time() -> None:
    posteriors = [(90.0 - i, 1.0 + (i % 4)) for i in range(30)]
    first = rank_ranges(posteriors)
    deviates.cache_clear()  # as a new process would start
    assert rank_ranges(posteriors) == first


def test_large_tables_are_ranked_over_fewer_draws() -> None:
    assert draws_for(50) == 1000
    assert draws_for(2000) == 200


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0, 100), st.floats(0, 20)),
        min_size=1,
        max_size=12,
    )
)
def test_a_range_lies_within_the_table_and_holds_the_certain_rank(
    posteriors: list[tuple[float, float]],
) -> None:
    posteriors.sort(key=lambda p: -p[0])
    ranges = rank_ranges(posteriors)
    for (mean, sd), (low, high) in zip(posteriors, ranges, strict=True):
        assert 1 <= low <= high <= len(posteriors)
        if sd == 0 and all(other_sd == 0 for _, other_sd in posteriors):
            assert low == high == 1 + sum(other > mean for other, _ in posteriors)
