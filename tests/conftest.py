"""Shared fixtures: a real SQLite database per test, copied from a seeded template."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import hypothesis
import pytest
from flask import Flask
from flask.testing import FlaskClient

from fieldobs.db import get_db, storage_for
from fieldobs.people.accounts import create_user, issue_token
from fieldobs.people.orgs import create_area, create_location
from tests.helpers.app import PASSWORD, SEED_USERS, Org, make_app

# The browser fixture (Chromium under Playwright) for the console and field-app tests, and the
# figures tests measure, printed at the end of the run.
pytest_plugins = ["tests.helpers.browser", "tests.helpers.figures"]


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Org]:
    """Seed one database per test session; tests get copies (scrypt is slow by design)."""
    data_dir = tmp_path_factory.mktemp("template")
    app = make_app(data_dir, AUTO_INIT=True)
    org = Org()
    with app.app_context():
        db = get_db()
        org.areas = {
            "north": create_area(db, "North")["id"],
            "south": create_area(db, "South")["id"],
        }
        for key, name, area, tz in [
            ("leeds", "Leeds", "north", "Europe/London"),
            ("york", "York", "north", "Europe/London"),
            ("brighton", "Brighton", "south", "Europe/London"),
            ("dublin", "Dublin", "south", "Europe/Dublin"),
        ]:
            org.locations[key] = create_location(
                db, {"name": name, "area_id": org.areas[area], "timezone": tz}
            )["id"]
        for username, (role, grants) in SEED_USERS.items():
            user = create_user(
                db,
                username=username,
                password=PASSWORD,
                role=role,
                location_ids=[org.locations[k] for k in grants.get("locations", [])],
                area_ids=[org.areas[k] for k in grants.get("areas", [])],
            )
            org.users[username] = user["id"]
            org.tokens[username] = issue_token(db, username, PASSWORD, 24)["token"]
    # Closing the last connection checkpoints the WAL, so the .db file alone is complete.
    storage_for(app).close_thread_connection()
    return data_dir, org


@pytest.fixture
def data_dir(tmp_path: Path, template: tuple[Path, Org]) -> Path:
    """Return a fresh data directory holding a copy of the seeded database."""
    target = tmp_path / "data"
    target.mkdir()
    shutil.copy(template[0] / "fieldobs.db", target / "fieldobs.db")
    return target


@pytest.fixture
def org(template: tuple[Path, Org]) -> Org:
    """Return the seeded organisation."""
    return template[1]


@pytest.fixture
def app(data_dir: Path) -> Iterator[Flask]:
    """Return an app on a fresh copy of the seeded database."""
    application = make_app(data_dir)
    yield application
    storage_for(application).close_thread_connection()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """Return a test client."""
    return app.test_client()


# Property tests draw from a fixed seed: the same examples on every run, CI included.
hypothesis.settings.register_profile("fieldobs", derandomize=True)
hypothesis.settings.load_profile("fieldobs")
