"""Per-app state kept in `app.extensions`, so two apps in one process never share it."""

from __future__ import annotations

from flask import Flask, current_app

from fieldobs.settings import Settings

SETTINGS_KEY = "fieldobs.settings"


def settings_of(app: Flask) -> Settings:
    """Return the app's typed settings (built once by create_app)."""
    settings: Settings = app.extensions[SETTINGS_KEY]
    return settings


def current_settings() -> Settings:
    """Return the current app's typed settings."""
    return settings_of(current_app)
