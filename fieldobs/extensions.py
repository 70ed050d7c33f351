"""Per-app state kept in `app.extensions`, so two apps in one process never share it."""

from __future__ import annotations

from flask import Flask, current_app

from fieldobs.settings import Settings
from fieldobs.storage.app_state import AppState

SETTINGS_KEY = "fieldobs.settings"
# Handlers, flaggers, feeds and caches: built in create_app, handed to the app's storage.
STATE_KEY = "fieldobs.state"


def settings_of(app: Flask) -> Settings:
    """Return the app's typed settings (built once by create_app)."""
    settings: Settings = app.extensions[SETTINGS_KEY]
    return settings


def current_settings() -> Settings:
    """Return the current app's typed settings."""
    return settings_of(current_app)


def state_of(app: Flask) -> AppState:
    """Return the app's registries and caches (the domains reach them through a connection)."""
    state: AppState = app.extensions[STATE_KEY]
    return state
