"""Console fixtures: a seeded organisation per module, signed-in clients, a live server."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import WSGIRequestHandler, make_server

from fieldobs.db import storage_for
from tests.helpers.app import Org, make_app
from tests.helpers.console_world import World, seed_world, sign_in


@pytest.fixture(scope="session")
def world_template(template: tuple[Path, Org], tmp_path_factory: pytest.TempPathFactory) -> World:
    """Seed the console's organisation once per session; tests get copies."""
    data_dir = tmp_path_factory.mktemp("console-world")
    shutil.copy(template[0] / "fieldobs.db", data_dir / "fieldobs.db")
    return seed_world(data_dir, template[1])


def _copy(world: World, target: Path) -> World:
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(world.data_dir / "fieldobs.db", target / "fieldobs.db")
    shutil.copytree(world.data_dir / "photos", target / "photos", dirs_exist_ok=True)
    return World(**{**world.__dict__, "data_dir": target})


@pytest.fixture
def world(world_template: World, tmp_path: Path) -> World:
    """Return a fresh copy of the console's organisation."""
    return _copy(world_template, tmp_path / "world")


@pytest.fixture
def web_app(world: World) -> Iterator[Flask]:
    """Return an app on the copy."""
    application = make_app(world.data_dir)
    yield application
    storage_for(application).close_thread_connection()


@pytest.fixture
def signed_in(web_app: Flask) -> Callable[[str], FlaskClient]:
    """Return a function that makes a test client signed in as a seeded user."""

    def make(username: str) -> FlaskClient:
        return sign_in(web_app.test_client(), username)

    return make


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any) -> None:
        """Keep test output free of access lines."""


class LiveServer:
    """The app served on 127.0.0.1 from a thread (werkzeug), for the browser."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.server.shutdown()
        self.thread.join(5)


@pytest.fixture(scope="module")
def live(world_template: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Serve one copy of the organisation for a whole test module."""
    copy = _copy(world_template, tmp_path_factory.mktemp("live") / "data")
    app = make_app(copy.data_dir)
    with LiveServer(app) as server:
        server.world = copy  # type: ignore[attr-defined]
        yield server
