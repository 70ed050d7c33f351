"""Make counted visits for the score tests: pushed through the API, released by review."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from fieldobs.db import get_db, storage_for
from fieldobs.storage.connection import transaction
from fieldobs.visits.review import release_visit, return_visit
from tests.helpers.app import Org, make_app
from tests.helpers.visit_factory import make_visit

MYSTERY = "mystery-shop"
WALKTHROUGH = "back-to-the-floor"


def history_app(data_dir: Path) -> Iterator[Flask]:
    """Yield an app that trusts device times years back, so visits can be placed in the past."""
    application = make_app(data_dir, CLOCK_PAST_TOLERANCE_DAYS=100_000)
    yield application
    storage_for(application).close_thread_connection()


class Visits:
    """Push, correct, release and return visits as real users would."""

    def __init__(self, app: Flask, client: FlaskClient, org: Org) -> None:
        self.app, self.client, self.org = app, client, org
        self._checklists: dict[str, dict[str, Any]] = {}
        self.bodies: dict[str, dict[str, Any]] = {}
        self.users: dict[str, str] = {}

    def checklist(self, slug: str) -> dict[str, Any]:
        """Return the latest published version of a checklist."""
        if slug not in self._checklists:
            response = self.client.get(f"/api/v1/checklists/{slug}", headers=self.org.auth("admin"))
            self._checklists[slug] = response.get_json()
        return self._checklists[slug]

    def push(
        self,
        location: str,
        at: str,
        *,
        quality: float = 1.0,
        user: str = "shopper",
        slug: str = MYSTERY,
        answers: Sequence[dict[str, Any]] | None = None,
    ) -> str:
        """Push a new visit finished at `at`; return its id."""
        body = make_visit(
            self.checklist(slug),
            self.org.locations[location],
            quality=quality,
            started_at=at,
            finished_at=at,
        )
        if answers is not None:
            body["answers"] = list(answers)
        self._put(body, user, 201)
        self.bodies[body["id"]] = body
        self.users[body["id"]] = user
        return str(body["id"])

    def correct(
        self, visit_id: str, *, quality: float, at: str | None = None, location: str | None = None
    ) -> None:
        """Push the next revision of a returned visit with other answers (time, place)."""
        old = self.bodies[visit_id]
        body = make_visit(
            self.checklist(old["checklist"]["slug"]),
            self.org.locations[location] if location else old["location_id"],
            visit_id=visit_id,
            revision=old["revision"] + 1,
            quality=quality,
            started_at=at or old["started_at"],
            finished_at=at or old["finished_at"],
        )
        self._put(body, self.users[visit_id], 200)
        self.bodies[visit_id] = body

    def _put(self, body: dict[str, Any], user: str, status: int) -> None:
        response = self.client.put(
            f"/api/v1/visits/{body['id']}", json=body, headers=self.org.auth(user)
        )
        assert response.status_code == status, response.get_json()

    def release(self, visit_id: str) -> None:
        """Release a submitted visit, as a reviewer does."""
        with self.app.app_context():
            db = get_db()
            with transaction(db):
                release_visit(db, visit_id)

    def send_back(self, visit_id: str) -> None:
        """Return a visit for correction."""
        with self.app.app_context():
            db = get_db()
            with transaction(db):
                return_visit(db, visit_id, "please check")

    def status(self, visit_id: str) -> str:
        """Return a visit's status."""
        with self.app.app_context():
            row = get_db().execute("SELECT status FROM visits WHERE id = ?", [visit_id]).fetchone()
        return str(row[0])

    def score(self, visit_id: str) -> float:
        """Return a visit's stored (unrounded) score."""
        with self.app.app_context():
            row = get_db().execute("SELECT score FROM visits WHERE id = ?", [visit_id]).fetchone()
        return float(row[0])

    def shop(self, location: str, at: str, quality: float = 1.0, user: str = "shopper") -> str:
        """Push and release one mystery shop; return its id."""
        visit_id = self.push(location, at, quality=quality, user=user)
        self.release(visit_id)
        return visit_id

    def walk(self, location: str, at: str, quality: float = 1.0, user: str = "manager") -> str:
        """Push one walk-through (it counts once submitted); return its id."""
        return self.push(location, at, quality=quality, user=user, slug=WALKTHROUGH)


def get(client: FlaskClient, org: Org, path: str, user: str = "admin") -> Any:
    """GET a path as a user and return the response."""
    return client.get(path, headers=org.auth(user))
