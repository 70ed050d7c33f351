"""Photos are served, sanitised and cacheable, to exactly those who may see their visit."""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from fieldobs.db import get_db
from fieldobs.storage.connection import transaction
from fieldobs.visits.review import release_visit, return_visit
from tests.helpers.app import Org
from tests.helpers.photo_factory import assert_sanitised, jpeg, new_id, one_shot, upload
from tests.helpers.visit_factory import make_visit, photo_entry

BEFORE_RELEASE = {
    "admin": 200,
    "shopper": 200,
    "shopper2": 404,
    "manager": 404,
    "manager_south": 404,
    "lead": 404,
}
AFTER_RELEASE = {**BEFORE_RELEASE, "manager": 200, "lead": 200}


@pytest.fixture
def shop(app: Flask, client: FlaskClient, org: Org) -> dict[str, Any]:
    """Return a submitted mystery shop at Leeds whose one photo has arrived."""
    mystery = client.get("/api/v1/checklists/mystery-shop", headers=org.auth("shopper")).get_json()
    data, photo_id = jpeg(1600, 1200, seed=21), new_id()
    visit = make_visit(
        mystery, org.locations["leeds"], photos=[photo_entry(data, photo_id=photo_id)]
    )
    assert (
        client.put(
            f"/api/v1/visits/{visit['id']}", json=visit, headers=org.auth("shopper")
        ).status_code
        == 201
    )
    assert upload(client, org, data, visit_id=visit["id"], photo_id=photo_id).status_code == 204
    return {"visit_id": visit["id"], "photo_id": photo_id, "data": data}


def review(app: Flask, visit_id: str, action: str) -> None:
    with app.app_context():
        db = get_db()
        with transaction(db):
            if action == "release":
                release_visit(db, visit_id)
            else:
                return_visit(db, visit_id, "blurred")


def fetch(
    client: FlaskClient, org: Org, photo_id: str, user: str, suffix: str = "", **headers: str
) -> Any:
    return client.get(f"/api/v1/photos/{photo_id}{suffix}", headers={**org.auth(user), **headers})


@pytest.mark.parametrize("suffix", ["", "/thumb"])
@pytest.mark.parametrize("user", sorted(BEFORE_RELEASE))
def test_before_release_only_the_shopper_and_admins_see_it(
    client: FlaskClient, org: Org, shop: dict[str, Any], user: str, suffix: str
) -> None:
    response = fetch(client, org, shop["photo_id"], user, suffix)
    assert response.status_code == BEFORE_RELEASE[user]
    if response.status_code == 404:
        assert response.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("suffix", ["", "/thumb"])
@pytest.mark.parametrize("user", sorted(AFTER_RELEASE))
def test_after_release_store_staff_in_scope_see_it(
    app: Flask, client: FlaskClient, org: Org, shop: dict[str, Any], user: str, suffix: str
) -> None:
    review(app, shop["visit_id"], "release")
    assert fetch(client, org, shop["photo_id"], user, suffix).status_code == AFTER_RELEASE[user]


def test_a_visit_returned_for_correction_is_hidden_again(
    app: Flask, client: FlaskClient, org: Org, shop: dict[str, Any]
) -> None:
    review(app, shop["visit_id"], "release")
    assert fetch(client, org, shop["photo_id"], "manager").status_code == 200
    review(app, shop["visit_id"], "return")
    assert fetch(client, org, shop["photo_id"], "manager").status_code == 404
    assert fetch(client, org, shop["photo_id"], "shopper").status_code == 200


def test_served_image_is_sanitised(client: FlaskClient, org: Org, shop: dict[str, Any]) -> None:
    assert b"Exif" in shop["data"]  # what the phone sent had EXIF, GPS and the device name
    response = fetch(client, org, shop["photo_id"], "admin")
    assert response.mimetype == "image/jpeg"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert_sanitised(response.data, (1600, 1200))
    thumb = fetch(client, org, shop["photo_id"], "admin", "/thumb")
    assert_sanitised(thumb.data)
    with Image.open(io.BytesIO(thumb.data)) as img:
        assert max(img.size) == 512


@pytest.mark.parametrize("suffix", ["", "/thumb"])
def test_etag_and_304(client: FlaskClient, org: Org, shop: dict[str, Any], suffix: str) -> None:
    first = fetch(client, org, shop["photo_id"], "shopper", suffix)
    etag = first.headers["ETag"]
    assert len(etag.strip('"')) == 64
    cache = first.headers["Cache-Control"]
    assert "private" in cache
    assert "immutable" in cache
    assert "max-age=86400" in cache
    again = fetch(client, org, shop["photo_id"], "shopper", suffix, **{"If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == etag
    stale = fetch(client, org, shop["photo_id"], "shopper", suffix, **{"If-None-Match": '"x"'})
    assert stale.status_code == 200


def test_a_matching_etag_from_outside_scope_is_still_404(
    client: FlaskClient, org: Org, shop: dict[str, Any]
) -> None:
    etag = fetch(client, org, shop["photo_id"], "shopper").headers["ETag"]
    response = fetch(client, org, shop["photo_id"], "shopper2", **{"If-None-Match": etag})
    assert response.status_code == 404


def test_a_photo_without_its_visit_is_not_served(client: FlaskClient, org: Org) -> None:
    photo_id = new_id()
    assert (
        one_shot(client, org, jpeg(seed=22), visit_id=new_id(), photo_id=photo_id).status_code
        == 201
    )
    for user in ("shopper", "admin"):
        assert fetch(client, org, photo_id, user).status_code == 404


def test_a_photo_its_visit_disowns_is_not_served(client: FlaskClient, org: Org) -> None:
    mystery = client.get("/api/v1/checklists/mystery-shop", headers=org.auth("shopper")).get_json()
    data, photo_id, visit_id = jpeg(seed=23), new_id(), new_id()
    # Someone else sent bytes under this visit's ids before the visit arrived.
    assert (
        one_shot(
            client, org, data, visit_id=visit_id, photo_id=photo_id, user="shopper2"
        ).status_code
        == 201
    )
    visit = make_visit(
        mystery,
        org.locations["leeds"],
        visit_id=visit_id,
        photos=[photo_entry(data, photo_id=photo_id)],
    )
    assert (
        client.put(
            f"/api/v1/visits/{visit_id}", json=visit, headers=org.auth("shopper")
        ).status_code
        == 201
    )
    for user in ("shopper", "shopper2", "admin"):
        assert fetch(client, org, photo_id, user).status_code == 404


@pytest.mark.parametrize("photo_id", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_unknown_photo_is_404(client: FlaskClient, org: Org, photo_id: str) -> None:
    assert fetch(client, org, photo_id, "admin").status_code == 404


def test_photos_need_a_token(client: FlaskClient, shop: dict[str, Any]) -> None:
    assert client.get(f"/api/v1/photos/{shop['photo_id']}").status_code == 401


def test_a_walkthrough_photo_is_seen_by_its_managers_at_once(client: FlaskClient, org: Org) -> None:
    walk = client.get(
        "/api/v1/checklists/back-to-the-floor", headers=org.auth("manager")
    ).get_json()
    data, photo_id = jpeg(seed=24), new_id()
    visit = make_visit(walk, org.locations["leeds"], photos=[photo_entry(data, photo_id=photo_id)])
    assert (
        client.put(
            f"/api/v1/visits/{visit['id']}", json=visit, headers=org.auth("manager")
        ).status_code
        == 201
    )
    sent = one_shot(client, org, data, visit_id=visit["id"], photo_id=photo_id, user="manager")
    assert sent.status_code == 201
    expected = {"manager": 200, "lead": 200, "admin": 200, "manager_south": 404, "shopper": 404}
    for user, status in expected.items():
        assert fetch(client, org, photo_id, user).status_code == status
