"""Hostile tus headers get a 400 naming the header, never a 500."""

from __future__ import annotations

import base64

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.helpers.app import Org
from tests.helpers.photo_factory import TUS, create, jpeg, metadata, new_id, patch

BEYOND_INT64 = str(2**63)
NUMBERS = {
    "superscript": "²",
    "superscripts": "¹²³",
    "beyond int64": BEYOND_INT64,
    "many digits": "9" * 5000,
    "negative": "-1",
    "plus sign": "+5",
    "exponent": "1e3",
    "hex": "0x10",
    "fraction": "1.5",
    "empty": "",
    "inner space": "1 0",
}


def assert_names(response: TestResponse, header: str) -> None:
    status = response.status_code
    body = response.get_json()
    assert status == 400, body
    assert header in body["error"]["fields"], body


@pytest.mark.parametrize("value", NUMBERS.values(), ids=NUMBERS.keys())
def test_a_garbage_upload_length_is_400_naming_it(
    client: FlaskClient, org: Org, value: str
) -> None:
    response = create(client, org, 1, **{"Upload-Length": value})
    assert_names(response, "Upload-Length")


@pytest.mark.parametrize("value", NUMBERS.values(), ids=NUMBERS.keys())
def test_a_garbage_upload_offset_is_400_naming_it(
    client: FlaskClient, org: Org, value: str
) -> None:
    data = jpeg(seed=91)
    created = create(client, org, len(data))
    assert created.status_code == 201
    response = patch(
        client, org, created.headers["Location"], 0, data, headers={"Upload-Offset": value}
    )
    assert_names(response, "Upload-Offset")


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


METADATA = {
    "not base64": "visit_id ***",
    "not utf-8": "visit_id " + _b64(b"\xff\xfe"),
    "latin-1 bytes": "visit_id ²³,photo_id ¹",
    "padding only": "visit_id ====",
    "nul in key": "vis\x00it_id " + _b64(b"x"),
    "duplicate key": f"visit_id {_b64(new_id().encode())},visit_id {_b64(new_id().encode())}",
    "key with no pairs": ",,, ,",
}


@pytest.mark.parametrize("value", METADATA.values(), ids=METADATA.keys())
def test_garbage_upload_metadata_is_400_or_422_naming_it(
    client: FlaskClient, org: Org, value: str
) -> None:
    response = create(client, org, 10, **{"Upload-Metadata": value})
    body = response.get_json()
    assert response.status_code in (400, 422), body
    assert any(field.startswith("Upload-Metadata") for field in body["error"]["fields"]), body


def test_a_good_upload_still_works_with_spaces_around_numbers(
    client: FlaskClient, org: Org
) -> None:
    data = jpeg(seed=92)
    meta = metadata(visit_id=new_id(), photo_id=new_id())
    created = client.post(
        "/api/v1/uploads",
        headers={
            **TUS,
            **org.auth("shopper"),
            "Upload-Length": f" {len(data)} ",
            "Upload-Metadata": meta,
        },
    )
    assert created.status_code == 201
    response = patch(client, org, created.headers["Location"], 0, data)
    assert response.status_code == 204
