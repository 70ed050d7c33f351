"""Store staff never get a camera's quantisation tables: a JPEG kept losslessly is re-encoded."""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from PIL.JpegImagePlugin import JpegImageFile

from fieldobs.db import get_db
from fieldobs.storage.connection import transaction
from fieldobs.visits.review import release_visit
from tests.helpers.app import Org
from tests.helpers.photo_factory import assert_sanitised, new_id, one_shot
from tests.helpers.visit_factory import make_visit, photo_entry

# A camera's own tables: what a phone model's JPEG encoder writes (here: flat, unusual).
CAMERA_TABLES = [[3 + (i % 5) for i in range(64)], [7 + (i % 3) for i in range(64)]]


def camera_jpeg() -> bytes:
    """Return a plain orientation-1 JPEG with custom quantisation tables: the lossless path."""
    img = Image.effect_noise((640, 480), 40).convert("RGB")
    buffer = io.BytesIO()
    img.save(buffer, "JPEG", qtables=CAMERA_TABLES)
    return buffer.getvalue()


def tables(data: bytes) -> dict[int, list[int]]:
    with Image.open(io.BytesIO(data)) as img:
        assert isinstance(img, JpegImageFile), img.format
        return {k: list(v) for k, v in img.quantization.items()}


@pytest.fixture
def released(app: Flask, client: FlaskClient, org: Org) -> dict[str, Any]:
    """Return a released mystery shop at Leeds whose camera JPEG arrived."""
    mystery = client.get("/api/v1/checklists/mystery-shop", headers=org.auth("shopper")).get_json()
    data, photo_id = camera_jpeg(), new_id()
    visit = make_visit(
        mystery, org.locations["leeds"], photos=[photo_entry(data, photo_id=photo_id)]
    )
    response = client.put(f"/api/v1/visits/{visit['id']}", json=visit, headers=org.auth("shopper"))
    assert response.status_code == 201
    assert one_shot(client, org, data, visit_id=visit["id"], photo_id=photo_id).status_code == 201
    with app.app_context():
        db = get_db()
        with transaction(db):
            release_visit(db, visit["id"])
    return {"photo_id": photo_id, "data": data}


def fetch(client: FlaskClient, org: Org, photo_id: str, user: str) -> Any:
    return client.get(f"/api/v1/photos/{photo_id}", headers=org.auth(user))


@pytest.mark.parametrize("user", ["shopper", "admin"])
def test_the_shopper_and_admins_get_the_lossless_copy(
    client: FlaskClient, org: Org, released: dict[str, Any], user: str
) -> None:
    response = fetch(client, org, released["photo_id"], user)
    assert response.status_code == 200
    assert tables(response.data) == tables(released["data"])  # same coded data, no re-encode
    assert_sanitised(response.data, (640, 480))


@pytest.mark.parametrize("user", ["manager", "lead"])
def test_store_staff_get_a_copy_without_the_camera_tables(
    client: FlaskClient, org: Org, released: dict[str, Any], user: str
) -> None:
    response = fetch(client, org, released["photo_id"], user)
    assert response.status_code == 200
    assert tables(response.data) != tables(released["data"])
    assert_sanitised(response.data, (640, 480))
    again = fetch(client, org, released["photo_id"], user)
    assert again.data == response.data  # made once, then kept
    assert again.headers["ETag"] == response.headers["ETag"]
    lossless = fetch(client, org, released["photo_id"], "admin")
    assert lossless.headers["ETag"] != response.headers["ETag"]
