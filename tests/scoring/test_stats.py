"""The pure statistics behind scores: t distribution, intervals, shrinkage, trends."""

from __future__ import annotations

import math
import statistics
import sys

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from fieldobs.scoring.stats import (
    Moments,
    RatioSums,
    SlopeTest,
    TrendSums,
    benjamini_hochberg,
    betainc,
    classify_trends,
    estimate_shrinkage,
    mean_interval,
    ratio_difference,
    slope_from_sums,
    t_critical,
    t_two_sided_p,
)


def slope_test(periods: list[tuple[float, Moments]]) -> SlopeTest | None:
    """Regress every visit's score on its period number, as the rankings do from their sums."""
    return slope_from_sums(TrendSums.of(periods))


SCORES = st.floats(min_value=0, max_value=100, allow_nan=False)


@pytest.mark.parametrize(
    ("df", "expected"),
    [(1, 6.3138), (2, 2.9200), (3, 2.3534), (5, 2.0150), (10, 1.8125), (30, 1.6973), (120, 1.6577)],
)
def test_t_critical_values_match_the_table(df: int, expected: float) -> None:
    assert t_critical(df) == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize(
    ("a", "b", "x", "expected"),
    [(1, 1, 0.3, 0.3), (2, 3, 0.5, 0.6875), (0.5, 0.5, 0.5, 0.5), (5, 1, 0.9, 0.9**5)],
)
def test_incomplete_beta_matches_closed_forms(
    a: float, b: float, x: float, expected: float
) -> None:
    assert betainc(a, b, x) == pytest.approx(expected, rel=1e-12)


def test_two_sided_p_matches_known_values() -> None:
    assert t_two_sided_p(2.0, 10) == pytest.approx(0.073388, abs=1e-6)
    assert t_two_sided_p(0.0, 7) == pytest.approx(1.0)
    assert t_two_sided_p(-2.0, 10) == t_two_sided_p(2.0, 10)
    assert t_two_sided_p(math.inf, 3) == 0.0


@given(st.lists(SCORES, min_size=2, max_size=40))
def test_moments_give_the_mean_and_variance_of_their_values(values: list[float]) -> None:
    moments = Moments.of(values)
    assert moments.mean == pytest.approx(statistics.fmean(values), abs=1e-9)
    assert moments.variance == pytest.approx(statistics.variance(values), rel=1e-6, abs=1e-6)


@given(st.lists(SCORES, min_size=2, max_size=40))
def test_interval_holds_the_mean_inside_0_to_100(values: list[float]) -> None:
    low, high = mean_interval(Moments.of(values))
    assert low is not None
    assert high is not None
    assert 0 <= low <= statistics.fmean(values) + 1e-9
    assert statistics.fmean(values) - 1e-9 <= high <= 100


def test_interval_is_the_t_interval() -> None:
    values = [60.0, 70.0, 80.0, 90.0]
    low, high = mean_interval(Moments.of(values))
    half = 2.3534 * statistics.stdev(values) / 2
    assert low == pytest.approx(75 - half, abs=1e-3)
    assert high == pytest.approx(75 + half, abs=1e-3)


@pytest.mark.parametrize("values", [[], [88.0]])
def test_no_interval_below_two_visits(values: list[float]) -> None:
    assert mean_interval(Moments.of(values)) == (None, None)


def test_shrinkage_matches_the_anova_method_of_moments() -> None:
    groups = [[60.0, 70.0, 80.0], [80.0, 90.0, 100.0, 90.0], [95.0]]
    shrinkage = estimate_shrinkage([Moments.of(g) for g in groups], min_within_df=0)
    assert shrinkage is not None
    everything = [v for g in groups for v in g]
    grand = statistics.fmean(everything)
    within = sum(sum((v - statistics.fmean(g)) ** 2 for v in g) for g in groups) / (8 - 3)
    between_ms = sum(len(g) * (statistics.fmean(g) - grand) ** 2 for g in groups) / 2
    n0 = (8 - (9 + 16 + 1) / 8) / 2
    assert shrinkage.grand_mean == pytest.approx(grand)
    assert shrinkage.within == pytest.approx(within)
    assert shrinkage.between == pytest.approx((between_ms - within) / n0)
    assert shrinkage.between is not None
    weight = shrinkage.between / (shrinkage.between + within / 1)
    assert shrinkage.adjust(Moments.of([95.0])) == pytest.approx(weight * 95 + (1 - weight) * grand)


def test_locations_no_more_different_than_chance_all_get_the_area_mean() -> None:
    groups = [Moments.of([60.0, 80.0]), Moments.of([61.0, 79.0]), Moments.of([59.0, 81.0])]
    shrinkage = estimate_shrinkage(groups, min_within_df=0)
    assert shrinkage is not None
    assert shrinkage.between is not None
    assert shrinkage.between <= 0
    assert [shrinkage.adjust(g) for g in groups] == [pytest.approx(70.0)] * 3
    assert shrinkage.weight(2) == 0.0


def test_one_lucky_visit_is_pulled_below_a_consistently_good_location() -> None:
    # Realistic spread: visits at one place vary more than the places' true levels do.
    steady_good = Moments.of([86.0, 70.0, 95.0, 88.0, 100.0, 78.0])
    lucky = Moments.of([100.0])
    others = [
        Moments.of([60.0, 85.0, 70.0, 52.0, 78.0, 66.0]),
        Moments.of([75.0, 50.0, 66.0, 80.0, 90.0]),
        Moments.of([82.0, 64.0, 70.0, 91.0, 59.0]),
        Moments.of([77.0, 68.0, 95.0, 61.0, 73.0, 80.0]),
    ]
    shrinkage = estimate_shrinkage([steady_good, lucky, *others], min_within_df=0)
    assert shrinkage is not None
    lucky_adjusted, steady_adjusted = shrinkage.adjust(lucky), shrinkage.adjust(steady_good)
    assert lucky_adjusted is not None
    assert steady_adjusted is not None
    assert lucky_adjusted < steady_adjusted
    assert shrinkage.weight(1) < shrinkage.weight(6)


def test_a_longer_window_supplies_the_within_variance_when_the_period_has_too_little() -> None:
    groups = [Moments.of([90.0]), Moments.of([60.0])]
    without_fallback = estimate_shrinkage(groups)
    assert without_fallback is not None
    assert without_fallback.within is None
    shrinkage = estimate_shrinkage(groups, fallback_within=(2000.0, 20))
    assert shrinkage is not None
    assert shrinkage.within == pytest.approx(100.0)
    assert shrinkage.within_df == 20


@given(
    st.lists(
        st.tuples(st.integers(0, 5), st.lists(SCORES, min_size=1, max_size=5)),
        min_size=3,
        max_size=6,
        unique_by=lambda p: p[0],
    )
)
def test_slope_from_moments_is_ordinary_least_squares_over_the_visits(
    periods: list[tuple[int, list[float]]],
) -> None:
    points = [(float(x), y) for x, values in periods for y in values]
    test = slope_test([(float(x), Moments.of(values)) for x, values in periods])
    if len(points) < 4:
        assert test is None
        return
    assert test is not None
    expected = statistics.linear_regression([x for x, _ in points], [y for _, y in points])
    assert test.slope == pytest.approx(expected.slope, abs=1e-6)
    assert test.df == len(points) - 2


def test_a_clear_rise_is_improving_and_noise_is_steady() -> None:
    rising = slope_test([(float(x), Moments.of([50 + 8 * x, 52 + 8 * x])) for x in range(6)])
    flat = slope_test([(float(x), Moments.of([70.0 + (-1) ** x * 5, 70.0])) for x in range(6)])
    falling = slope_test([(float(x), Moments.of([90 - 6 * x, 86 - 6 * x])) for x in range(6)])
    assert classify_trends([rising, flat, falling, None]) == [
        "improving",
        "steady",
        "declining",
        None,
    ]


def test_too_few_periods_give_no_trend() -> None:
    assert slope_test([(0.0, Moments.of([50.0, 60.0])), (5.0, Moments.of([90.0, 95.0]))]) is None


def test_benjamini_hochberg_keeps_the_step_up_set() -> None:
    pvalues = [0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216]
    assert benjamini_hochberg(pvalues, 0.05) == [True, True] + [False] * 8
    assert benjamini_hochberg(pvalues, 0.10) == [True] * 6 + [False] * 4


def test_benjamini_yekutieli_divides_the_rate_by_the_harmonic_sum() -> None:
    pvalues = [0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216]
    # 0.10 / (1 + 1/2 + ... + 1/10) = 0.0341: the bar for the second is 0.0068 < 0.008.
    assert benjamini_hochberg(pvalues, 0.10, dependent=True) == [True] + [False] * 9
    assert benjamini_hochberg([], 0.10, dependent=True) == []


@given(st.lists(st.floats(min_value=0, max_value=1), max_size=30))
def test_benjamini_yekutieli_claims_no_more_than_benjamini_hochberg(pvalues: list[float]) -> None:
    dependent = benjamini_hochberg(pvalues, 0.10, dependent=True)
    independent = benjamini_hochberg(pvalues, 0.10)
    assert all(b or not a for a, b in zip(dependent, independent, strict=True))


def test_many_weak_slopes_are_not_all_claimed() -> None:
    # Ten locations each just past the lone one-sided 5 % bar: together, chance explains them.
    weak = SlopeTest(slope=1.0, stderr=1.0 / 1.75, df=30)
    assert 0.05 < weak.p_value() < 0.10
    assert classify_trends([weak]) == ["improving"]
    nulls = [SlopeTest(slope=0.1, stderr=1.0, df=30)] * 30
    assert classify_trends([weak, *nulls]).count("improving") == 0


def ratio_sums(pairs: list[tuple[float, float]]) -> RatioSums:
    sums = RatioSums()
    for y, x in pairs:
        sums.add(y, x)
    return sums


@given(
    st.lists(SCORES, min_size=2, max_size=20),
    st.lists(SCORES, min_size=2, max_size=20),
    st.floats(min_value=1, max_value=50),
)
@example(first=[0.0, 0.0], second=[0.0, 1e-98], possible=1.0)  # its variance underflows
def test_with_equal_denominators_the_ratio_gap_is_welch_s_interval(
    first: list[float], second: list[float], possible: float
) -> None:
    # Every visit with the same points possible: each ratio is a plain mean of y / x.
    difference, low, high = ratio_difference(
        ratio_sums([(y * possible, possible) for y in first]),
        ratio_sums([(y * possible, possible) for y in second]),
    )
    assert difference is not None
    assert difference == pytest.approx(statistics.fmean(first) - statistics.fmean(second))
    va = statistics.variance(first) / len(first)
    vb = statistics.variance(second) / len(second)
    assert low is not None
    assert high is not None
    # The sums' variance (sum of squares less the squared sum) cancels in floating point: an
    # error of a few ulps of the largest square, which a near-zero variance's root magnifies.
    largest = max(map(abs, first + second)) ** 2
    noise = t_critical(1) * math.sqrt(16 * sys.float_info.epsilon * largest)
    spread = va**2 / (len(first) - 1) + vb**2 / (len(second) - 1)
    if spread == 0:  # no spread at all, or one too small to square: at most the widest t
        widest = 2 * t_critical(1) * math.sqrt(va + vb)
        assert high - low == pytest.approx(0.0, abs=1e-6 + 2 * noise + widest)
        return
    df = (va + vb) ** 2 / spread
    half = t_critical(df) * math.sqrt(va + vb)
    assert low == pytest.approx(difference - half, rel=1e-6, abs=1e-6 + noise)
    assert high == pytest.approx(difference + half, rel=1e-6, abs=1e-6 + noise)


def test_the_ratio_is_of_the_sums_and_needs_two_visits_for_an_interval() -> None:
    one = ratio_sums([(50.0, 1.0)])
    two = ratio_sums([(50.0, 1.0), (300.0, 3.0)])
    assert two.ratio == pytest.approx(350.0 / 4.0)
    difference, low, high = ratio_difference(two, one)
    assert difference == pytest.approx(350.0 / 4.0 - 50.0)
    assert (low, high) == (None, None)
    assert ratio_difference(RatioSums(), two) == (None, None, None)
