"""Pure statistics for scores: moments, t-intervals, empirical-Bayes shrinkage, trend tests.

Everything works from counts, sums and sums of squares, so rollup rows are enough: no visit is
read twice. No numpy: the t distribution comes from the regularised incomplete beta function.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist
from typing import NamedTuple

LEVEL = 0.90  # the two-sided level of every interval the service reports


@dataclass(slots=True)
class Moments:
    """A group of scores summarised by count, sum and sum of squares (treat as a value)."""

    n: int = 0
    total: float = 0.0
    total_sq: float = 0.0

    def __add__(self, other: Moments) -> Moments:
        return Moments(self.n + other.n, self.total + other.total, self.total_sq + other.total_sq)

    @classmethod
    def of(cls, values: Sequence[float]) -> Moments:
        """Summarise a list of values."""
        return cls(len(values), math.fsum(values), math.fsum(v * v for v in values))

    @property
    def mean(self) -> float | None:
        """Return the mean, None when empty."""
        return self.total / self.n if self.n > 0 else None

    @property
    def squares(self) -> float:
        """Return the sum of squared deviations from the mean (never negative)."""
        if self.n < 2:
            return 0.0
        # Rounding in incrementally maintained sums can push this a hair below zero.
        return max(0.0, self.total_sq - self.total * self.total / self.n)

    @property
    def variance(self) -> float | None:
        """Return the sample variance, None with fewer than two values."""
        return self.squares / (self.n - 1) if self.n >= 2 else None


# --- the t distribution ---------------------------------------------------------------------


def _beta_fraction(a: float, b: float, x: float) -> float:
    """Evaluate the continued fraction of the incomplete beta function (modified Lentz)."""
    tiny, eps = 1e-300, 1e-15
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        step = d * c
        h *= step
        if abs(step - 1.0) < eps:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """Return the regularised incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_fraction(b, a, 1.0 - x) / b


def t_two_sided_p(t: float, df: float) -> float:
    """Return P(|T| >= |t|) for Student's t with df degrees of freedom."""
    if math.isinf(t):
        return 0.0
    return betainc(df / 2.0, 0.5, df / (df + t * t))


@lru_cache(maxsize=4096)
def t_quantile(p: float, df: float) -> float:
    """Return t such that P(T <= t) = p (cached).

    Newton's method on the upper tail from a Cornish-Fisher start, inside a bracket that every
    step narrows (bisecting whenever Newton would leave it): robust for every df, and about five
    incomplete beta evaluations where bisection took forty. A fresh worker's first ranking
    needs some sixty of these.
    """
    if not 0.0 < p < 1.0 or df <= 0:
        raise ValueError("need 0 < p < 1 and df > 0")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    if p == 0.5:
        return 0.0
    tail = 1.0 - p
    low, high = 0.0, 2.0
    while t_two_sided_p(high, df) / 2.0 > tail:
        low, high = high, high * 2.0
    z = NormalDist().inv_cdf(p)
    start = z + (z**3 + z) / (4.0 * df) + (5.0 * z**5 + 16.0 * z**3 + 3.0 * z) / (96.0 * df * df)
    t = start if low < start < high else (low + high) / 2.0
    log_scale = math.lgamma((df + 1.0) / 2.0) - math.lgamma(df / 2.0) - math.log(df * math.pi) / 2
    for _ in range(200):
        excess = t_two_sided_p(t, df) / 2.0 - tail  # above zero: t is still too small
        if excess > 0:
            low = t
        else:
            high = t
        density = math.exp(log_scale - (df + 1.0) / 2.0 * math.log1p(t * t / df))
        following = t + excess / density
        if not low < following < high:
            following = (low + high) / 2.0
        if abs(following - t) <= 1e-13 * max(1.0, t):
            return following
        t = following
    return t


def t_critical(df: float, level: float = LEVEL) -> float:
    """Return the two-sided critical value of a `level` interval."""
    return t_quantile(0.5 + level / 2.0, df)


# --- intervals ------------------------------------------------------------------------------


def mean_interval(
    moments: Moments, level: float = LEVEL, lower: float = 0.0, upper: float = 100.0
) -> tuple[float | None, float | None]:
    """Return the t-interval of the mean clipped to [lower, upper]; (None, None) when n < 2."""
    mean, variance = moments.mean, moments.variance
    if mean is None or variance is None:
        return None, None
    half = t_critical(moments.n - 1, level) * math.sqrt(variance / moments.n)
    return max(lower, mean - half), min(upper, mean + half)


@dataclass(slots=True)
class RatioSums:
    """Units (visits) each with a y and an x, for the ratio of sums sum(y) / sum(x)."""

    n: int = 0
    sy: float = 0.0
    sx: float = 0.0
    syy: float = 0.0
    sxx: float = 0.0
    sxy: float = 0.0

    def add(self, y: float, x: float) -> None:
        """Count one unit."""
        self.n += 1
        self.sy, self.sx = self.sy + y, self.sx + x
        self.syy, self.sxx, self.sxy = self.syy + y * y, self.sxx + x * x, self.sxy + x * y

    @property
    def ratio(self) -> float | None:
        """Return sum(y) / sum(x), None when sum(x) is not positive."""
        return self.sy / self.sx if self.sx > 0 else None

    def variance(self) -> float | None:
        """Return the ratio's variance by linearisation: s^2(y - R x) / (n x_mean^2); n >= 2."""
        ratio = self.ratio
        if ratio is None or self.n < 2:
            return None
        residual = max(0.0, self.syy - 2 * ratio * self.sxy + ratio * ratio * self.sxx)
        return residual / (self.n - 1) / (self.n * (self.sx / self.n) ** 2)


def ratio_difference(
    a: RatioSums, b: RatioSums, level: float = LEVEL
) -> tuple[float | None, float | None, float | None]:
    """Return a's ratio minus b's with a Welch t-interval; no interval below 2 units a side."""
    first, second = a.ratio, b.ratio
    if first is None or second is None:
        return None, None, None
    difference, va, vb = first - second, a.variance(), b.variance()
    if va is None or vb is None:
        return difference, None, None
    if va + vb <= 0.0:
        return difference, difference, difference
    # Welch-Satterthwaite degrees of freedom, which lie between these (tiny variances underflow).
    fewest, most = min(a.n, b.n) - 1, a.n + b.n - 2
    spread = va * va / (a.n - 1) + vb * vb / (b.n - 1)
    df = min(most, max(fewest, (va + vb) ** 2 / spread)) if spread > 0 else most
    half = t_critical(df, level) * math.sqrt(va + vb)
    return difference, difference - half, difference + half


# --- empirical-Bayes shrinkage --------------------------------------------------------------


@dataclass(frozen=True)
class Shrinkage:
    """What the data say about a set of groups: their mean, and the spread within and between.

    `within` is sigma^2 (the variance of single visits around their location's own level) and
    `between` is tau^2 (the variance of the locations' true levels); `between` may be <= 0 when
    the groups differ no more than chance alone would make them.
    """

    grand_mean: float
    within: float | None
    within_df: int
    between: float | None
    groups: int
    count: int

    def weight(self, n: int) -> float:
        """Return how much a group of n values counts against the grand mean (0..1)."""
        if n <= 0 or self.between is None or self.between <= 0 or self.within is None:
            return 0.0
        return self.between / (self.between + self.within / n)

    def adjust(self, moments: Moments) -> float | None:
        """Shrink a group's mean toward the grand mean, by its weight."""
        if moments.mean is None:
            return None
        weight = self.weight(moments.n)
        return weight * moments.mean + (1.0 - weight) * self.grand_mean


def pooled_within(groups: Sequence[Moments]) -> tuple[float, int]:
    """Return the within-group sum of squares and its degrees of freedom."""
    squares = math.fsum(g.squares for g in groups if g.n >= 2)
    return squares, sum(g.n - 1 for g in groups if g.n >= 1)


def estimate_shrinkage(
    groups: Sequence[Moments],
    *,
    fallback_within: tuple[float, int] | None = None,
    min_within_df: int = 10,
) -> Shrinkage | None:
    """Estimate sigma^2 and tau^2 by the method of moments (one-way ANOVA, unbalanced).

    sigma^2 = pooled within-group variance (MSW); tau^2 = (MSB - MSW) / n0 with
    n0 = (N - sum n_i^2 / N) / (k - 1). When the groups give fewer than `min_within_df`
    degrees of freedom within, `fallback_within` (sum of squares, df) from a longer window is
    used instead. Returns None when no group has a value.
    """
    used = [g for g in groups if g.n > 0]
    if not used:
        return None
    count = sum(g.n for g in used)
    grand = math.fsum(g.total for g in used) / count
    squares, df = pooled_within(used)
    if df < min_within_df and fallback_within is not None and fallback_within[1] > df:
        squares, df = fallback_within
    within = squares / df if df > 0 else None
    between: float | None = None
    k = len(used)
    if k >= 2 and within is not None:
        between_squares = math.fsum(g.n * ((g.total / g.n) - grand) ** 2 for g in used)
        n0 = (count - sum(g.n * g.n for g in used) / count) / (k - 1)
        between = (between_squares / (k - 1) - within) / n0 if n0 > 0 else None
    return Shrinkage(grand, within, df, between, k, count)


# --- trend ----------------------------------------------------------------------------------


class SlopeTest(NamedTuple):
    """Least-squares slope of scores against the period number, with its t statistic."""

    # A named tuple: a ranking makes one per location, and a tuple is the cheapest to make.
    slope: float
    stderr: float
    df: int

    @property
    def t(self) -> float:
        """Return the t statistic of the slope (infinite for a perfect non-flat line)."""
        if self.stderr == 0.0:
            return 0.0 if self.slope == 0 else math.copysign(math.inf, self.slope)
        return self.slope / self.stderr

    def p_value(self) -> float:
        """Return the two-sided p-value of "no change"."""
        return t_two_sided_p(self.t, self.df)


@dataclass(slots=True)
class TrendSums:
    """Sums over the visits of a run of periods, each visit at its period's number x."""

    count: int = 0  # visits
    periods: int = 0  # periods with at least one visit
    sx: float = 0.0
    sxx: float = 0.0
    sy: float = 0.0
    sxy: float = 0.0
    syy: float = 0.0

    @classmethod
    def of(cls, periods: Sequence[tuple[float, Moments]]) -> TrendSums:
        """Sum per-period moments."""
        sums = cls()
        for x, m in periods:
            if m.n > 0:
                sums.count += m.n
                sums.periods += 1
                sums.sx += m.n * x
                sums.sxx += m.n * x * x
                sums.sy += m.total
                sums.sxy += m.total * x
                sums.syy += m.total_sq
        return sums


def slope_from_sums(sums: TrendSums, min_periods: int = 3) -> SlopeTest | None:
    """Return the exact least-squares slope over the individual visits, with its t test.

    None when fewer than `min_periods` periods have visits or there are fewer than 4 visits.
    """
    count = sums.count
    if sums.periods < min_periods or count < 4:
        return None
    sxx = sums.sxx - sums.sx * sums.sx / count
    if sxx <= 1e-12:
        return None
    sxy = sums.sxy - sums.sx * sums.sy / count
    syy = max(0.0, sums.syy - sums.sy * sums.sy / count)
    slope = sxy / sxx
    df = count - 2
    residual = max(0.0, syy - slope * sxy)
    return SlopeTest(slope, math.sqrt(residual / df / sxx), df)


def benjamini_hochberg(
    pvalues: Sequence[float], q: float, *, dependent: bool = False
) -> list[bool]:
    """Return which p-values are discoveries at false discovery rate q.

    With `dependent`, the Benjamini-Yekutieli step-up (q divided by 1 + 1/2 + ... + 1/m),
    which holds the rate under any dependence between the tests, not only independence.
    """
    m = len(pvalues)
    if dependent and m > 0:
        q /= math.fsum(1.0 / i for i in range(1, m + 1))
    order = sorted(range(m), key=lambda i: pvalues[i])
    cutoff = 0
    for rank, index in enumerate(order, start=1):
        if pvalues[index] <= q * rank / m:
            cutoff = rank
    chosen = set(order[:cutoff])
    return [i in chosen for i in range(m)]


def classify_trends(tests: Sequence[SlopeTest | None], level: float = LEVEL) -> list[str | None]:
    """Call each slope improving, declining or steady, controlling false claims across the set.

    A slope is a change only when Benjamini-Hochberg at false discovery rate 1 - level keeps
    it; alone, that is the one-sided test at (1 - level) / 2 in the slope's direction. None
    where there was too little data to test.
    """
    q = 1.0 - level
    # A p-value above q is never a discovery: skip the incomplete beta for those (most).
    pvalues = [
        1.0 if test is None or abs(test.t) < t_quantile(1.0 - q / 2.0, test.df) else test.p_value()
        for test in tests
    ]
    found = benjamini_hochberg(pvalues, q)
    calls: list[str | None] = []
    for test, change in zip(tests, found, strict=True):
        if test is None:
            calls.append(None)
        elif change:
            calls.append("improving" if test.slope > 0 else "declining")
        else:
            calls.append("steady")
    return calls
