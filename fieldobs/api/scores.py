"""Scores over time: series, fair rankings, priorities, the walk-through gap, calibration.

The statistics are described in the modules of fieldobs/scores/. Responses are built from the
rollups and returned as JSON directly; the schemas in scores_schemas.py document them. Series
and rankings are kept encoded in the app's caches (fieldobs/scores/cache.py), keyed on the
data version, after the caller's scope has been checked, and carry an ETag: asked again with
If-None-Match, an unchanged answer is a 304.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from flask import Response, current_app, jsonify, request
from flask_smorest import Blueprint

from fieldobs.api.scores_schemas import (
    AreaRankingSchema,
    CalibrationQuerySchema,
    CalibrationSchema,
    GapQuerySchema,
    GapSchema,
    OverallRankingSchema,
    PrioritiesQuerySchema,
    PrioritiesSchema,
    RankingQuerySchema,
    SeriesQuerySchema,
    SeriesSchema,
)
from fieldobs.api.security import allow, current_principal
from fieldobs.db import get_db
from fieldobs.extensions import current_settings
from fieldobs.people.scope import Role
from fieldobs.scores import (
    BodyCache,
    area_priorities,
    area_ranking,
    data_version,
    location_gap,
    location_priorities,
    observer_calibration,
    overall_ranking,
    resolve_at,
    score_caches,
    series_of,
    series_query,
)

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


def _answer(cache: BodyCache, key: Hashable, compute: Callable[[], dict[str, Any]]) -> Response:
    """Answer from the body the app's cache keeps for key (computed when absent), with an ETag."""
    body, etag = cache.get(key, lambda: current_app.json.dumps(compute()).encode())
    response = Response(body, mimetype="application/json")
    response.set_etag(etag)
    # Behind a token: no shared cache may keep it; the browser asks again every time.
    response.cache_control.private = True
    response.cache_control.no_cache = True
    response.make_conditional(request)  # turns itself into a 304 when the ETag matches
    return response


# Instances, not classes: given a class, webargs builds a schema on every request (the hot
# reads below answer in about a millisecond). Loading keeps no state in the schema.
SERIES_QUERY, RANKING_QUERY = SeriesQuerySchema(), RankingQuerySchema()
NOT_MODIFIED = "Not modified: If-None-Match holds the ETag of the current answer."
ETAG = {"ETag": {"description": "Changes whenever the answer does", "schema": {"type": "string"}}}


def _versioned(*parts: Any) -> tuple[Any, ...]:
    """Return a cache key: the parts, then the data version.

    Read before the body is computed, so a body is never older than the version in its key.
    """
    # The caches are the app's own: a copy of this database in another app (tests, restores)
    # shares its identity and version, but never these bodies.
    return (*parts, data_version(get_db()))


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
    key = _versioned("series", *asked.key)
    return _answer(score_caches(db).series, key, lambda: series_of(db, asked))


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
    db = get_db()
    return _answer(
        score_caches(db).rankings,
        key,
        lambda: area_ranking(db, principal, area_id, min_visits=least, **_rename(query)),
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
    db = get_db()
    return _answer(
        score_caches(db).rankings,
        key,
        lambda: overall_ranking(db, current_principal(), min_visits=least, **_rename(query)),
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
