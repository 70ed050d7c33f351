"""Scores over time: series, fair rankings, priorities, the walk-through gap, calibration.

The statistics are described in fieldobs/scores.py. Responses are built from the rollups and
returned as JSON directly; the schemas below document them.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from flask import Response, current_app, jsonify
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from ..db import get_db
from ..rollups import KINDS
from ..scope import Role
from ..scores import (
    RANKED_KIND,
    area_priorities,
    area_ranking,
    data_version,
    location_gap,
    location_priorities,
    location_series,
    observer_calibration,
    overall_ranking,
    resolve_at,
)
from .security import allow, current_principal

blp = Blueprint(
    "scores",
    __name__,
    url_prefix="/api/v1",
    description="Location scores over time: series with 90 % intervals, rankings shrunk toward "
    "the area so one lucky visit does not top the table, trends, priorities and the gap "
    "between managers' walk-throughs and mystery shops.",
)

LOCATION_READERS = (Role.ADMIN, Role.AREA_LEAD, Role.MANAGER)
# Rankings compare locations: the area leads' tool. Managers see their own figures only.
AREA_READERS = (Role.ADMIN, Role.AREA_LEAD)


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
        data_key="from", metadata={"description": "First period; default: a year (26 weeks) back"}
    )
    last = fields.String(data_key="to", metadata={"description": "Last period; default: current"})
    kind = _kind()


class RankingQuerySchema(Schema):
    period = _period(("month",))
    at = fields.String(metadata={"description": "The period ranked (YYYY-MM); default: current"})


class PrioritiesQuerySchema(Schema):
    first = fields.String(data_key="from", metadata={"description": "First month (YYYY-MM)"})
    last = fields.String(data_key="to", metadata={"description": "Last month; default: current"})
    months = fields.Integer(
        validate=validate.Range(min=1, max=120),
        metadata={"description": "Without from: the last N months (default 3)"},
    )
    kind = _kind()
    limit = fields.Integer(validate=validate.Range(min=1, max=200), load_default=10)


class GapQuerySchema(Schema):
    period = _period(("month",))
    first = fields.String(data_key="from", metadata={"description": "First month (YYYY-MM)"})
    last = fields.String(data_key="to", metadata={"description": "Last month; default: current"})


class CalibrationQuerySchema(Schema):
    kind = _kind()
    first = fields.String(data_key="from", metadata={"description": "First month (YYYY-MM)"})
    last = fields.String(data_key="to", metadata={"description": "Last month (YYYY-MM)"})


class SectionMeanSchema(Schema):
    n = fields.Integer()
    mean = fields.Float()


class SeriesPointSchema(Schema):
    period = fields.String()
    n = fields.Integer(metadata={"description": "Visits with a score in the period"})
    mean = fields.Float(allow_none=True)
    low = fields.Float(allow_none=True, metadata={"description": "90 % interval; null if n < 2"})
    high = fields.Float(allow_none=True)
    sections = fields.Dict(keys=fields.String(), values=fields.Nested(SectionMeanSchema))


class SeriesSchema(Schema):
    location_id = fields.Integer()
    kind = fields.String()
    period = fields.String()
    first = fields.String(data_key="from")
    last = fields.String(data_key="to")
    level = fields.Float()
    series = fields.List(fields.Nested(SeriesPointSchema))


class RankedLocationSchema(Schema):
    location_id = fields.Integer()
    name = fields.String()
    area_id = fields.Integer()
    n = fields.Integer()
    mean = fields.Float(allow_none=True)
    low = fields.Float(allow_none=True)
    high = fields.Float(allow_none=True)
    adjusted = fields.Float(allow_none=True, metadata={"description": "Shrunk toward the area"})
    weight = fields.Float(
        metadata={"description": "Share of adjusted from the location's own visits"}
    )
    rank = fields.Integer(allow_none=True)
    delta = fields.Float(allow_none=True, metadata={"description": "adjusted minus last period's"})
    trend = fields.String(allow_none=True, metadata={"description": "improving|declining|steady"})
    slope = fields.Float(allow_none=True, metadata={"description": "Points per period, 6 periods"})


class AreaSummarySchema(Schema):
    area_id = fields.Integer()
    name = fields.String()
    n = fields.Integer()
    mean = fields.Float(allow_none=True)
    within_sd = fields.Float(allow_none=True)
    between_sd = fields.Float(allow_none=True)
    locations_with_visits = fields.Integer()


class AreaRankingSchema(Schema):
    area_id = fields.Integer()
    period = fields.String()
    grain = fields.String()
    level = fields.Float()
    area = fields.Nested(AreaSummarySchema)
    locations = fields.List(fields.Nested(RankedLocationSchema))


class OverallRankingSchema(Schema):
    period = fields.String()
    grain = fields.String()
    level = fields.Float()
    areas = fields.List(fields.Nested(AreaSummarySchema))
    locations = fields.List(fields.Nested(RankedLocationSchema))


class PrioritySchema(Schema):
    item = fields.String()
    section = fields.String()
    section_title = fields.String(allow_none=True)
    prompt = fields.String(allow_none=True)
    critical = fields.Boolean()
    n = fields.Integer(metadata={"description": "Visits where the item applied"})
    times_short = fields.Integer(metadata={"description": "Visits where it lost points"})
    frequency = fields.Float(allow_none=True)
    points_lost = fields.Float(metadata={"description": "Checklist points lost, in total"})
    impact = fields.Float(metadata={"description": "Score points it costs per visit, on average"})


class PrioritiesSchema(Schema):
    location_id = fields.Integer()
    area_id = fields.Integer()
    kind = fields.String()
    first = fields.String(data_key="from")
    last = fields.String(data_key="to")
    n = fields.Integer()
    mean = fields.Float(allow_none=True)
    lost = fields.Float(allow_none=True, metadata={"description": "100 - mean: the sum of impacts"})
    items = fields.List(fields.Nested(PrioritySchema))


class GapSideSchema(Schema):
    n = fields.Integer()
    mean = fields.Float(allow_none=True)
    sections = fields.Dict(keys=fields.String(), values=fields.Float(allow_none=True))


class GapPointSchema(Schema):
    period = fields.String()
    walkthrough = fields.Nested(GapSideSchema)
    mystery_shop = fields.Nested(GapSideSchema)
    gap = fields.Float(allow_none=True, metadata={"description": "walkthrough - mystery_shop"})


class GapSchema(Schema):
    location_id = fields.Integer()
    period = fields.String()
    items = fields.List(fields.String())
    series = fields.List(fields.Nested(GapPointSchema))


class ObserverSchema(Schema):
    observer_id = fields.Integer()
    username = fields.String()
    name = fields.String()
    n = fields.Integer()
    cells = fields.Integer()
    deviation = fields.Float(allow_none=True)
    low = fields.Float(allow_none=True)
    high = fields.Float(allow_none=True)
    tendency = fields.String(allow_none=True)


class CalibrationSchema(Schema):
    kind = fields.String()
    period = fields.String()
    level = fields.Float()
    observers = fields.List(fields.Nested(ObserverSchema))


class ResponseCache:
    """Keep the latest JSON bodies of expensive reads, keyed by everything they depend on.

    Rankings change only when visits start or stop counting or locations change, and a table
    of two thousand locations costs tens of milliseconds to compute and encode: the key holds
    the data version (fieldobs.scores.data_version), so a stale body is never served.
    """

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._bodies: OrderedDict[Hashable, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], dict[str, Any]]) -> Response:
        """Return the cached body for key, computing and keeping it when absent."""
        with self._lock:
            body = self._bodies.get(key)
            if body is not None:
                self._bodies.move_to_end(key)
        if body is None:
            body = current_app.json.dumps(compute()).encode()
            with self._lock:
                self._bodies[key] = body
                while len(self._bodies) > self.size:
                    self._bodies.popitem(last=False)
        return Response(body, mimetype="application/json")


RANKINGS = ResponseCache()


def _ranking_key(query: dict[str, Any], *scope: Any) -> tuple[Any, ...]:
    principal = current_principal()
    grain = query.get("period", "month")
    areas = None if principal.area_ids is None else tuple(sorted(principal.area_ids))
    # The data directory too: copies of one database (tests, restores) share its identity.
    where = current_app.config["DATA_DIR"]
    at = resolve_at(grain, query.get("at"))
    return (where, grain, at, areas, *scope, data_version(get_db()))


def _rename(query: dict[str, Any]) -> dict[str, Any]:
    """Turn query arguments into the domain functions' keywords."""
    renamed = dict(query)
    if "period" in renamed:
        renamed["grain"] = renamed.pop("period")
    return renamed


@blp.route("/locations/<int:location_id>/scores", methods=["GET"])
@allow(*LOCATION_READERS)
@blp.arguments(SeriesQuerySchema, location="query")
@blp.response(200, SeriesSchema)
def get_series(query: dict[str, Any], location_id: int) -> Response:
    """Return a location's mean score per period, with a 90 % interval and section means."""
    return jsonify(location_series(get_db(), current_principal(), location_id, **_rename(query)))


@blp.route("/areas/<int:area_id>/ranking", methods=["GET"])
@allow(*AREA_READERS)
@blp.arguments(RankingQuerySchema, location="query")
@blp.response(200, AreaRankingSchema)
def get_area_ranking(query: dict[str, Any], area_id: int) -> Response:
    """Rank an area's locations by their adjusted (shrunk) mystery-shop score."""
    principal = current_principal()
    principal.require_area(area_id)
    key = _ranking_key(query, "area", area_id)
    return RANKINGS.get(key, lambda: area_ranking(get_db(), principal, area_id, **_rename(query)))


@blp.route("/ranking", methods=["GET"])
@allow(*AREA_READERS)
@blp.arguments(RankingQuerySchema, location="query")
@blp.response(200, OverallRankingSchema)
def get_overall_ranking(query: dict[str, Any]) -> Response:
    """Rank every location in the caller's areas (each shrunk toward its own area)."""
    key = _ranking_key(query, "all")
    return RANKINGS.get(
        key, lambda: overall_ranking(get_db(), current_principal(), **_rename(query))
    )


@blp.route("/locations/<int:location_id>/priorities", methods=["GET"])
@allow(*LOCATION_READERS)
@blp.arguments(PrioritiesQuerySchema, location="query")
@blp.response(200, PrioritiesSchema)
def get_location_priorities(query: dict[str, Any], location_id: int) -> Response:
    """Return the checklist items that cost this location the most score points."""
    return jsonify(location_priorities(get_db(), current_principal(), location_id, **query))


@blp.route("/areas/<int:area_id>/priorities", methods=["GET"])
@allow(*AREA_READERS)
@blp.arguments(PrioritiesQuerySchema, location="query")
@blp.response(200, PrioritiesSchema)
def get_area_priorities(query: dict[str, Any], area_id: int) -> Response:
    """Return the checklist items that cost this area's locations the most score points."""
    return jsonify(area_priorities(get_db(), current_principal(), area_id, **query))


@blp.route("/locations/<int:location_id>/gap", methods=["GET"])
@allow(*LOCATION_READERS)
@blp.arguments(GapQuerySchema, location="query")
@blp.response(200, GapSchema)
def get_gap(query: dict[str, Any], location_id: int) -> Response:
    """Compare managers' walk-throughs with mystery shops per month on the shared items."""
    query.pop("period", None)
    return jsonify(location_gap(get_db(), current_principal(), location_id, **query))


@blp.route("/observers/calibration", methods=["GET"])
@allow(Role.ADMIN)
@blp.arguments(CalibrationQuerySchema, location="query")
@blp.response(200, CalibrationSchema)
def get_calibration(query: dict[str, Any]) -> Response:
    """Return each observer's mean deviation from other observers at the same place and month."""
    return jsonify(observer_calibration(get_db(), **query))
