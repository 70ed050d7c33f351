"""CSV exports: the caller's view, Excel-friendly, formula cells neutralised, streamed."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from fieldobs.exports.csv_export import neutralise
from tests.helpers.console_world import EVIL_STORE, World


def _rows(data: bytes) -> list[dict[str, str]]:
    assert data.startswith("\ufeff".encode())
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("=1+1", "'=1+1"),
        ("+44 20", "'+44 20"),
        ("-3", "'-3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("Leeds", "Leeds"),
        (-3, -3),
        (None, None),
    ],
)
def test_formula_like_cells_are_neutralised(value: object, shown: object) -> None:
    assert neutralise(value) == shown


def test_admin_export_has_every_visit_and_section_columns(web_app: Flask, world: World) -> None:
    response = web_app.test_client().get(
        "/api/v1/exports/visits.csv", headers=world.org.auth("admin")
    )
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    rows = _rows(response.data)
    ids = {row["visit_id"] for row in rows}
    assert {world.unreleased, world.released_with_photos, world.walkthrough} <= ids
    photo_row = next(r for r in rows if r["visit_id"] == world.released_with_photos)
    assert photo_row["photos"] == "2"
    assert photo_row["observer"] == "shopper"
    assert "section:greeting" in photo_row


def test_store_name_that_is_a_formula_does_not_run(web_app: Flask, world: World) -> None:
    response = web_app.test_client().get(
        "/api/v1/exports/visits.csv",
        query_string={"location_id": world.evil_store},
        headers=world.org.auth("admin"),
    )
    (row,) = _rows(response.data)
    assert row["store"] == "'" + EVIL_STORE


def test_manager_export_follows_their_view(web_app: Flask, world: World) -> None:
    response = web_app.test_client().get(
        "/api/v1/exports/visits.csv", headers=world.org.auth("manager")
    )
    rows = _rows(response.data)
    ids = {row["visit_id"] for row in rows}
    assert world.unreleased not in ids
    assert world.released_with_photos in ids
    assert {row["store"] for row in rows} == {"Leeds"}
    shops = [row for row in rows if row["kind"] == "mystery_shop"]
    assert shops
    assert all(row["observer"].startswith("Observer-") for row in shops)
    assert all(row["local_time"].endswith(":00") for row in shops)


def test_answers_export_has_a_row_per_item_with_comments(web_app: Flask, world: World) -> None:
    response = web_app.test_client().get(
        "/api/v1/exports/answers.csv",
        query_string={"location_id": world.org.locations["leeds"], "kind": "mystery_shop"},
        headers=world.org.auth("manager"),
    )
    rows = _rows(response.data)
    mine = [row for row in rows if row["visit_id"] == world.released_with_photos]
    assert len(mine) > 10
    assert any(row["comment"] == "Waited by the till; nobody looked up." for row in mine)
    assert all(row["visit_id"] != world.unreleased for row in rows)


def test_console_export_uses_the_session(
    world: World, signed_in: Callable[[str], FlaskClient]
) -> None:
    response = signed_in("lead").get(
        "/exports/visits.csv", query_string={"area_id": world.org.areas["north"]}
    )
    assert response.status_code == 200
    rows = _rows(response.data)
    assert rows
    assert {row["area"] for row in rows} == {"North"}
    assert "attachment" in response.headers["Content-Disposition"]


@pytest.mark.parametrize(
    "query", [{"kind": "nonsense"}, {"grain": "year"}, {"period": "2026-13"}, {"status": "x"}]
)
def test_bad_export_filters_are_422(query: dict[str, str], web_app: Flask, world: World) -> None:
    response = web_app.test_client().get(
        "/api/v1/exports/visits.csv", query_string=query, headers=world.org.auth("admin")
    )
    assert response.status_code == 422


def test_shoppers_get_no_exports(web_app: Flask, world: World) -> None:
    response = web_app.test_client().get(
        "/api/v1/exports/visits.csv", headers=world.org.auth("shopper")
    )
    assert response.status_code == 403


def test_exports_are_in_the_openapi_document(web_app: Flask) -> None:
    paths = web_app.test_client().get("/api/v1/openapi.json").get_json()["paths"]
    for name in ("visits", "answers"):
        operation = paths[f"/api/v1/exports/{name}.csv"]["get"]
        assert "text/csv" in operation["responses"]["200"]["content"]


@pytest.mark.parametrize(
    ("timestamp", "zone", "floored", "shown"),
    [
        ("2026-11-23T10:45:12.000000Z", "Asia/Kolkata", False, ("2026-11-23", "16:15")),
        ("2026-11-23T10:10:00.000000Z", "Asia/Kolkata", False, ("2026-11-23", "15:40")),
        ("2026-11-23T10:00:00.000000Z", "Asia/Kolkata", True, ("2026-11-23", "15:30")),
        ("2026-03-29T00:59:00.000000Z", "Europe/London", False, ("2026-03-29", "00:59")),
        ("2026-03-29T01:00:00.000000Z", "Europe/London", False, ("2026-03-29", "02:00")),
        ("2026-11-23T23:30:00.000000Z", "America/Phoenix", False, ("2026-11-23", "16:30")),
    ],
)
def test_local_times_in_exports(
    timestamp: str, zone: str, floored: bool, shown: tuple[str, str]
) -> None:
    from fieldobs.exports.csv_export import _Clock

    assert _Clock().local(timestamp, zone, floored) == shown
