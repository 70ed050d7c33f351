"""Helpers for the operations tests: assignments, visits made now, pulls and jobs."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from fieldobs.db import get_db
from fieldobs.extensions import settings_of
from fieldobs.operations.jobs import JOBS
from fieldobs.timeutil import to_rfc3339, utcnow
from tests.helpers.app import Org
from tests.helpers.responses import json_object
from tests.helpers.visit_factory import make_visit


def iso(moment: datetime) -> str:
    """Format an aware datetime as RFC 3339 UTC."""
    return to_rfc3339(moment)


def in_hours(hours: float) -> str:
    """Return now plus some hours, RFC 3339."""
    return iso(utcnow() + timedelta(hours=hours))


def checklist(client: FlaskClient, org: Org, slug: str = "mystery-shop") -> dict[str, Any]:
    """Return the latest version of a checklist."""
    return json_object(client.get(f"/api/v1/checklists/{slug}", headers=org.auth("admin")))


def assign(
    client: FlaskClient,
    org: Org,
    *,
    shopper: Any = "shopper",
    location: str = "leeds",
    start: str | None = None,
    end: str | None = None,
    checklist_slug: str = "mystery-shop",
    user: str = "admin",
) -> TestResponse:
    """POST an assignment whose window is open now (by default)."""
    return client.post(
        "/api/v1/assignments",
        json={
            "shopper": shopper,
            "location_id": org.locations[location],
            "checklist": checklist_slug,
            "window_start": start or in_hours(-2),
            "window_end": end or in_hours(24),
        },
        headers=org.auth(user),
    )


def visit_now(definition: dict[str, Any], location_id: int, **extra: Any) -> dict[str, Any]:
    """Return a valid visit made in the last half hour."""
    now = utcnow()
    times = {
        "started_at": iso(now - timedelta(minutes=30)),
        "finished_at": iso(now - timedelta(minutes=5)),
    }
    return make_visit(definition, location_id, **{**times, **extra})


def push(client: FlaskClient, org: Org, visit: dict[str, Any], user: str = "shopper") -> Any:
    """PUT a visit as a user."""
    return client.put(f"/api/v1/visits/{visit['id']}", json=visit, headers=org.auth(user))


def pull(client: FlaskClient, org: Org, user: str, cursor: str | None = None) -> dict[str, Any]:
    """Pull changes as a user; return the body."""
    query = {"cursor": cursor} if cursor else {}
    response = client.get("/api/v1/sync/changes", query_string=query, headers=org.auth(user))
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def run_job(app: Flask, name: str, now: datetime | None = None) -> dict[str, Any]:
    """Call a job function directly, as the scheduler would, without the scheduler."""
    with app.app_context():
        return JOBS[name](get_db(), settings_of(app), now or utcnow())


def review(client: FlaskClient, org: Org, visit_id: str, action: str, **extra: Any) -> TestResponse:
    """Review a visit as the admin."""
    return client.post(
        f"/api/v1/visits/{visit_id}/review",
        json={"action": action, **extra},
        headers=org.auth("admin"),
    )


@dataclass
class Received:
    """One request a receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """Return the body parsed."""
        return json.loads(self.body)


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and hung up is what some tests want


class Receiver:
    """A real HTTP endpoint on 127.0.0.1 in a thread, answering with scripted statuses."""

    def __init__(self, statuses: list[int] | None = None, *, delay: float = 0) -> None:
        self.received: list[Received] = []
        self.statuses = list(statuses or [])  # answered in turn; then 200
        self.delay = delay
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with receiver.lock:
                    receiver.received.append(Received(self.path, dict(self.headers), body))
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_args: Any) -> None:
                pass

        self.lock = threading.Lock()
        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """Return the URL to subscribe."""
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, count: int, timeout: float = 15) -> list[Received]:
        """Wait until at least `count` requests arrived; return them all."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.05)
        raise AssertionError(f"expected {count} requests, got {len(self.received)}")


def verify_signature(secret: str, request: Received) -> bool:
    """Check a delivery's signature as a receiver would: HMAC-SHA256 of the exact body."""
    expected = "sha256=" + hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, request.headers["X-Fieldobs-Signature"])
