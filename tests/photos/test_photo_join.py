"""Photos join their visits in any order; the first bytes for a photo id are kept."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from fieldobs.db import get_db
from fieldobs.storage.connection import rows
from tests.helpers.app import Org, make_app
from tests.helpers.photo_factory import gif, jpeg, new_id, one_shot, png, sha256, upload
from tests.helpers.responses import json_object
from tests.helpers.visit_factory import make_visit, photo_entry

Sender = Callable[..., TestResponse]


def tus(client: FlaskClient, org: Org, data: bytes, **kwargs: Any) -> TestResponse:
    """Send a photo with tus in small chunks."""
    return upload(client, org, data, chunk=40_000, **kwargs)


SENDERS = pytest.mark.parametrize("send", [one_shot, tus], ids=["one_shot", "tus"])
KEPT = {"one_shot": (201, 200), "tus": (204, 204)}


@pytest.fixture
def mystery(client: FlaskClient, org: Org) -> dict[str, Any]:
    """Return the latest mystery-shop checklist."""
    return json_object(client.get("/api/v1/checklists/mystery-shop", headers=org.auth("shopper")))


def push(
    client: FlaskClient,
    org: Org,
    definition: dict[str, Any],
    photos: list[dict[str, Any]],
    **kw: Any,
) -> dict[str, Any]:
    visit = make_visit(definition, org.locations["leeds"], photos=photos, **kw)
    response = client.put(f"/api/v1/visits/{visit['id']}", json=visit, headers=org.auth("shopper"))
    assert response.status_code == 201, response.get_json()
    return {**visit, "status": response.get_json()["status"]}


def read(client: FlaskClient, org: Org, visit_id: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/visits/{visit_id}", headers=org.auth("shopper"))
    assert response.status_code == 200
    body: dict[str, Any] = response.get_json()
    return body


def photo_rows(app: Flask) -> list[dict[str, Any]]:
    with app.app_context():
        return rows(get_db().execute("SELECT * FROM photos ORDER BY received_at"))


@SENDERS
def test_photo_after_its_visit_submits_the_visit(
    client: FlaskClient, org: Org, mystery: dict[str, Any], send: Sender
) -> None:
    data, photo_id = jpeg(seed=2), new_id()
    visit = push(client, org, mystery, [photo_entry(data, photo_id=photo_id)])
    assert visit["status"] == "awaiting_photos"
    assert read(client, org, visit["id"])["photos"][0]["state"] == "expected"
    assert send(client, org, data, visit_id=visit["id"], photo_id=photo_id).status_code < 300
    body = read(client, org, visit["id"])
    assert body["status"] == "submitted"
    assert body["photos"][0]["state"] == "received"


@SENDERS
def test_photo_before_its_visit_is_held_and_joined(
    app: Flask, client: FlaskClient, org: Org, mystery: dict[str, Any], send: Sender
) -> None:
    data, photo_id, visit_id = jpeg(seed=3), new_id(), new_id()
    assert send(client, org, data, visit_id=visit_id, photo_id=photo_id).status_code < 300
    assert photo_rows(app)[0]["visit_id"] == visit_id
    visit = push(client, org, mystery, [photo_entry(data, photo_id=photo_id)], visit_id=visit_id)
    assert visit["status"] == "submitted"


def test_visit_waits_for_every_photo(
    client: FlaskClient, org: Org, mystery: dict[str, Any]
) -> None:
    first, second = jpeg(seed=4), png()
    ids = [new_id(), new_id()]
    entries = [photo_entry(first, photo_id=ids[0]), photo_entry(second, "image/png", ids[1])]
    visit = push(client, org, mystery, entries)
    assert one_shot(client, org, first, visit_id=visit["id"], photo_id=ids[0]).status_code == 201
    assert read(client, org, visit["id"])["status"] == "awaiting_photos"
    assert one_shot(client, org, second, visit_id=visit["id"], photo_id=ids[1]).status_code == 201
    assert read(client, org, visit["id"])["status"] == "submitted"


@SENDERS
def test_same_bytes_twice_is_a_no_op(
    app: Flask, client: FlaskClient, org: Org, send: Sender, request: pytest.FixtureRequest
) -> None:
    data, photo_id, visit_id = jpeg(seed=5), new_id(), new_id()
    first = send(client, org, data, visit_id=visit_id, photo_id=photo_id)
    again = send(client, org, data, visit_id=visit_id, photo_id=photo_id)
    expected = KEPT[request.node.callspec.id]
    assert (first.status_code, again.status_code) == expected
    if first.is_json:
        assert again.get_json() == first.get_json()
    assert len(photo_rows(app)) == 1


@SENDERS
def test_other_bytes_for_a_photo_id_are_409_and_the_first_kept(
    app: Flask, client: FlaskClient, org: Org, send: Sender
) -> None:
    first, other, photo_id, visit_id = jpeg(seed=6), jpeg(seed=7), new_id(), new_id()
    assert send(client, org, first, visit_id=visit_id, photo_id=photo_id).status_code < 300
    response = send(client, org, other, visit_id=visit_id, photo_id=photo_id)
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "photo_conflict"
    (kept,) = photo_rows(app)
    assert kept["sha256"] == sha256(first)


def test_same_photo_id_for_another_visit_is_409(client: FlaskClient, org: Org) -> None:
    data, photo_id = jpeg(seed=8), new_id()
    assert one_shot(client, org, data, visit_id=new_id(), photo_id=photo_id).status_code == 201
    response = one_shot(client, org, data, visit_id=new_id(), photo_id=photo_id)
    assert response.status_code == 409


def test_bytes_the_manifest_disowns_are_refused_and_not_kept(
    app: Flask, client: FlaskClient, org: Org, mystery: dict[str, Any]
) -> None:
    right, wrong, photo_id = jpeg(seed=9), jpeg(seed=10), new_id()
    visit = push(client, org, mystery, [photo_entry(right, photo_id=photo_id)])
    response = one_shot(client, org, wrong, visit_id=visit["id"], photo_id=photo_id)
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "manifest_mismatch"
    assert photo_rows(app) == []
    assert one_shot(client, org, right, visit_id=visit["id"], photo_id=photo_id).status_code == 201
    assert read(client, org, visit["id"])["status"] == "submitted"


@pytest.mark.parametrize(
    ("data", "status", "reason"),
    [
        (gif(), 415, "unsupported_format"),
        (b"just some text, not a photo", 415, "not_an_image"),
        (jpeg(seed=11)[:20_000], 422, "truncated"),
    ],
    ids=["gif", "text", "truncated"],
)
@SENDERS
def test_rejected_photo_is_recorded_with_its_reason(
    client: FlaskClient,
    org: Org,
    mystery: dict[str, Any],
    send: Sender,
    data: bytes,
    status: int,
    reason: str,
) -> None:
    photo_id = new_id()
    visit = push(client, org, mystery, [photo_entry(data, photo_id=photo_id)])
    response = send(client, org, data, visit_id=visit["id"], photo_id=photo_id)
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == reason
    body = read(client, org, visit["id"])
    assert body["status"] == "awaiting_photos"
    assert body["photos"][0]["state"] == "rejected"
    assert body["photos"][0]["reason"] == reason
    replay = send(client, org, data, visit_id=visit["id"], photo_id=photo_id)
    assert (replay.status_code, replay.get_json()["error"]["code"]) == (status, reason)


def test_too_many_pixels_is_rejected(data_dir: Any, org: Org) -> None:
    app = make_app(data_dir, MAX_PHOTO_PIXELS=100_000)
    client = app.test_client()
    response = one_shot(client, org, jpeg(seed=12), visit_id=new_id(), photo_id=new_id())
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "too_many_pixels"


@SENDERS
def test_only_the_observer_sends_photos_of_an_existing_visit(
    app: Flask, client: FlaskClient, org: Org, mystery: dict[str, Any], send: Sender
) -> None:
    data, photo_id = jpeg(seed=13), new_id()
    visit = push(client, org, mystery, [photo_entry(data, photo_id=photo_id)])
    response = send(client, org, data, visit_id=visit["id"], photo_id=photo_id, user="shopper2")
    assert response.status_code == 404
    assert photo_rows(app) == []


def test_a_photo_sent_by_someone_else_never_joins(
    client: FlaskClient, org: Org, mystery: dict[str, Any]
) -> None:
    data, photo_id, visit_id = jpeg(seed=14), new_id(), new_id()
    # Before the visit arrives nobody can tell whose it will be: accepted, then disowned.
    assert (
        one_shot(
            client, org, data, visit_id=visit_id, photo_id=photo_id, user="shopper2"
        ).status_code
        == 201
    )
    visit = push(client, org, mystery, [photo_entry(data, photo_id=photo_id)], visit_id=visit_id)
    assert visit["status"] == "awaiting_photos"
    assert read(client, org, visit_id)["photos"][0]["state"] == "rejected"


def test_one_shot_over_the_limit_is_413(data_dir: Any, org: Org) -> None:
    app = make_app(data_dir, ONE_SHOT_PHOTO_MAX_BYTES=10_000)
    client = app.test_client()
    data = jpeg(seed=15)
    assert one_shot(client, org, data, visit_id=new_id(), photo_id=new_id()).status_code == 413
    # A chunked body (no Content-Length) is cut off at the limit too.
    response = client.put(
        f"/api/v1/visits/{new_id()}/photos/{new_id()}",
        input_stream=io.BytesIO(data),
        headers=org.auth("shopper"),
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 413


@pytest.mark.parametrize("path", ["not-a-uuid/photos/{p}", "{v}/photos/not-a-uuid"])
def test_one_shot_ids_must_be_uuids(client: FlaskClient, org: Org, path: str) -> None:
    url = "/api/v1/visits/" + path.format(v=new_id(), p=new_id())
    response = client.put(url, data=jpeg(seed=16), headers=org.auth("shopper"))
    assert response.status_code == 422


def test_one_shot_empty_body_is_400(client: FlaskClient, org: Org) -> None:
    response = one_shot(client, org, b"", visit_id=new_id(), photo_id=new_id())
    assert response.status_code == 400


def test_one_shot_answers_the_photo(client: FlaskClient, org: Org) -> None:
    data, photo_id, visit_id = jpeg(640, 480, seed=17), new_id(), new_id()
    body = one_shot(client, org, data, visit_id=visit_id, photo_id=photo_id).get_json()
    assert body["id"] == photo_id
    assert body["visit_id"] == visit_id
    assert body["state"] == "received"
    assert body["sha256"] == sha256(data)
    assert (body["width"], body["height"]) == (640, 480)
    assert body["captured_at"] == "2026-11-23T09:12:00"


def test_photo_before_its_visit_joins_a_visit_pushed_in_a_batch(
    client: FlaskClient, org: Org, mystery: dict[str, Any]
) -> None:
    data, photo_id = jpeg(seed=5), new_id()
    held = make_visit(
        mystery, org.locations["leeds"], photos=[photo_entry(data, photo_id=photo_id)]
    )
    waiting = make_visit(mystery, org.locations["leeds"], photos=[photo_entry(png())])
    assert one_shot(client, org, data, visit_id=held["id"], photo_id=photo_id).status_code == 201
    response = client.post(
        "/api/v1/sync/visits", json={"visits": [held, waiting]}, headers=org.auth("shopper")
    )
    results = response.get_json()["results"]
    assert [(r["status"], r["visit_status"]) for r in results] == [
        (201, "submitted"),
        (201, "awaiting_photos"),
    ]
    assert read(client, org, held["id"])["photos"][0]["state"] == "received"
