"""Shopper anonymity: no manager-facing response anywhere names the shopper.

Every GET route under /api/v1 is walked as a manager and as an area lead, with real data
present (an assignment, a photographed mystery shop returned, corrected and released, the
review trail, webhook deliveries, scores), and every answer is searched for the shopper.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from fieldobs.db import get_db
from fieldobs.people.accounts import create_user, issue_token
from fieldobs.people.anonymity import observer_pseudonym
from tests.helpers.app import PASSWORD, Org, reconfigure
from tests.helpers.ops_factory import Receiver, checklist, in_hours, review, run_job, visit_now
from tests.helpers.photo_factory import DEVICE, jpeg
from tests.helpers.visit_factory import photo_entry

USERNAME = "zelda.quistorff"
DISPLAY_NAME = "Zelda Quistorff-Umber"
# Keys whose value is a person; store-side, a person may only appear as {"pseudonym": ...}.
PERSON_KEYS = {"observer", "shopper", "user", "reviewer", "uploader", "owner"}
PERSON_ID_KEYS = {
    "observer_id",
    "shopper_id",
    "user_id",
    "uploader_id",
    "owner_id",
    "created_by",
    "reviewer_id",
}


@dataclass
class World:
    """The data the walk looks for."""

    shopper_id: int
    headers: dict[str, str]
    visit_id: str
    photo_id: str
    assignment_id: int
    webhook_id: int


@pytest.fixture
def world(app: Flask, client: FlaskClient, org: Org) -> World:
    """Make a shopper with a distinctive name and every kind of data about their work."""
    with app.app_context():
        db = get_db()
        user = create_user(
            db, username=USERNAME, password=PASSWORD, role="shopper", display_name=DISPLAY_NAME
        )
        token = issue_token(db, USERNAME, PASSWORD, 1)["token"]
    headers = {"Authorization": f"Bearer {token}"}
    admin = org.auth("admin")
    reconfigure(app, WEBHOOK_ALLOW_PRIVATE_TARGETS=True)  # the receiver is on 127.0.0.1
    with Receiver() as receiver:
        hook = client.post(
            "/api/v1/webhooks",
            json={
                "url": receiver.url,
                "events": ["visit.submitted", "visit.released"],
                "audience": "agency",  # hears the submissions too
            },
            headers=admin,
        ).get_json()
        made = client.post(
            "/api/v1/assignments",
            json={
                "shopper": USERNAME,
                "location_id": org.locations["leeds"],
                "checklist": "mystery-shop",
                "window_start": in_hours(-3),
                "window_end": in_hours(2),
            },
            headers=admin,
        ).get_json()
        run_job(app, "remind_assignments")
        photo = jpeg()
        photo_id = str(uuid.uuid4())
        visit = visit_now(
            checklist(client, org),
            org.locations["leeds"],
            assignment_id=made["id"],
            photos=[photo_entry(photo, photo_id=photo_id)],
            notes="Visited as planned.",
        )
        assert (
            client.put(f"/api/v1/visits/{visit['id']}", json=visit, headers=headers).status_code
            == 201
        )
        uploaded = client.put(
            f"/api/v1/visits/{visit['id']}/photos/{photo_id}",
            data=photo,
            headers={**headers, "Content-Type": "image/jpeg"},
        )
        assert uploaded.status_code == 201, uploaded.get_json()
        note = f"{DISPLAY_NAME}, please name the greeter's role."
        assert review(client, org, visit["id"], "return", note=note).status_code == 200
        corrected = {**visit, "revision": 2}
        assert (
            client.put(f"/api/v1/visits/{visit['id']}", json=corrected, headers=headers).status_code
            == 200
        )
        assert (
            review(client, org, visit["id"], "release", note=f"Thanks {USERNAME}").status_code
            == 200
        )
        walk = visit_now(checklist(client, org, "back-to-the-floor"), org.locations["leeds"])
        client.put(f"/api/v1/visits/{walk['id']}", json=walk, headers=org.auth("manager"))
        run_job(app, "deliver_webhooks")
    return World(user["id"], headers, visit["id"], photo_id, made["id"], hook["id"])


def _path(rule: Any, org: Org, world: World) -> str:
    values = {
        "visit_id": world.visit_id,
        "photo_id": world.photo_id,
        "location_id": org.locations["leeds"],
        "area_id": org.areas["north"],
        "assignment_id": world.assignment_id,
        "webhook_id": world.webhook_id,
        "user_id": world.shopper_id,
        "slug": "mystery-shop",
        "version": 1,
    }
    path = str(rule.rule)
    for argument in rule.arguments:
        path = re.sub(rf"<(?:[a-z]+:)?{argument}>", str(values.get(argument, 1)), path)
    return path


def leaks(value: Any, shopper_id: int, where: str = "$") -> list[str]:
    """Return where a JSON value names the shopper."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{where}.{key}"
            if key in PERSON_KEYS and isinstance(item, dict):
                # A manager's own walk-through names the manager; anything else is a pseudonym.
                walkthrough = value.get("kind") == "walkthrough"
                if item.get("id") == shopper_id or (set(item) - {"pseudonym"} and not walkthrough):
                    found.append(f"{here} has {sorted(item)}")
            if key in PERSON_ID_KEYS and item == shopper_id:
                found.append(f"{here} = {item}")
            found.extend(leaks(item, shopper_id, here))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(leaks(item, shopper_id, f"{where}[{index}]"))
    elif isinstance(value, str):
        lowered = value.lower()
        if USERNAME in lowered or DISPLAY_NAME.lower() in lowered or "zelda" in lowered:
            found.append(f"{where} = {value[:80]!r}")
    return found


QUERIES: list[dict[str, Any]] = [{}, {"period": "month"}, {"period": "week"}]


def walk(app: Flask, client: FlaskClient, org: Org, world: World, user: str) -> dict[str, Any]:
    """GET every /api/v1 route as a user; return {path: status} and every leak found."""
    statuses: dict[str, int] = {}
    found: list[str] = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or "GET" not in (rule.methods or ()):
            continue
        path = _path(rule, org, world)
        for query in QUERIES:
            response = client.get(path, query_string=query, headers=org.auth(user))
            statuses.setdefault(rule.rule, response.status_code)
            if response.status_code == 200:
                statuses[rule.rule] = 200
            if response.is_json and rule.endpoint.startswith("api-docs."):
                # The OpenAPI document describes fields (e.g. `shopper`); it holds no data.
                text = response.get_data(as_text=True).lower()
                if USERNAME in text or "zelda" in text:
                    found.append(f"{path}: names the shopper")
            elif response.is_json:
                found.extend(
                    f"{path} {query}: {leak}"
                    for leak in leaks(response.get_json(), world.shopper_id)
                )
            else:
                data = response.get_data()
                for marker in (USERNAME.encode(), DISPLAY_NAME.encode(), DEVICE.encode()):
                    if marker in data:
                        found.append(f"{path} {query}: bytes contain {marker!r}")
    return {"statuses": statuses, "leaks": found}


@pytest.mark.parametrize("user", ["manager", "lead"])
def test_no_store_side_response_names_the_shopper(
    app: Flask, client: FlaskClient, org: Org, world: World, user: str
) -> None:
    result = walk(app, client, org, world, user)
    assert result["leaks"] == []
    statuses = result["statuses"]
    # The walk saw the shopper's work: a vacuous pass proves nothing.
    for rule in (
        "/api/v1/visits/<visit_id>",
        "/api/v1/visits",
        "/api/v1/photos/<photo_id>",
        "/api/v1/photos/<photo_id>/thumb",
    ):
        assert statuses[rule] == 200, rule
    for rule in (
        "/api/v1/assignments",
        "/api/v1/visits/<visit_id>/reviews",
        "/api/v1/review/queue",
    ):
        assert statuses[rule] == 403, rule
    visits = client.get("/api/v1/visits", headers=org.auth(user)).get_json()["visits"]
    assert world.visit_id in [v["id"] for v in visits]


def test_the_leak_detector_finds_the_shopper_where_admins_look(
    app: Flask, client: FlaskClient, org: Org, world: World
) -> None:
    found = walk(app, client, org, world, "admin")["leaks"]
    assert any("/reviews" in leak for leak in found)
    assert any(f"/visits/{world.visit_id} " in leak for leak in found)


def test_store_side_sees_a_stable_pseudonym_and_nothing_of_device_or_assignment(
    app: Flask, client: FlaskClient, org: Org, world: World
) -> None:
    visit = client.get(f"/api/v1/visits/{world.visit_id}", headers=org.auth("manager")).get_json()
    again = client.get(f"/api/v1/visits/{world.visit_id}", headers=org.auth("lead")).get_json()
    expected = observer_pseudonym(app.config["SECRET_KEY"], world.shopper_id)
    assert visit["observer"] == again["observer"] == {"pseudonym": expected}
    for hidden in ("assignment_id", "flags", "clock_skew_seconds", "observer_id"):
        assert hidden not in visit
    for name in ("started_at", "finished_at", "received_at", "submitted_at", "released_at"):
        assert re.search(r"T\d\d:00:00\.000000Z$", visit[name]), (name, visit[name])
    assert visit["photos"] == [{"id": world.photo_id, "state": "received", "item": None}]
    own = client.get(f"/api/v1/visits/{world.visit_id}", headers=world.headers).get_json()
    assert own["observer"]["username"] == USERNAME
    assert own["photos"][0]["sha256"]


def test_webhook_bodies_carry_the_same_pseudonym(
    app: Flask, client: FlaskClient, org: Org, world: World
) -> None:
    log = client.get(
        f"/api/v1/webhooks/{world.webhook_id}/deliveries", headers=org.auth("admin")
    ).get_json()["deliveries"]
    shop = [d for d in log if world.visit_id in d["body"]]
    assert [d["event"] for d in shop] == ["visit.released", "visit.submitted", "visit.submitted"]
    assert {d["status"] for d in log} == {"delivered"}
    pseudonym = observer_pseudonym(app.config["SECRET_KEY"], world.shopper_id)
    for delivery in shop:
        assert pseudonym in delivery["body"]
        assert USERNAME not in delivery["body"]
        assert f'"observer_id":{world.shopper_id}' not in delivery["body"]
