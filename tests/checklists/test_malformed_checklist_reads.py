"""Malformed checklist addresses: a 404, never a 500 (guards; these held already)."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.helpers.app import Org


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/checklists/mystery-shop/versions/%C2%B2",  # a superscript two
        "/api/v1/checklists/mystery-shop/versions/99999999999999999999999",  # beyond int64
        "/api/v1/checklists/mystery-shop/versions/0",
        "/api/v1/checklists/%ED%A0%BD",  # a lone surrogate's bytes
        "/api/v1/checklists/%C2%B2",
    ],
)
def test_malformed_checklist_addresses_are_404(client: FlaskClient, org: Org, path: str) -> None:
    response = client.get(path, headers=org.auth("shopper"))
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
