"""Who a webhook speaks to: a `client` webhook (the default) is told no more than a store
manager could see at that moment, body and headers; an `agency` one gets the admin view."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from fieldobs.db import get_db
from fieldobs.storage.connection import transaction
from fieldobs.storage.migrate import migrations
from fieldobs.timeutil import now_rfc3339, parse_rfc3339, utcnow
from tests.helpers.app import Org, reconfigure
from tests.helpers.ops_factory import (
    Received,
    Receiver,
    assign,
    checklist,
    push,
    review,
    run_job,
    verify_signature,
    visit_now,
)

CLIENT_EVENTS = ["visit.submitted", "visit.released"]
ALL_EVENTS = [*CLIENT_EVENTS, "visit.returned", "assignment.expired"]


@pytest.fixture(autouse=True)
def private_receivers(app: Flask) -> None:
    """Let webhooks reach the receivers these tests run on 127.0.0.1."""
    reconfigure(app, WEBHOOK_ALLOW_PRIVATE_TARGETS=True)


def subscribe(client: FlaskClient, org: Org, body: dict[str, Any]) -> dict[str, Any]:
    """Subscribe as the admin; return the subscription."""
    response = client.post("/api/v1/webhooks", json=body, headers=org.auth("admin"))
    assert response.status_code == 201, response.get_json()
    made: dict[str, Any] = response.get_json()
    return made


def pushed(client: FlaskClient, org: Org, user: str = "shopper", slug: str = "mystery-shop") -> str:
    """Push a visit at Leeds as a user; return its id."""
    visit = visit_now(checklist(client, org, slug), org.locations["leeds"])
    assert push(client, org, visit, user).status_code == 201
    return str(visit["id"])


def by_event(requests: list[Received]) -> dict[str, list[Received]]:
    """Group received requests by event name."""
    found: dict[str, list[Received]] = {}
    for request in requests:
        found.setdefault(request.json()["event"], []).append(request)
    return found


def on_the_hour(stamp: str) -> bool:
    """Tell whether an RFC 3339 time is floored to the hour."""
    moment = parse_rfc3339(stamp)
    return (moment.minute, moment.second, moment.microsecond) == (0, 0, 0)


def test_each_audience_hears_what_its_view_shows(app: Flask, client: FlaskClient, org: Org) -> None:
    with Receiver() as store, Receiver() as agency:
        made = subscribe(client, org, {"url": store.url, "events": CLIENT_EVENTS})
        assert made["audience"] == "client"
        subscribe(client, org, {"url": agency.url, "events": ALL_EVENTS, "audience": "agency"})
        released = pushed(client, org)
        walkthrough = pushed(client, org, "manager", "back-to-the-floor")
        review(client, org, released, "release")
        review(client, org, pushed(client, org), "return", note="Add the greeter")
        assignment = assign(client, org, location="york").get_json()
        later = utcnow() + timedelta(days=2)
        run_job(app, "expire_assignments", later)
        run_job(app, "deliver_webhooks", later)
        heard_by_store, heard_by_agency = by_event(store.received), by_event(agency.received)
    # The store: the released mystery shop and the walk-through, nothing else.
    assert sorted(heard_by_store) == ["visit.released", "visit.submitted"]
    [walk] = heard_by_store["visit.submitted"]
    walk_view = client.get(
        f"/api/v1/visits/{walkthrough}", headers=org.auth("manager")
    ).get_json()  # a walk-through is the manager's own kind of visit: exact times
    walked = walk.json()["data"]["visit"]
    assert (walked["id"], walked["observed_at"]) == (walkthrough, walk_view["observed_at"])
    assert walked["observer"]["pseudonym"] == walk_view["observer"]["pseudonym"]
    [shop] = heard_by_store["visit.released"]
    manager_view = client.get(f"/api/v1/visits/{released}", headers=org.auth("manager")).get_json()
    body = shop.json()
    visit = body["data"]["visit"]
    assert visit["id"] == released
    assert visit["observer"] == manager_view["observer"]
    assert visit["observed_at"] == manager_view["observed_at"]
    assert on_the_hour(visit["observed_at"])
    assert (visit["score"], visit["status"]) == (manager_view["score"], "released")
    assert set(visit) <= set(manager_view) | {"checklist"}
    assert on_the_hour(body["occurred_at"])
    assert shop.headers["X-Fieldobs-Timestamp"] == str(
        int(parse_rfc3339(body["occurred_at"]).timestamp())
    )
    assert "X-Fieldobs-Delivery" not in shop.headers
    assert verify_signature(made["secret"], shop)
    # The agency: every event, exact times, the assignment and its window.
    assert sorted(heard_by_agency) == sorted(ALL_EVENTS)
    [returned] = heard_by_agency["visit.returned"]
    assert b"greeter" not in returned.body  # the reviewer's note stays out
    assert len(heard_by_agency["visit.submitted"]) == 3
    [expired] = heard_by_agency["assignment.expired"]
    data = expired.json()["data"]["assignment"]
    assert (data["window_start"], data["window_end"]) == (
        assignment["window_start"],
        assignment["window_end"],
    )
    assert set(data["shopper"]) == {"pseudonym"}
    assert "X-Fieldobs-Delivery" in expired.headers
    [agency_release] = heard_by_agency["visit.released"]
    exact = agency_release.json()
    assert exact["data"]["visit"]["observed_at"] == manager_view_exact(client, org, released)
    assert agency_release.headers["X-Fieldobs-Timestamp"] == str(
        int(parse_rfc3339(exact["occurred_at"]).timestamp())
    )


def manager_view_exact(client: FlaskClient, org: Org, visit_id: str) -> str:
    """Return a visit's exact observation time, as the admin sees it."""
    found: str = client.get(f"/api/v1/visits/{visit_id}", headers=org.auth("admin")).get_json()[
        "observed_at"
    ]
    return found


def test_a_mystery_shop_reaches_a_client_only_after_its_hour(
    app: Flask, client: FlaskClient, org: Org
) -> None:
    with Receiver() as store:
        made = subscribe(client, org, {"url": store.url, "events": ["visit.released"]})
        review(client, org, pushed(client, org), "release")
        log = client.get(f"/api/v1/webhooks/{made['id']}/deliveries", headers=org.auth("admin"))
        [queued] = log.get_json()["deliveries"]
        due = parse_rfc3339(queued["next_attempt_at"])
        occurred = parse_rfc3339(queued["occurred_at"])
        assert due == occurred.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        run_job(app, "deliver_webhooks", due - timedelta(seconds=1))
        assert store.received == []
        run_job(app, "deliver_webhooks", due)
        assert len(store.received) == 1


@pytest.mark.parametrize("event", ["visit.returned", "assignment.expired"])
def test_a_client_webhook_cannot_subscribe_to_what_stores_never_see(
    client: FlaskClient, org: Org, event: str
) -> None:
    response = client.post(
        "/api/v1/webhooks",
        json={"url": "https://hooks.example.com/in", "events": ["visit.released", event]},
        headers=org.auth("admin"),
    )
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"events"}


def test_an_unknown_audience_is_422(client: FlaskClient, org: Org) -> None:
    response = client.post(
        "/api/v1/webhooks",
        json={"url": "https://hooks.example.com/in", "events": ["visit.released"], "audience": "x"},
        headers=org.auth("admin"),
    )
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"audience"}


def test_migration_makes_earlier_webhooks_client_ones(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    for version, _name, sql in migrations():
        if version >= 9:
            break
        conn.executescript(sql)
    conn.execute(
        "INSERT INTO webhooks (url, events, secret, created_at) VALUES (?, ?, 's', 'now')",
        ["https://hooks.example.com/in", json.dumps(ALL_EVENTS)],
    )
    conn.execute(
        "INSERT INTO webhook_deliveries (webhook_id, event_id, event, occurred_at, payload,"
        " next_attempt_at, created_at) VALUES (1, 'e', 'assignment.expired', 'now', '{}', 'now',"
        " 'now')"
    )
    [(_version, _name, latest)] = [m for m in migrations() if m[0] == 9]
    conn.executescript(latest)
    hook = conn.execute("SELECT audience, events, paused_at FROM webhooks").fetchone()
    assert (hook[0], json.loads(hook[1]), hook[2]) == ("client", CLIENT_EVENTS, None)
    assert conn.execute("SELECT status FROM webhook_deliveries").fetchone()[0] == "cancelled"
    conn.close()


def test_a_held_delivery_waits_for_its_hour_through_pauses_and_resumes(
    app: Flask, client: FlaskClient, org: Org
) -> None:
    start = utcnow()
    with Receiver() as store:
        made = subscribe(client, org, {"url": store.url, "events": ["visit.released"]})
        review(client, org, pushed(client, org), "release")
        # Paused, with a probe due now; then resumed by the admin.
        with app.app_context():
            db = get_db()
            with transaction(db):
                db.execute(
                    "UPDATE webhooks SET failing_since = ?, paused_at = ?, probe_at = ?",
                    [now_rfc3339(), now_rfc3339(), now_rfc3339()],
                )
        run_job(app, "deliver_webhooks", start + timedelta(seconds=1))
        admin = org.auth("admin")
        assert client.post(f"/api/v1/webhooks/{made['id']}/resume", headers=admin).status_code
        run_job(app, "deliver_webhooks", start + timedelta(seconds=2))
        [queued] = client.get(
            f"/api/v1/webhooks/{made['id']}/deliveries", headers=admin
        ).get_json()["deliveries"]
        due = parse_rfc3339(queued["next_attempt_at"])
        occurred = parse_rfc3339(queued["occurred_at"])
        if start + timedelta(seconds=2) < due:  # (unless the hour ended as the test ran)
            assert store.received == []
        assert due == occurred.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
