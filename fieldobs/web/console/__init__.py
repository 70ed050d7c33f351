"""The console blueprint: pages, CSRF, the session cookie and HTML error pages."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from flask import Flask, render_template, request
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError

from fieldobs.errors import FieldobsError
from fieldobs.web import charts
from fieldobs.web.console.auth import csrf, load_caller
from fieldobs.web.console.blueprint import bp
from fieldobs.web.console.formats import heat_cell, number

# Importing the view modules registers their routes on the blueprint.
from fieldobs.web.console import admin, views  # noqa: F401  isort: skip

# Flask's and Flask-WTF's own keys; the console's settings are in fieldobs/settings.py.
CONSOLE_DEFAULTS: dict[str, Any] = {
    # CSRF checks are explicit: the console checks every form; the Bearer-token API needs none
    # (a cross-site page cannot attach an Authorization header).
    "WTF_CSRF_CHECK_DEFAULT": False,
    # The token lives as long as the browser's Flask session, not an hour: long forms survive.
    "WTF_CSRF_TIME_LIMIT": None,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_HTTPONLY": True,
}


def _error_page(error: FieldobsError) -> ResponseReturnValue:
    titles = {403: "Not for your role", 404: "Not found", 422: "Check what you entered"}
    return (
        render_template(
            "console/message.html",
            title=titles.get(error.status, "Something went wrong"),
            text=error.message,
            fields=error.fields or {},
        ),
        error.status,
        error.headers,
    )


def _csrf_failed(_error: CSRFError) -> ResponseReturnValue:
    return (
        render_template(
            "console/message.html",
            title="The form could not be accepted",
            text="It was missing its security token or had expired. Go back, reload the page "
            "and send it again.",
            fields={},
        ),
        400,
    )


# Set up once, at import: a blueprint is shared by every app (tests create many).
bp.before_request(load_caller)
bp.register_error_handler(FieldobsError, _error_page)
bp.register_error_handler(CSRFError, _csrf_failed)


def _query(**changes: Any) -> str:
    """Return the current URL's query with some arguments changed (None removes one)."""
    args = request.args.to_dict()
    for key, value in changes.items():
        if value is None:
            args.pop(key, None)
        else:
            args[key] = str(value)
    return "?" + urlencode(args) if args else "?"


def _from_iso(text: str | None) -> datetime | None:
    return None if not text else datetime.fromisoformat(text)


def _duration(span: timedelta | None) -> str:
    """Say how long, roughly: "3 days", "5 h", "12 min"."""
    if span is None:
        return "–"
    seconds = span.total_seconds()
    if seconds >= 2 * 86400:
        return f"{int(seconds // 86400)} days"
    if seconds >= 3600:
        return f"{int(seconds // 3600)} h"
    return f"{max(0, int(seconds // 60))} min"


def init_app(app: Flask) -> None:
    """Register the console, its CSRF protection, error pages and template helpers."""
    for key, value in CONSOLE_DEFAULTS.items():
        app.config.setdefault(key, value)
    csrf.init_app(app)
    app.register_blueprint(bp)
    app.jinja_env.globals.update(charts=charts, query=_query)
    app.jinja_env.filters.update(
        fromisotime=_from_iso, duration=_duration, n=number, heatcell=heat_cell
    )
