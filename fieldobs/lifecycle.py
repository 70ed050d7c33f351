"""Start-up: bring a data directory to the current schema and publish checklists."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import Flask

from fieldobs.checklists.published import publish_directory
from fieldobs.db import storage_for
from fieldobs.errors import FieldobsError
from fieldobs.extensions import settings_of
from fieldobs.storage.migrate import migrate

STARTUP_KEY = "fieldobs.startup"


@dataclass
class StartupWork:
    """What this app's start-up changed, so a command can report it as its own."""

    migrations: list[str] = field(default_factory=list)
    published: set[tuple[str, int]] = field(default_factory=set)


def startup_work(app: Flask) -> StartupWork:
    """Return what start-up (and initialise since) applied and published in this app."""
    work: StartupWork = app.extensions.setdefault(STARTUP_KEY, StartupWork())
    return work


def initialise(app: Flask, *, strict: bool) -> list[dict[str, object]]:
    """Apply migrations and publish changed checklists; with strict, a bad file raises."""
    db = storage_for(app).connection()
    work = startup_work(app)
    applied = migrate(db)
    work.migrations.extend(applied)
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
        key = (str(outcome["slug"]), int(str(outcome["version"])))
        if outcome["published"]:
            work.published.add(key)
            app.logger.info("published checklist %s v%s", *key)
        # Published by this app's start-up a moment ago counts as published by this call.
        outcome["published"] = key in work.published
    return outcomes


def init_app(app: Flask) -> None:
    """Initialise the data directory on start when AUTO_INIT is on."""
    if settings_of(app).auto_init:
        initialise(app, strict=False)
