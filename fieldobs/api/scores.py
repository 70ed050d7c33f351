"""Scores over time: series, fair rankings, priorities, the walk-through gap, calibration.

The statistics are described in the modules of fieldobs/scores/. Responses are built from the
rollups and returned as JSON directly; the schemas below document them. Series and rankings are
kept encoded in a cache keyed on the data version (ResponseCache), after the caller's scope has
been checked, and carry an ETag: asked again with If-None-Match, an unchanged answer is a 304.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from flask import Response, current_app, jsonify, request
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from fieldobs.api.security import allow, current_principal
from fieldobs.db import get_db
from fieldobs.extensions import current_settings
from fieldobs.people.scope import Role
from fieldobs.scores import (
    KINDS,
    RANKED_KIND,
    area_priorities,
    area_ranking,
    data_version,
    location_gap,
    location_priorities,
    observer_calibration,
    overall_ranking,
    resolve_at,
    series_of,
    series_query,
)
from fieldobs.stored_integers import StoredInteger

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
    months = StoredInteger(
        validate=validate.Range(min=1, max=120),
        metadata={"description": "Without from: the last N months (default 3)"},
    )
    kind = _kind()
    limit = StoredInteger(validate=validate.Range(min=1, max=200), load_default=10)


class GapQuerySchema(Schema):
    period = _period(("month",))
    first = fields.String(data_key="from", metadata={"description": "First month (YYYY-MM)"})
    last = fields.String(data_key="to", metadata={"description": "Last month; default: current"})


class CalibrationQuerySchema(Schema):
    kind = _kind()
    first = fields.String(data_key="from", metadata={"description": "First month (YYYY-MM)"})
    last = fields.String(data_key="to", metadata={"description": "Last month (YYYY-MM)"})


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


class ResponseCache:
    """Keep the latest JSON bodies of reads, keyed by everything they depend on, with ETags.

    Every key ends with the data version (fieldobs.scores.cache.data_version: bumped by every change
    to the rollups, to locations and to areas), so a stale body is never served. A body is the
    same for every caller allowed to see it: views check the caller's scope first, then ask.
    Each body carries a strong ETag (a hash of its bytes); If-None-Match with it gets a 304.
    """

    def __init__(self, size: int, max_bytes: int = 16 * 1024 * 1024) -> None:
        self.size, self.max_bytes = size, max_bytes
        self._bodies: OrderedDict[Hashable, tuple[bytes, str]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], dict[str, Any]]) -> Response:
        """Answer from the body cached for key, computing and keeping it when absent."""
        with self._lock:
            found = self._bodies.get(key)
            if found is not None:
                self._bodies.move_to_end(key)
        if found is None:
            body = current_app.json.dumps(compute()).encode()
            found = (body, hashlib.blake2b(body, digest_size=16).hexdigest())
            self._keep(key, found)
        body, etag = found
        response = Response(body, mimetype="application/json")
        response.set_etag(etag)
        # Behind a token: no shared cache may keep it; the browser asks again every time.
        response.cache_control.private = True
        response.cache_control.no_cache = True
        response.make_conditional(request)  # turns itself into a 304 when the ETag matches
        return response

    def _keep(self, key: Hashable, entry: tuple[bytes, str]) -> None:
        with self._lock:
            old = self._bodies.pop(key, None)
            self._bytes += len(entry[0]) - (len(old[0]) if old else 0)
            self._bodies[key] = entry
            # Oldest out first, down to the limits; the newest body stays even if it is larger.
            while len(self._bodies) > 1 and (
                len(self._bodies) > self.size or self._bytes > self.max_bytes
            ):
                _, (dropped, _) = self._bodies.popitem(last=False)
                self._bytes -= len(dropped)


# Rankings cost tens of milliseconds; a series about one (the HTTP round trip costs as much).
RANKINGS = ResponseCache(size=32, max_bytes=32 * 1024 * 1024)
SERIES = ResponseCache(size=2048)
# Instances, not classes: given a class, webargs builds a schema on every request (the hot
# reads below answer in about a millisecond). Loading keeps no state in the schema.
SERIES_QUERY, RANKING_QUERY = SeriesQuerySchema(), RankingQuerySchema()
NOT_MODIFIED = "Not modified: If-None-Match holds the ETag of the current answer."
ETAG = {"ETag": {"description": "Changes whenever the answer does", "schema": {"type": "string"}}}


def _versioned(*parts: Any) -> tuple[Any, ...]:
    """Return a cache key: the data directory, the parts, then the data version.

    Read before the body is computed, so a body is never older than the version in its key.
    """
    # The data directory too: copies of one database (tests, restores) share its identity.
    return (str(current_settings().data_dir), *parts, data_version(get_db()))


def _ranking_key(query: dict[str, Any], *scope: Any) -> tuple[Any, ...]:
    principal = current_principal()
    grain = query.get("period", "month")
    areas = None if principal.area_ids is None else tuple(sorted(principal.area_ids))
    at = resolve_at(grain, query.get("at"))
    min_visits = current_settings().ranking_min_visits
    return _versioned("ranking", grain, at, min_visits, areas, *scope)


def _rename(query: dict[str, Any]) -> dict[str, Any]:
    """Turn query arguments into the domain functions' keywords."""
    renamed = dict(query)
    if "period" in renamed:
        renamed["grain"] = renamed.pop("period")
    return renamed


@blp.route("/locations/<int:location_id>/scores", methods=["GET"])
@allow(*LOCATION_READERS)
@blp.arguments(SERIES_QUERY, location="query")
@blp.response(200, SeriesSchema, headers=ETAG)
@blp.alt_response(304, description=NOT_MODIFIED)
def get_series(query: dict[str, Any], location_id: int) -> Response:
    """Return a location's mean score per period, with a 90 % interval and section means."""
    db = get_db()
    # Scope (404) and arguments (422) are checked for this caller before any cached body.
    asked = series_query(db, current_principal(), location_id, **_rename(query))
    return SERIES.get(_versioned("series", *asked.key), lambda: series_of(db, asked))


@blp.route("/areas/<int:area_id>/ranking", methods=["GET"])
@allow(*AREA_READERS)
@blp.arguments(RANKING_QUERY, location="query")
@blp.response(200, AreaRankingSchema, headers=ETAG)
@blp.alt_response(304, description=NOT_MODIFIED)
def get_area_ranking(query: dict[str, Any], area_id: int) -> Response:
    """Rank an area's locations by their adjusted (shrunk) mystery-shop score."""
    principal = current_principal()
    principal.require_area(area_id)
    key = _ranking_key(query, "area", area_id)
    least = current_settings().ranking_min_visits
    return RANKINGS.get(
        key,
        lambda: area_ranking(get_db(), principal, area_id, min_visits=least, **_rename(query)),
    )


@blp.route("/ranking", methods=["GET"])
@allow(*AREA_READERS)
@blp.arguments(RANKING_QUERY, location="query")
@blp.response(200, OverallRankingSchema, headers=ETAG)
@blp.alt_response(304, description=NOT_MODIFIED)
def get_overall_ranking(query: dict[str, Any]) -> Response:
    """Rank every location in the caller's areas (each shrunk toward its own area)."""
    key = _ranking_key(query, "all")
    least = current_settings().ranking_min_visits
    return RANKINGS.get(
        key,
        lambda: overall_ranking(get_db(), current_principal(), min_visits=least, **_rename(query)),
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
