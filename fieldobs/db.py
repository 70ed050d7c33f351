"""Flask glue for storage (as in flaskr): one Storage per app, the connection on `g`."""

from __future__ import annotations

from flask import Flask, current_app, g

from fieldobs.extensions import settings_of, state_of
from fieldobs.storage.connection import Database, Storage


def storage_for(app: Flask) -> Storage:
    """Return the app's storage."""
    storage: Storage = app.extensions["fieldobs.storage"]
    return storage


def get_db() -> Database:
    """Return the database for this request or app context."""
    if "db" not in g:
        g.db = storage_for(current_app).connection()
    db: Database = g.db
    return db


def _release_connection(_exc: BaseException | None) -> None:
    db: Database | None = g.pop("db", None)
    # The connection is kept for the thread's next request; never hand it on mid-transaction.
    if db is not None and db.conn.in_transaction:
        db.conn.execute("ROLLBACK")


def init_app(app: Flask) -> None:
    """Attach storage to the app and release connections after each context."""
    settings = settings_of(app)
    storage = Storage(
        settings.database,
        synchronous=settings.sqlite_synchronous,
        busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        app_state=state_of(app),
    )
    app.extensions["fieldobs.storage"] = storage
    app.teardown_appcontext(_release_connection)
