"""fieldobs: self-hosted backend for mystery shopping and field observation."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from flask import Flask

from fieldobs import api, db, wiring
from fieldobs.extensions import SETTINGS_KEY, STATE_KEY
from fieldobs.settings import DEFAULTS, Settings
from fieldobs.storage.app_state import AppState

__all__ = ["create_app"]


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: defaults, then instance/config.py, then FIELDOBS_* env vars, then `config`."""
    app = Flask(__name__, instance_relative_config=True)
    # Deep: nested defaults (JOB_INTERVALS) must not be shared, or changed, between apps.
    app.config.from_mapping(copy.deepcopy(DEFAULTS))
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("FIELDOBS")
    if config:
        app.config.update(config)
    # app.json is typed as the JSONProvider base; sort_keys is on DefaultJSONProvider, Flask's.
    app.json.sort_keys = bool(app.config["JSON_SORT_KEYS"])  # type: ignore[attr-defined]
    # Typed and checked once: a bad FIELDOBS_* value stops the start, naming the variable.
    settings = Settings.from_config(app.config)
    app.extensions[SETTINGS_KEY] = settings
    app.config["DATA_DIR"] = str(settings.data_dir)
    # Registries and caches are the app's own, so two apps in one process never share them.
    app.extensions[STATE_KEY] = state = AppState()
    wiring.connect(state)
    db.init_app(app)
    api.init_app(app)
    # The console (web pages) and its CSRF protection: fieldobs/web/.
    from fieldobs.web import console

    console.init_app(app)
    from fieldobs import lifecycle
    from fieldobs.cli import commands as cli
    from fieldobs.operations import scheduler

    cli.init_app(app)
    lifecycle.init_app(app)
    scheduler.init_app(app)
    from fieldobs.web import field_app

    field_app.init_app(app)
    return app
