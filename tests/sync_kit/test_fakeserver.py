"""The fake server the kit's tests run against answers as the contract says."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from fieldobs_sync.client import ApiClient
from tests.helpers.sync_fake_server import State, running_server


def test_fake_server_applies_put_rules() -> None:
    """The stand-in answers 201, 200, 409 as the contract says (so the other tests mean it)."""
    state = State()
    vid = str(uuid.uuid4())
    visit: dict[str, Any] = {"id": vid, "revision": 1, "answers": []}
    assert state.put_visit(visit)[0] == 201
    assert state.put_visit(dict(visit))[0] == 200
    assert state.put_visit({**visit, "answers": [1]})[0] == 409
    assert state.put_visit({**visit, "revision": 2})[0] == 409
    state.visits[vid]["status"] = "returned"
    assert state.put_visit({**visit, "revision": 2})[0] == 200
    assert state.rows_written == 2


@pytest.mark.parametrize("path", ["/healthz", "/api/v1/nope"])
def test_fake_server_answers_over_http(path: str) -> None:
    """The stand-in is reachable on 127.0.0.1 and answers unknown paths with 401 or 404."""
    with running_server() as server:
        resp = ApiClient(server.url).request("GET", path, auth=False, retry=False)
    assert resp.status in (200, 401)
