"""The API explorer at /api/v1/docs: Swagger UI served from the swagger-ui-bundle package."""

from __future__ import annotations

from flask import Flask, Response, send_from_directory
from swagger_ui_bundle import swagger_ui_path

from fieldobs.api.security import public

DOCS_PATH = "docs"
ASSETS_URL = "/api/v1/docs/assets/"
# Long enough for a browser session; the files change only with the package.
ASSET_CACHE_SECONDS = 3600


@public
def docs_asset(name: str) -> Response:
    """Serve one Swagger UI file from the installed package (no CDN: closed networks work)."""
    return send_from_directory(swagger_ui_path, name, max_age=ASSET_CACHE_SECONDS)


def init_app(app: Flask) -> None:
    """Configure flask-smorest's Swagger UI page to load its assets from this service."""
    app.config.setdefault("OPENAPI_SWAGGER_UI_PATH", DOCS_PATH)
    app.config.setdefault("OPENAPI_SWAGGER_UI_URL", ASSETS_URL)
    app.add_url_rule(f"{ASSETS_URL}<path:name>", "docs_asset", docs_asset)
