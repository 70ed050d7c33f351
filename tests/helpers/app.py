"""The seeded organisation and the app factory that every test shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from fieldobs import create_app
from fieldobs.extensions import SETTINGS_KEY
from fieldobs.settings import Settings
from tests.helpers.contract import check_response
from tests.helpers.resolver import StubResolver

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
PASSWORD = "correct horse battery"


@dataclass
class Org:
    """The seeded organisation: ids and a bearer token per user."""

    areas: dict[str, int] = field(default_factory=dict)
    locations: dict[str, int] = field(default_factory=dict)
    users: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def auth(self, user: str) -> dict[str, str]:
        """Return the Authorization header of a seeded user."""
        return {"Authorization": f"Bearer {self.tokens[user]}"}


# username -> (role, grants); the matrix tests rely on these scopes.
SEED_USERS: dict[str, tuple[str, dict[str, list[str]]]] = {
    "admin": ("admin", {}),
    "lead": ("area_lead", {"areas": ["north"]}),
    "manager": ("manager", {"locations": ["leeds"]}),
    "manager_south": ("manager", {"locations": ["brighton"]}),
    "shopper": ("shopper", {}),
    "shopper2": ("shopper", {}),
}


def make_app(data_dir: Path, **overrides: Any) -> Flask:
    """Create an app on a data directory with test settings.

    Copies of the template are migrated and published already, so start-up work is skipped.
    """
    settings = {
        "DATA_DIR": str(data_dir),
        "TESTING": True,
        "AUTO_INIT": False,
        # Webhook host names resolve from a table: tests make no DNS query.
        "WEBHOOK_RESOLVER": StubResolver(),
    }
    app = create_app({**settings, **overrides})
    app.test_client_class = BufferedClient
    return app


class BufferedClient(FlaskClient):
    """A test client that reads each body whole and closes it (file responses included)."""

    def open(self, *args: Any, **kwargs: Any) -> TestResponse:
        """Send a request; the response body is read and its file closed before returning."""
        kwargs.setdefault("buffered", True)
        response = super().open(*args, **kwargs)
        check_response(self.application, response)
        return response


def reconfigure(app: Flask, **overrides: Any) -> None:
    """Change settings of a test's app (settings are frozen once the app is made)."""
    app.config.update(overrides)
    app.extensions[SETTINGS_KEY] = Settings.from_config(app.config)
