"""How the server hands out the field app: compressed, validated, never outside its folder."""

from __future__ import annotations

import gzip
import json

from flask.testing import FlaskClient

from fieldobs.web.field_app import SHELL, shell_version

GZIP = {"Accept-Encoding": "gzip, deflate, br"}


def test_shell_is_sent_gzipped_with_an_etag(client: FlaskClient) -> None:
    response = client.get("/app/", headers=GZIP)
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert b"<main" in gzip.decompress(response.data)
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    again = client.get("/app/", headers={**GZIP, "If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304
    assert again.data == b""


def test_every_shell_file_is_served_without_a_token(client: FlaskClient) -> None:
    for name in SHELL:
        response = client.get("/app/" if name == "index.html" else f"/app/{name}")
        assert response.status_code == 200, name
        assert response.headers["Cache-Control"] == "no-cache"
    manifest = json.loads(client.get("/app/manifest.webmanifest").data)
    assert manifest["scope"] == "./"
    assert {icon["sizes"] for icon in manifest["icons"]} >= {"192x192", "512x512"}


def test_service_worker_carries_the_shell_version_and_scope(client: FlaskClient) -> None:
    response = client.get("/app/sw.js")
    assert response.status_code == 200
    assert response.headers["Service-Worker-Allowed"] == "/app/"
    assert response.headers["Cache-Control"] == "no-cache"
    assert f'const VERSION = "{shell_version()}";' in response.text
    assert '"js/tus.js"' in response.text


def test_nothing_outside_the_static_folder_is_served(client: FlaskClient) -> None:
    assert client.get("/app/../__init__.py").status_code == 404
    assert client.get("/app/%2e%2e/__init__.py").status_code == 404
    assert client.get("/app/sw-body.js").status_code == 404
    assert client.get("/app/missing.js").status_code == 404


def test_app_without_slash_redirects_into_the_scope(client: FlaskClient) -> None:
    response = client.get("/app")
    assert response.status_code == 308
    assert response.headers["Location"].endswith("/app/")
