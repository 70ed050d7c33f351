"""Webhooks: queued with their event, signed, delivered by the job to a real HTTP receiver,
retried with backoff, every attempt logged, shoppers only as pseudonyms."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from fieldobs.db import get_db
from fieldobs.storage.connection import transaction
from fieldobs.timeutil import parse_rfc3339, utcnow
from fieldobs.visits.review import release_visit
from tests.helpers.app import Org, reconfigure
from tests.helpers.ops_factory import (
    Receiver,
    assign,
    checklist,
    push,
    review,
    run_job,
    verify_signature,
    visit_now,
)
from tests.helpers.server_process import free_port

ALL_EVENTS = ["visit.submitted", "visit.released", "visit.returned", "assignment.expired"]


@pytest.fixture(autouse=True)
def private_receivers(app: Flask) -> None:
    """Let webhooks reach the receivers these tests run on 127.0.0.1."""
    reconfigure(app, WEBHOOK_ALLOW_PRIVATE_TARGETS=True)


def subscribe(
    client: FlaskClient,
    org: Org,
    url: str,
    events: list[str] | None = None,
    audience: str = "agency",
) -> Any:
    """Subscribe a URL; return the answer (with the secret)."""
    response = client.post(
        "/api/v1/webhooks",
        json={"url": url, "events": events or ALL_EVENTS, "audience": audience},
        headers=org.auth("admin"),
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def deliveries(client: FlaskClient, org: Org, hook_id: int) -> list[dict[str, Any]]:
    """Return a subscription's deliveries, newest first."""
    response = client.get(f"/api/v1/webhooks/{hook_id}/deliveries", headers=org.auth("admin"))
    assert response.status_code == 200
    found: list[dict[str, Any]] = response.get_json()["deliveries"]
    return found


def pushed(client: FlaskClient, org: Org) -> str:
    """Push a mystery shop at Leeds; return its id."""
    visit = visit_now(checklist(client, org), org.locations["leeds"])
    assert push(client, org, visit).status_code == 201
    return str(visit["id"])


def test_subscription_shows_its_secret_once(client: FlaskClient, org: Org) -> None:
    made = subscribe(client, org, "https://hooks.example.com/in", ["visit.released"])
    assert made["secret"].startswith("whsec_")
    admin = org.auth("admin")
    one = client.get(f"/api/v1/webhooks/{made['id']}", headers=admin).get_json()
    listed = client.get("/api/v1/webhooks", headers=admin).get_json()["webhooks"]
    assert "secret" not in one
    assert all("secret" not in hook for hook in listed)
    assert one["events"] == ["visit.released"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://example.com/x", "events": ["visit.released"]}, "url"),
        ({"url": "not a url", "events": ["visit.released"]}, "url"),
        ({"url": "https://example.com/x", "events": ["visit.deleted"]}, "events.0"),
        ({"url": "https://example.com/x", "events": []}, "events"),
    ],
)
def test_invalid_subscription_is_422(
    client: FlaskClient, org: Org, body: dict[str, Any], field: str
) -> None:
    response = client.post("/api/v1/webhooks", json=body, headers=org.auth("admin"))
    assert response.status_code == 422
    assert field in response.get_json()["error"]["fields"]


@pytest.mark.parametrize("user", ["manager", "lead", "shopper"])
def test_only_admins_manage_webhooks(client: FlaskClient, org: Org, user: str) -> None:
    made = subscribe(client, org, "https://example.com/x")
    headers = org.auth(user)
    assert client.get("/api/v1/webhooks", headers=headers).status_code == 403
    assert (
        client.get(f"/api/v1/webhooks/{made['id']}/deliveries", headers=headers).status_code == 403
    )
    assert client.delete(f"/api/v1/webhooks/{made['id']}", headers=headers).status_code == 403


def test_deliveries_are_queued_in_the_events_transaction(
    app: Flask, client: FlaskClient, org: Org
) -> None:
    hook = subscribe(client, org, "https://example.com/x", ["visit.released"])
    visit_id = pushed(client, org)

    def release_then_fail() -> None:
        with app.app_context(), transaction(get_db()) as db:
            release_visit(db, visit_id)
            raise RuntimeError("the release fails after the event")

    with pytest.raises(RuntimeError):
        release_then_fail()
    assert deliveries(client, org, hook["id"]) == []
    review(client, org, visit_id, "release")
    [queued] = deliveries(client, org, hook["id"])
    assert (queued["event"], queued["status"], queued["attempts"]) == (
        "visit.released",
        "pending",
        0,
    )


def test_job_delivers_signed_pseudonymous_bodies(app: Flask, client: FlaskClient, org: Org) -> None:
    with Receiver() as receiver:
        hook = subscribe(client, org, receiver.url)
        visit_id = pushed(client, org)
        review(client, org, visit_id, "return", note="Shopper Sam: add the greeter")
        assert run_job(app, "deliver_webhooks") == {
            "delivered": 2,
            "retry": 0,
            "failed": 0,
            "cancelled": 0,
            "deferred": 0,
        }
        submitted, returned = receiver.received
    for request in (submitted, returned):
        assert verify_signature(hook["secret"], request)
        body = request.json()
        assert request.headers["X-Fieldobs-Event"] == body["event"]
        assert request.headers["X-Fieldobs-Event-Id"] == body["id"]
        assert int(request.headers["X-Fieldobs-Timestamp"]) == int(
            parse_rfc3339(body["occurred_at"]).timestamp()
        )
        visit = body["data"]["visit"]
        assert visit["id"] == visit_id
        assert set(visit["observer"]) == {"pseudonym"}
        text = request.body.decode()
        assert "shopper" not in text.lower()
        assert str(org.users["shopper"]) not in {str(v) for v in visit.values()}
    assert [submitted.json()["event"], returned.json()["event"]] == [
        "visit.submitted",
        "visit.returned",
    ]
    assert not verify_signature("whsec_wrong", submitted)
    log = deliveries(client, org, hook["id"])
    assert {d["status"] for d in log} == {"delivered"}
    assert log[0]["log"][0]["status_code"] == 200


def test_failures_are_retried_with_exponential_backoff_and_logged(
    app: Flask, client: FlaskClient, org: Org
) -> None:
    reconfigure(app, WEBHOOK_BACKOFF_SECONDS=30, WEBHOOK_MAX_ATTEMPTS=5)
    with Receiver([500, 503]) as receiver:
        hook = subscribe(client, org, receiver.url, ["visit.submitted"])
        pushed(client, org)
        now = utcnow()
        assert run_job(app, "deliver_webhooks", now)["retry"] == 1
        # Not due yet: nothing is sent.
        assert run_job(app, "deliver_webhooks", now + timedelta(seconds=29))["retry"] == 0
        first = deliveries(client, org, hook["id"])[0]
        assert parse_rfc3339(first["next_attempt_at"]) == now + timedelta(seconds=30)
        assert run_job(app, "deliver_webhooks", now + timedelta(seconds=30))["retry"] == 1
        second = deliveries(client, org, hook["id"])[0]
        assert parse_rfc3339(second["next_attempt_at"]) == now + timedelta(seconds=30 + 60)
        assert run_job(app, "deliver_webhooks", now + timedelta(seconds=90))["delivered"] == 1
        sent = receiver.received
    assert len({r.body for r in sent}) == 1  # every retry carries the same bytes
    assert [r.headers["X-Fieldobs-Attempt"] for r in sent] == ["1", "2", "3"]
    [done] = deliveries(client, org, hook["id"])
    assert done["status"] == "delivered"
    assert [(a["attempt"], a["status_code"], a["outcome"]) for a in done["log"]] == [
        (1, 500, "retry"),
        (2, 503, "retry"),
        (3, 200, "delivered"),
    ]


def test_a_delivery_gives_up_after_the_last_attempt(
    app: Flask, client: FlaskClient, org: Org
) -> None:
    reconfigure(app, WEBHOOK_BACKOFF_SECONDS=1, WEBHOOK_MAX_ATTEMPTS=2)
    # Nothing listens on this port: the connection is refused.
    hook = subscribe(client, org, f"http://127.0.0.1:{free_port()}/hook", ["visit.submitted"])
    pushed(client, org)
    now = utcnow()
    run_job(app, "deliver_webhooks", now)
    assert run_job(app, "deliver_webhooks", now + timedelta(seconds=5))["failed"] == 1
    [gone] = deliveries(client, org, hook["id"])
    assert gone["status"] == "failed"
    assert [a["outcome"] for a in gone["log"]] == ["retry", "failed"]
    assert gone["log"][0]["status_code"] is None
    assert gone["last_error"]


def test_a_dead_endpoint_is_never_called_on_a_request_and_costs_one_timeout_per_run(
    app: Flask, client: FlaskClient, org: Org
) -> None:
    reconfigure(app, WEBHOOK_TIMEOUT_SECONDS=0.5)
    with Receiver(delay=3) as hanging:
        subscribe(client, org, hanging.url, ["visit.submitted", "visit.released"])
        ids = [pushed(client, org) for _ in range(3)]
        review(client, org, ids[0], "release")
        assert hanging.received == []  # no HTTP on the request path
        counts = run_job(app, "deliver_webhooks")
        assert len(hanging.received) == 1  # the first timeout; its other deliveries wait
    assert counts == {"delivered": 0, "retry": 1, "failed": 0, "cancelled": 0, "deferred": 3}


def test_deleting_a_subscription_cancels_what_is_pending(client: FlaskClient, org: Org) -> None:
    hook = subscribe(client, org, "https://example.com/x", ["visit.submitted"])
    pushed(client, org)
    admin = org.auth("admin")
    assert client.delete(f"/api/v1/webhooks/{hook['id']}", headers=admin).status_code == 204
    assert client.get(f"/api/v1/webhooks/{hook['id']}", headers=admin).status_code == 404
    assert client.get("/api/v1/webhooks", headers=admin).get_json()["webhooks"] == []


def test_assignment_expired_is_delivered_with_a_pseudonym(
    app: Flask, client: FlaskClient, org: Org
) -> None:
    with Receiver() as receiver:
        hook = subscribe(client, org, receiver.url, ["assignment.expired"])
        made = assign(client, org).get_json()
        run_job(app, "expire_assignments", utcnow() + timedelta(days=2))
        run_job(app, "deliver_webhooks", utcnow() + timedelta(days=2))
        [request] = receiver.received
    assert verify_signature(hook["secret"], request)
    data = request.json()["data"]["assignment"]
    assert (data["id"], data["status"]) == (made["id"], "expired")
    assert set(data["shopper"]) == {"pseudonym"}
    assert b"shopper_id" not in request.body
    assert b'"shopper"' not in request.body.replace(b'"shopper":{', b"")
