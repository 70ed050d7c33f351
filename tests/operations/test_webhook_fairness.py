"""A dead webhook never starves the healthy ones: endpoints take turns within a run, and one
failing for long is paused (its deliveries kept) until a success or an admin resumes it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from fieldobs.timeutil import utcnow
from tests.helpers.app import Org, reconfigure
from tests.helpers.ops_factory import Receiver, checklist, push, run_job, visit_now
from tests.helpers.server_process import free_port


@pytest.fixture(autouse=True)
def private_receivers(app: Flask) -> None:
    """Let webhooks reach the receivers these tests run on 127.0.0.1."""
    reconfigure(app, WEBHOOK_ALLOW_PRIVATE_TARGETS=True, WEBHOOK_BATCH=10)


def subscribe(client: FlaskClient, org: Org, url: str) -> dict[str, Any]:
    """Subscribe an agency URL to visit.submitted; return the subscription."""
    response = client.post(
        "/api/v1/webhooks",
        json={"url": url, "events": ["visit.submitted"], "audience": "agency"},
        headers=org.auth("admin"),
    )
    assert response.status_code == 201, response.get_json()
    made: dict[str, Any] = response.get_json()
    return made


def push_visits(client: FlaskClient, org: Org, count: int) -> None:
    """Push `count` mystery shops (each queues one delivery per subscription)."""
    definition = checklist(client, org)
    for _ in range(count):
        visit = visit_now(definition, org.locations["leeds"])
        assert push(client, org, visit).status_code == 201


def attempts_of(client: FlaskClient, org: Org, hook_id: int) -> list[dict[str, Any]]:
    """Return every attempt logged for a subscription."""
    response = client.get(
        f"/api/v1/webhooks/{hook_id}/deliveries",
        query_string={"limit": 200},
        headers=org.auth("admin"),
    )
    return [a for d in response.get_json()["deliveries"] for a in d["log"]]


def hook(client: FlaskClient, org: Org, hook_id: int) -> dict[str, Any]:
    """Return a subscription as the admin sees it."""
    found: dict[str, Any] = client.get(
        f"/api/v1/webhooks/{hook_id}", headers=org.auth("admin")
    ).get_json()
    return found


def test_a_dead_endpoint_takes_one_turn_per_run_and_the_healthy_one_the_rest(
    app: Flask, client: FlaskClient, org: Org
) -> None:
    with Receiver() as healthy:
        dead = subscribe(client, org, f"http://127.0.0.1:{free_port()}/hook")
        subscribe(client, org, healthy.url)
        push_visits(client, org, 30)
        start = utcnow()
        per_run = []
        for run in range(1, 5):
            before = len(healthy.received)
            run_job(app, "deliver_webhooks", start + timedelta(seconds=10 * run))
            per_run.append(len(healthy.received) - before)
    # Batches of 10 attempts: the dead endpoint one, the healthy one the other 9, until done.
    # (Before: by id, the dead endpoint's backlog took the batch: 5, 3, 2, 1 per run.)
    assert per_run == [9, 9, 9, 3]
    assert len(attempts_of(client, org, dead["id"])) == 4


def test_a_long_failing_endpoint_is_paused_keeping_its_deliveries(
    app: Flask, client: FlaskClient, org: Org
) -> None:
    reconfigure(
        app,
        WEBHOOK_ALLOW_PRIVATE_TARGETS=True,
        WEBHOOK_PAUSE_AFTER_SECONDS=600,
        WEBHOOK_PROBE_SECONDS=3600,
        WEBHOOK_MAX_ATTEMPTS=2,
        WEBHOOK_BACKOFF_SECONDS=1,
    )
    with Receiver([500] * 4) as failing, Receiver() as healthy:
        sick = subscribe(client, org, failing.url)
        subscribe(client, org, healthy.url)
        push_visits(client, org, 3)
        start = utcnow()
        run_job(app, "deliver_webhooks", start + timedelta(seconds=10))
        assert hook(client, org, sick["id"])["paused_at"] is None
        run_job(app, "deliver_webhooks", start + timedelta(seconds=700))
        paused = hook(client, org, sick["id"])
        assert paused["paused_at"] is not None
        assert paused["failing_since"] is not None
        # Paused: no attempt until the probe is due, and nothing is given up on.
        for minutes in (20, 40, 60):
            run_job(app, "deliver_webhooks", start + timedelta(minutes=minutes))
        assert len(failing.received) == 2
        assert paused["pending"] == 3
        assert paused["failed"] == 0
        # The probe: one delivery is tried; it fails (500), the endpoint stays paused.
        run_job(app, "deliver_webhooks", start + timedelta(seconds=700 + 3600))
        assert len(failing.received) == 3
        assert hook(client, org, sick["id"])["failed"] == 0
        # The next probe succeeds: the endpoint resumes and the kept deliveries flow.
        failing.statuses.clear()
        run_job(app, "deliver_webhooks", start + timedelta(seconds=700 + 7200))
        resumed = hook(client, org, sick["id"])
        assert (resumed["paused_at"], resumed["failing_since"]) == (None, None)
        run_job(app, "deliver_webhooks", start + timedelta(seconds=700 + 7210))
        assert hook(client, org, sick["id"])["pending"] == 0
        assert len(healthy.received) == 3  # the other endpoint was never held up


def test_an_admin_resumes_a_paused_endpoint(app: Flask, client: FlaskClient, org: Org) -> None:
    reconfigure(
        app,
        WEBHOOK_ALLOW_PRIVATE_TARGETS=True,
        WEBHOOK_PAUSE_AFTER_SECONDS=0,
        WEBHOOK_PROBE_SECONDS=86_400,
    )
    with Receiver([503]) as receiver:
        made = subscribe(client, org, receiver.url)
        push_visits(client, org, 2)
        start = utcnow()
        run_job(app, "deliver_webhooks", start + timedelta(seconds=10))
        assert hook(client, org, made["id"])["paused_at"] is not None
        run_job(app, "deliver_webhooks", start + timedelta(hours=1))
        assert len(receiver.received) == 1  # paused: nothing tried
        for user in ("manager", "shopper"):
            refused = client.post(f"/api/v1/webhooks/{made['id']}/resume", headers=org.auth(user))
            assert refused.status_code == 403
        resumed = client.post(f"/api/v1/webhooks/{made['id']}/resume", headers=org.auth("admin"))
        assert resumed.status_code == 200
        assert resumed.get_json()["paused_at"] is None
        run_job(app, "deliver_webhooks", utcnow() + timedelta(seconds=1))
        assert len(receiver.received) == 3
    assert hook(client, org, made["id"])["pending"] == 0
