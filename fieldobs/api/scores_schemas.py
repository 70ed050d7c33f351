"""The schemas of the score reads (fieldobs/api/scores.py): their queries and their answers."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from fieldobs.scores import KINDS, RANKED_KIND
from fieldobs.stored_integers import StoredInteger

# Declared so that clients (and schemathesis) know the shape: `2026-02`, or `2026-W07` for weeks.
YEAR = "([1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])"  # year 0 does not exist
MONTH_PATTERN = f"^{YEAR}-(0[1-9]|1[0-2])$"
PERIOD_PATTERN = f"^{YEAR}-(W(0[1-9]|[1-4][0-9]|5[0-3])|0[1-9]|1[0-2])$"


def _kind() -> fields.String:
    return fields.String(
        validate=validate.OneOf(KINDS),
        load_default=RANKED_KIND,
        metadata={"description": "mystery_shop (default) or walkthrough; never mixed"},
    )


def _period(choices: tuple[str, ...] = ("week", "month")) -> fields.String:
    described = {
        ("week", "month"): "week (ISO, 2026-W07) or month (2026-02), in the location's time",
        ("month",): "month (2026-02), in the location's time; the only one offered here",
    }
    return fields.String(
        validate=validate.OneOf(choices),
        load_default="month",
        metadata={"description": described[choices]},
    )


class SeriesQuerySchema(Schema):
    period = _period()
    first = fields.String(
        data_key="from",
        metadata={
            "description": "First period; default: a year (26 weeks) back",
            "pattern": PERIOD_PATTERN,
        },
    )
    last = fields.String(
        data_key="to",
        metadata={"description": "Last period; default: current", "pattern": PERIOD_PATTERN},
    )
    kind = _kind()


class RankingQuerySchema(Schema):
    period = _period(("month",))
    at = fields.String(
        metadata={
            "description": "The period ranked (YYYY-MM); default: current",
            "pattern": MONTH_PATTERN,
        },
    )


class PrioritiesQuerySchema(Schema):
    first = fields.String(
        data_key="from", metadata={"description": "First month (YYYY-MM)", "pattern": MONTH_PATTERN}
    )
    last = fields.String(
        data_key="to",
        metadata={"description": "Last month; default: current", "pattern": MONTH_PATTERN},
    )
    months = StoredInteger(
        validate=validate.Range(min=1, max=120),
        metadata={"description": "Without from: the last N months (default 3)"},
    )
    kind = _kind()
    limit = StoredInteger(validate=validate.Range(min=1, max=200), load_default=10)


class GapQuerySchema(Schema):
    period = _period(("month",))
    first = fields.String(
        data_key="from", metadata={"description": "First month (YYYY-MM)", "pattern": MONTH_PATTERN}
    )
    last = fields.String(
        data_key="to",
        metadata={"description": "Last month; default: current", "pattern": MONTH_PATTERN},
    )


class CalibrationQuerySchema(Schema):
    kind = _kind()
    first = fields.String(
        data_key="from", metadata={"description": "First month (YYYY-MM)", "pattern": MONTH_PATTERN}
    )
    last = fields.String(
        data_key="to", metadata={"description": "Last month (YYYY-MM)", "pattern": MONTH_PATTERN}
    )


class SectionMeanSchema(Schema):
    n = StoredInteger()
    mean = fields.Float()


class SeriesPointSchema(Schema):
    period = fields.String()
    n = StoredInteger(metadata={"description": "Visits with a score in the period"})
    mean = fields.Float(allow_none=True)
    low = fields.Float(allow_none=True, metadata={"description": "90 % interval; null if n < 2"})
    high = fields.Float(allow_none=True)
    sections = fields.Dict(keys=fields.String(), values=fields.Nested(SectionMeanSchema))


class SeriesSchema(Schema):
    location_id = StoredInteger()
    kind = fields.String()
    period = fields.String()
    first = fields.String(data_key="from")
    last = fields.String(data_key="to")
    level = fields.Float()
    series = fields.List(fields.Nested(SeriesPointSchema))


class RankedLocationSchema(Schema):
    location_id = StoredInteger()
    name = fields.String()
    area_id = StoredInteger()
    n = StoredInteger()
    mean = fields.Float(allow_none=True)
    low = fields.Float(allow_none=True)
    high = fields.Float(allow_none=True)
    adjusted = fields.Float(allow_none=True, metadata={"description": "Shrunk toward the area"})
    weight = fields.Float(
        metadata={"description": "Share of adjusted from the location's own visits"}
    )
    rank = StoredInteger(
        allow_none=True,
        metadata={
            "description": "Position by adjusted; 1 for every location tied for the top;"
            " null when unranked"
        },
    )
    rank_low = StoredInteger(
        allow_none=True,
        metadata={"description": "90 % interval of the rank under the posterior: best end"},
    )
    rank_high = StoredInteger(allow_none=True, metadata={"description": "... and worst end"})
    tied_for_top = fields.Boolean(
        metadata={"description": "Its rank range reaches 1: cannot be told apart from the top"}
    )
    unranked = fields.String(
        allow_none=True,
        validate=validate.OneOf(["not_enough_visits", "no_visits"]),
        metadata={
            "description": "Why there is no rank: not_enough_visits (fewer than min_visits"
            " this month) or no_visits; null when ranked"
        },
    )
    delta = fields.Float(allow_none=True, metadata={"description": "adjusted minus last period's"})
    trend = fields.String(allow_none=True, metadata={"description": "improving|declining|steady"})
    slope = fields.Float(allow_none=True, metadata={"description": "Points per period, 6 periods"})


class AreaSummarySchema(Schema):
    area_id = StoredInteger()
    name = fields.String()
    n = StoredInteger()
    mean = fields.Float(allow_none=True)
    within_sd = fields.Float(allow_none=True)
    between_sd = fields.Float(allow_none=True)
    locations_with_visits = StoredInteger()


class AreaRankingSchema(Schema):
    area_id = StoredInteger()
    period = fields.String()
    grain = fields.String()
    level = fields.Float()
    min_visits = StoredInteger(metadata={"description": "Visits a location needs to be ranked"})
    area = fields.Nested(AreaSummarySchema)
    locations = fields.List(fields.Nested(RankedLocationSchema))


class OverallRankingSchema(Schema):
    period = fields.String()
    grain = fields.String()
    level = fields.Float()
    min_visits = StoredInteger(metadata={"description": "Visits a location needs to be ranked"})
    areas = fields.List(fields.Nested(AreaSummarySchema))
    locations = fields.List(fields.Nested(RankedLocationSchema))


class PrioritySchema(Schema):
    item = fields.String()
    section = fields.String()
    section_title = fields.String(allow_none=True)
    prompt = fields.String(allow_none=True)
    critical = fields.Boolean()
    n = StoredInteger(metadata={"description": "Visits where the item applied"})
    times_short = StoredInteger(metadata={"description": "Visits where it lost points"})
    frequency = fields.Float(allow_none=True)
    points_lost = fields.Float(metadata={"description": "Checklist points lost, in total"})
    impact = fields.Float(metadata={"description": "Score points it costs per visit, on average"})


class PrioritiesSchema(Schema):
    location_id = StoredInteger()
    area_id = StoredInteger()
    kind = fields.String()
    first = fields.String(data_key="from")
    last = fields.String(data_key="to")
    n = StoredInteger()
    mean = fields.Float(allow_none=True)
    lost = fields.Float(allow_none=True, metadata={"description": "100 - mean: the sum of impacts"})
    items = fields.List(fields.Nested(PrioritySchema))


class GapSideSchema(Schema):
    n = StoredInteger(metadata={"description": "Visits with an applicable shared item"})
    mean = fields.Float(
        allow_none=True, metadata={"description": "Share of the shared items' points earned"}
    )
    low = fields.Float(allow_none=True, metadata={"description": "90 % interval; null if n < 2"})
    high = fields.Float(allow_none=True)
    sections = fields.Dict(keys=fields.String(), values=fields.Float(allow_none=True))


class GapPointSchema(Schema):
    period = fields.String()
    walkthrough = fields.Nested(GapSideSchema)
    mystery_shop = fields.Nested(GapSideSchema)
    gap = fields.Float(allow_none=True, metadata={"description": "walkthrough - mystery_shop"})
    low = fields.Float(
        allow_none=True,
        metadata={"description": "90 % interval of the gap (Welch); null if a side has n < 2"},
    )
    high = fields.Float(allow_none=True)


class GapSchema(Schema):
    location_id = StoredInteger()
    period = fields.String()
    level = fields.Float()
    items = fields.List(fields.String())
    series = fields.List(fields.Nested(GapPointSchema))


class ObserverSchema(Schema):
    observer_id = StoredInteger()
    username = fields.String()
    name = fields.String()
    n = StoredInteger()
    cells = StoredInteger()
    deviation = fields.Float(
        allow_none=True,
        metadata={"description": "Mean of its cells' deviations from the other observers"},
    )
    low = fields.Float(allow_none=True, metadata={"description": "90 % interval; null < 2 cells"})
    high = fields.Float(allow_none=True)
    p_value = fields.Float(
        allow_none=True, metadata={"description": "Two-sided t test of no deviation, uncorrected"}
    )
    tendency = fields.String(
        allow_none=True,
        metadata={
            "description": "lenient|harsh|in_line, lenient or harsh only when kept at the false"
            " discovery rate over all observers compared; null below 2 cells"
        },
    )


class CalibrationSchema(Schema):
    kind = fields.String()
    period = fields.String()
    level = fields.Float()
    false_discovery_rate = fields.Float(
        metadata={"description": "Of the lenient and harsh labels, the share allowed false"}
    )
    observers = fields.List(fields.Nested(ObserverSchema))
