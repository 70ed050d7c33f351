"""The API explorer is served by the service itself, without a token or the internet."""

from __future__ import annotations

import re

from flask.testing import FlaskClient


def test_the_explorer_page_loads_its_assets_from_this_service(client: FlaskClient) -> None:
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets
    for url in assets:
        assert url.startswith("/api/v1/docs/assets/"), url
        with client.get(url) as asset:  # a file response: close it
            assert asset.status_code == 200
    assert "/api/v1/openapi.json" in html


def test_an_asset_outside_the_bundle_is_not_served(client: FlaskClient) -> None:
    assert client.get("/api/v1/docs/assets/../../../../etc/passwd").status_code == 404
