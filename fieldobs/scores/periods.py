"""Periods: local ISO weeks and calendar months, their arithmetic, and period arguments."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from fieldobs.errors import Invalid
from fieldobs.timeutil import parse_rfc3339, utcnow

PERIOD_PATTERNS = {
    "week": re.compile(r"^(\d{4})-W(\d{2})$"),
    "month": re.compile(r"^(\d{4})-(\d{2})$"),
}
PERIOD_EXAMPLES = {"week": "2026-W07", "month": "2026-02"}
DEFAULT_SPAN = {"week": 26, "month": 12}
MAX_SPAN = {"week": 520, "month": 120}


@lru_cache(maxsize=1024)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def period_keys(observed_at: str, timezone: str) -> tuple[str, str]:
    """Return the local ISO week and calendar month of a UTC timestamp, e.g. 2026-W07, 2026-02."""
    return local_periods(parse_rfc3339(observed_at), timezone)


def local_periods(moment: datetime, timezone: str) -> tuple[str, str]:
    """Return the local ISO week and month of an aware datetime."""
    local = moment.astimezone(_zone(timezone))
    year, week, _ = local.isocalendar()
    return f"{year:04d}-W{week:02d}", f"{local.year:04d}-{local.month:02d}"


def current_period(grain: str, timezone: str, now: datetime) -> str:
    """Return the period a moment falls in at a time zone."""
    week, month = local_periods(now, timezone)
    return week if grain == "week" else month


def period_start(grain: str, period: str) -> date:
    """Return the first day of a period; ValueError when it is not one."""
    match = PERIOD_PATTERNS[grain].match(period)
    if match is None:
        raise ValueError(f"not a {grain}: {period!r} (e.g. {PERIOD_EXAMPLES[grain]})")
    year, number = int(match.group(1)), int(match.group(2))
    if grain == "week":
        return date.fromisocalendar(year, number, 1)
    return date(year, number, 1)


def period_of(grain: str, day: date) -> str:
    """Return the period containing a day."""
    if grain == "week":
        year, week, _ = day.isocalendar()
        return f"{year:04d}-W{week:02d}"
    return f"{day.year:04d}-{day.month:02d}"


def shift_period(grain: str, period: str, steps: int) -> str:
    """Return the period `steps` after (or, negative, before) another."""
    start = period_start(grain, period)
    if grain == "week":
        return period_of(grain, start + timedelta(weeks=steps))
    months = start.year * 12 + start.month - 1 + steps
    return f"{months // 12:04d}-{months % 12 + 1:02d}"


def period_span(grain: str, first: str, last: str) -> list[str]:
    """Return every period from first to last inclusive, in order (empty when last < first)."""
    # Both ends parsed once, then counted on: a series asks for up to 520 periods per request.
    start, end = period_start(grain, first), period_start(grain, last)
    if grain == "week":
        weeks = (end - start).days // 7 + 1
        return [period_of(grain, start + timedelta(weeks=k)) for k in range(weeks)]
    low = start.year * 12 + start.month - 1
    high = end.year * 12 + end.month - 1
    return [f"{index // 12:04d}-{index % 12 + 1:02d}" for index in range(low, high + 1)]


def month_shift(month: str, steps: int) -> str:
    """Return the month `steps` after another, fast (no date parsing)."""
    index = int(month[:4]) * 12 + int(month[5:7]) - 1 + steps
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


# --- period arguments ------------------------------------------------------------------------


def check_period(grain: str, value: str, field: str) -> str:
    """Return a period argument, or raise 422 naming the field."""
    try:
        period_start(grain, value)
    except ValueError as error:
        raise Invalid(f"{field} is not a {grain}.", fields={field: [str(error)]}) from error
    return value


def period_range(
    grain: str,
    first: str | None,
    last: str | None,
    *,
    timezone: str,
    default_span: int,
    now: datetime | None = None,
) -> list[str]:
    """Return the periods from..to; missing ends default to the current period and a span."""
    if last is not None:
        last = check_period(grain, last, "to")
    if first is not None:
        first = check_period(grain, first, "from")
    if last is None:
        last = current_period(grain, timezone, now or utcnow())
        if first is not None and first > last:
            last = first
    if first is None:
        first = shift_period(grain, last, 1 - default_span)
    if first > last:
        raise Invalid("from is after to.", fields={"from": ["must not be after to"]})
    # Checked before listing them: a range of centuries must not cost a loop of centuries.
    start, end = period_start(grain, first), period_start(grain, last)
    if grain == "week":
        count = (end - start).days // 7 + 1
    else:
        count = (end.year - start.year) * 12 + end.month - start.month + 1
    if count > MAX_SPAN[grain]:
        raise Invalid(
            f"At most {MAX_SPAN[grain]} periods at once.",
            fields={"from": [f"at most {MAX_SPAN[grain]} {grain}s before to"]},
        )
    return period_span(grain, first, last)


def resolve_at(grain: str, at: str | None, now: datetime | None = None) -> str:
    """Return the ranked period: `at` checked, or the current month (UTC)."""
    if at is None:
        return current_period(grain, "UTC", now or utcnow())
    return check_period(grain, at, "at")
