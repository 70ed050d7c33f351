"""Start-up: bring a data directory to the current schema and publish checklists."""

from __future__ import annotations

from flask import Flask

from fieldobs.checklists.published import publish_directory
from fieldobs.db import storage_for
from fieldobs.errors import FieldobsError
from fieldobs.extensions import settings_of
from fieldobs.storage.migrate import migrate


def initialise(app: Flask, *, strict: bool) -> list[dict[str, object]]:
    """Apply migrations and publish changed checklists; with strict, a bad file raises."""
    db = storage_for(app).connection()
    applied = migrate(db)
    for name in applied:
        app.logger.info("applied migration %s", name)
    try:
        outcomes = publish_directory(db, settings_of(app).checklists_dir)
    except FieldobsError as error:
        if strict:
            raise
        # A broken file must not take the service down: published versions stay servable.
        app.logger.error("checklists not published: %s %s", error.message, error.fields or "")
        return []
    for outcome in outcomes:
        if outcome["published"]:
            app.logger.info("published checklist %s v%s", outcome["slug"], outcome["version"])
    return outcomes


def init_app(app: Flask) -> None:
    """Initialise the data directory on start when AUTO_INIT is on."""
    if settings_of(app).auto_init:
        initialise(app, strict=False)
