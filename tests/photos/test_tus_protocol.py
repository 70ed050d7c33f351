"""tus 1.0.0 over raw HTTP: headers, creation, offsets, checksums, cuts, termination, expiry."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from fieldobs.db import get_db, storage_for
from fieldobs.photos import parts
from fieldobs.storage.connection import one
from tests.helpers.app import Org, make_app
from tests.helpers.photo_factory import TUS, create, gif, head, jpeg, new_id, patch, sha256

READ = parts.READ_SIZE


@pytest.fixture(scope="module")
def photo() -> bytes:
    """Return a JPEG several read buffers long."""
    data = jpeg(1200, 900)
    assert len(data) > 4 * READ
    return data


def created_url(client: FlaskClient, org: Org, length: int, **kwargs: Any) -> str:
    response = create(client, org, length, **kwargs)
    assert response.status_code == 201, response.get_json()
    return response.headers["Location"]


def offset_of(client: FlaskClient, org: Org, url: str) -> int:
    response = head(client, org, url)
    assert response.status_code == 200
    return int(response.headers["Upload-Offset"])


def upload_row(app: Flask, url: str) -> dict[str, Any]:
    with app.app_context():
        row = one(get_db().execute("SELECT * FROM uploads WHERE id = ?", [url.rsplit("/", 1)[1]]))
    assert row is not None
    return row


def photo_row(app: Flask, photo_id: str) -> dict[str, Any] | None:
    with app.app_context():
        return one(get_db().execute("SELECT * FROM photos WHERE id = ?", [photo_id]))


def part_file(data_dir: Path, url: str) -> Path:
    return parts.part_path(data_dir, url.rsplit("/", 1)[1])


def checksum(algorithm: str, data: bytes) -> str:
    return f"{algorithm} {base64.b64encode(hashlib.new(algorithm, data).digest()).decode()}"


# --- discovery and creation -------------------------------------------------------------------


def test_options_describes_the_server_without_a_token(client: FlaskClient) -> None:
    response = client.options("/api/v1/uploads")
    assert response.status_code == 204
    assert response.headers["Tus-Version"] == "1.0.0"
    assert response.headers["Tus-Resumable"] == "1.0.0"
    assert set(response.headers["Tus-Extension"].split(",")) == {
        "creation",
        "termination",
        "expiration",
        "checksum",
    }
    assert int(response.headers["Tus-Max-Size"]) == 40 * 1024 * 1024
    assert "sha1" in response.headers["Tus-Checksum-Algorithm"].split(",")


def test_creation_answers_201_with_a_location_head_can_use(
    client: FlaskClient, org: Org, photo: bytes
) -> None:
    response = create(client, org, len(photo))
    assert response.status_code == 201
    assert response.headers["Tus-Resumable"] == "1.0.0"
    assert response.headers["Location"].startswith("/api/v1/uploads/")
    assert "Upload-Expires" in response.headers
    described = head(client, org, response.headers["Location"])
    assert described.status_code == 200
    assert described.headers["Upload-Offset"] == "0"
    assert described.headers["Upload-Length"] == str(len(photo))
    assert described.headers["Cache-Control"] == "no-store"
    assert described.headers["Upload-Expires"].endswith("GMT")
    assert "photo_id" in described.headers["Upload-Metadata"]


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({"Upload-Length": ""}, 400, "bad_request"),
        ({"Upload-Length": "-5"}, 400, "bad_request"),
        ({"Upload-Length": "0"}, 400, "bad_request"),
        ({"Upload-Length": str(40 * 1024 * 1024 + 1)}, 413, "too_large"),
        ({"Upload-Metadata": "visit_id bm90IGEgdXVpZA=="}, 422, "invalid"),
        ({"Upload-Metadata": "visit_id !!!"}, 400, "bad_request"),
    ],
)
def test_creation_refusals(
    client: FlaskClient, org: Org, headers: dict[str, str], status: int, code: str
) -> None:
    response = create(client, org, 1000, **headers)
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == code
    assert response.headers["Tus-Resumable"] == "1.0.0"


def test_creation_needs_a_token(client: FlaskClient) -> None:
    response = client.post("/api/v1/uploads", headers={**TUS, "Upload-Length": "10"})
    assert response.status_code == 401
    assert response.headers["Tus-Resumable"] == "1.0.0"


@pytest.mark.parametrize("method", ["POST", "HEAD", "PATCH", "DELETE"])
@pytest.mark.parametrize("version", [None, "0.2.2"])
def test_wrong_tus_version_is_412(
    client: FlaskClient, org: Org, method: str, version: str | None
) -> None:
    url = created_url(client, org, 10)
    target = "/api/v1/uploads" if method == "POST" else url
    headers = {**org.auth("shopper"), "Upload-Length": "10", "Upload-Offset": "0"}
    if version:
        headers["Tus-Resumable"] = version
    response = client.open(target, method=method, headers=headers)
    assert response.status_code == 412
    assert response.headers["Tus-Version"] == "1.0.0"
    assert offset_of(client, org, url) == 0


def test_an_upload_url_works_only_for_its_creator(client: FlaskClient, org: Org) -> None:
    url = created_url(client, org, 10)
    assert head(client, org, url, user="shopper2").status_code == 404
    assert head(client, org, url, user="admin").status_code == 404
    assert patch(client, org, url, 0, b"x", user="shopper2").status_code == 404
    deleted = client.delete(url, headers={**TUS, **org.auth("shopper2")})
    assert deleted.status_code == 404
    assert offset_of(client, org, url) == 0


def test_unknown_upload_is_404(client: FlaskClient, org: Org) -> None:
    assert head(client, org, "/api/v1/uploads/" + "0" * 32).status_code == 404
    assert head(client, org, "/api/v1/uploads/..%2F..%2Fetc").status_code == 404


# --- appending --------------------------------------------------------------------------------


def test_chunks_append_until_the_photo_is_complete(
    app: Flask, client: FlaskClient, org: Org, photo: bytes
) -> None:
    photo_id = new_id()
    url = created_url(client, org, len(photo), photo_id=photo_id)
    offset = 0
    for size in (1, READ - 1, READ, READ + 1, 2 * READ):
        response = patch(client, org, url, offset, photo[offset : offset + size])
        assert response.status_code == 204
        offset += size
        assert response.headers["Upload-Offset"] == str(offset)
        assert "Upload-Expires" in response.headers
        assert offset_of(client, org, url) == offset
    assert photo_row(app, photo_id) is None
    done = patch(client, org, url, offset, photo[offset:])
    assert done.status_code == 204
    assert done.headers["Upload-Offset"] == str(len(photo))
    stored = photo_row(app, photo_id)
    assert stored is not None
    assert stored["state"] == "received"
    assert stored["sha256"] == sha256(photo)


def test_wrong_content_type_is_415(client: FlaskClient, org: Org) -> None:
    url = created_url(client, org, 10)
    response = patch(
        client, org, url, 0, b"abc", headers={"Content-Type": "application/octet-stream"}
    )
    assert response.status_code == 415
    assert offset_of(client, org, url) == 0


@pytest.mark.parametrize("offset", [0, 5, 11])
def test_offset_conflict_is_409_and_changes_nothing(
    client: FlaskClient, org: Org, data_dir: Path, photo: bytes, offset: int
) -> None:
    url = created_url(client, org, len(photo))
    assert patch(client, org, url, 0, photo[:10]).status_code == 204
    response = patch(client, org, url, offset, photo[offset : offset + 100])
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "offset_mismatch"
    assert offset_of(client, org, url) == 10
    assert part_file(data_dir, url).read_bytes() == photo[:10]


def test_missing_offset_is_400(client: FlaskClient, org: Org) -> None:
    url = created_url(client, org, 10)
    response = patch(client, org, url, 0, b"abc", headers={"Upload-Offset": "soon"})
    assert response.status_code == 400


def test_chunk_past_the_length_is_413_and_changes_nothing(client: FlaskClient, org: Org) -> None:
    url = created_url(client, org, 10)
    assert patch(client, org, url, 0, b"12345").status_code == 204
    response = patch(client, org, url, 5, b"123456")
    assert response.status_code == 413
    assert offset_of(client, org, url) == 5


@pytest.mark.parametrize("algorithm", ["sha1", "md5", "sha256"])
def test_checksum_is_verified_per_chunk(
    client: FlaskClient, org: Org, data_dir: Path, photo: bytes, algorithm: str
) -> None:
    url = created_url(client, org, len(photo))
    chunk = photo[: 3 * READ + 7]
    good = patch(
        client, org, url, 0, chunk, headers={"Upload-Checksum": checksum(algorithm, chunk)}
    )
    assert good.status_code == 204
    nxt = photo[len(chunk) : len(chunk) + 1000]
    bad = patch(
        client, org, url, len(chunk), nxt, headers={"Upload-Checksum": checksum(algorithm, b"x")}
    )
    assert bad.status_code == 460
    assert bad.get_json()["error"]["code"] == "checksum_mismatch"
    assert offset_of(client, org, url) == len(chunk)
    assert part_file(data_dir, url).read_bytes() == chunk  # the bad chunk was discarded


@pytest.mark.parametrize("header", ["crc32 AAAA", "sha1 not-base64!", "sha1 AAAA"])
def test_unusable_checksum_header_is_400(client: FlaskClient, org: Org, header: str) -> None:
    url = created_url(client, org, 10)
    response = patch(client, org, url, 0, b"abc", headers={"Upload-Checksum": header})
    assert response.status_code == 400
    assert offset_of(client, org, url) == 0


def test_a_busy_upload_refuses_a_second_writer(
    client: FlaskClient, org: Org, data_dir: Path
) -> None:
    url = created_url(client, org, 10)
    with parts.hold(data_dir, url.rsplit("/", 1)[1]):
        response = patch(client, org, url, 0, b"abc")
        assert response.status_code == 409
        assert response.get_json()["error"]["code"] == "upload_busy"
        assert client.delete(url, headers={**TUS, **org.auth("shopper")}).status_code == 409
    assert patch(client, org, url, 0, b"abc").status_code == 204


# --- interruptions ----------------------------------------------------------------------------


# Where a connection dies: first byte, second byte, around read-buffer boundaries, last byte
# (negative: counted from the end).
CUTS = {"0": 0, "1": 1, "READ-1": READ - 1, "READ": READ, "READ+1": READ + 1, "2READ": 2 * READ}


@pytest.mark.parametrize("at", [*CUTS.values(), -1], ids=[*CUTS, "n-1"])
def test_a_cut_body_keeps_what_arrived_and_resumes(
    app: Flask, client: FlaskClient, org: Org, photo: bytes, at: int
) -> None:
    at = at % len(photo)
    photo_id = new_id()
    url = created_url(client, org, len(photo), photo_id=photo_id)
    # The client promised the whole photo; the connection died after `at` bytes.
    cut = patch(client, org, url, 0, photo[:at], content_length=len(photo))
    assert cut.status_code == 400
    assert cut.get_json()["error"]["code"] == "incomplete_body"
    assert offset_of(client, org, url) == at
    assert patch(client, org, url, at, photo[at:]).status_code == 204
    stored = photo_row(app, photo_id)
    assert stored is not None
    assert stored["sha256"] == sha256(photo)
    assert stored["state"] == "received"


@pytest.mark.parametrize("at", [0, 1, READ, 3 * READ + 1])
def test_a_cut_chunk_with_a_checksum_is_discarded(
    client: FlaskClient, org: Org, data_dir: Path, photo: bytes, at: int
) -> None:
    url = created_url(client, org, len(photo))
    first = photo[:100]
    assert (
        patch(
            client, org, url, 0, first, headers={"Upload-Checksum": checksum("sha1", first)}
        ).status_code
        == 204
    )
    chunk = photo[100 : 100 + 4 * READ]
    cut = patch(
        client,
        org,
        url,
        100,
        chunk[:at],
        content_length=len(chunk),
        headers={"Upload-Checksum": checksum("sha1", chunk)},
    )
    assert cut.status_code == 400
    assert offset_of(client, org, url) == 100  # unverifiable bytes are not kept
    assert part_file(data_dir, url).read_bytes() == first


def test_cut_after_the_last_byte_the_answer_lost(
    app: Flask, client: FlaskClient, org: Org, photo: bytes
) -> None:
    photo_id = new_id()
    url = created_url(client, org, len(photo), photo_id=photo_id)
    assert patch(client, org, url, 0, photo).status_code == 204
    # The phone never heard the 204: it asks where the upload stands and finds it complete.
    assert offset_of(client, org, url) == len(photo)
    again = patch(client, org, url, len(photo), b"")
    assert again.status_code == 204
    assert again.headers["Upload-Offset"] == str(len(photo))
    assert patch(client, org, url, 0, photo[:10]).status_code == 409
    assert patch(client, org, url, len(photo), b"more").status_code == 413
    assert photo_row(app, photo_id) is not None


def test_an_upload_resumes_after_a_server_restart(
    client: FlaskClient, org: Org, data_dir: Path, photo: bytes
) -> None:
    url = created_url(client, org, len(photo))
    assert patch(client, org, url, 0, photo[:READ]).status_code == 204
    restarted = make_app(data_dir).test_client()
    assert offset_of(restarted, org, url) == READ
    assert patch(restarted, org, url, READ, photo[READ:]).status_code == 204


def test_a_tail_written_before_a_crash_is_not_counted(
    app: Flask, client: FlaskClient, org: Org, data_dir: Path, photo: bytes
) -> None:
    photo_id = new_id()
    url = created_url(client, org, len(photo), photo_id=photo_id)
    assert patch(client, org, url, 0, photo[:READ]).status_code == 204
    with part_file(data_dir, url).open("ab") as part:
        part.write(b"\0" * 5000)  # written, never acknowledged: a crash before the offset moved
    assert offset_of(client, org, url) == READ
    assert patch(client, org, url, READ, photo[READ:]).status_code == 204
    stored = photo_row(app, photo_id)
    assert stored is not None
    assert stored["sha256"] == sha256(photo)


def test_head_finishes_an_upload_a_crash_left_unprocessed(
    app: Flask, client: FlaskClient, org: Org, data_dir: Path, photo: bytes
) -> None:
    photo_id = new_id()
    url = created_url(client, org, len(photo), photo_id=photo_id)
    # All bytes durable and counted, then the process died before processing them.
    part_file(data_dir, url).write_bytes(photo)
    with app.app_context():
        get_db().execute(
            "UPDATE uploads SET received = length WHERE id = ?", [url.rsplit("/", 1)[1]]
        )
    assert offset_of(client, org, url) == len(photo)
    stored = photo_row(app, photo_id)
    assert stored is not None
    assert stored["state"] == "received"
    assert not part_file(data_dir, url).exists()  # the original is gone once processed


def test_a_refused_photo_answers_the_last_patch_and_its_replay(
    app: Flask, client: FlaskClient, org: Org
) -> None:
    data, photo_id = gif(), new_id()
    url = created_url(client, org, len(data), photo_id=photo_id)
    response = patch(client, org, url, 0, data)
    assert response.status_code == 415
    assert response.get_json()["error"]["code"] == "unsupported_format"
    assert response.headers["Upload-Offset"] == str(len(data))
    replay = patch(client, org, url, len(data), b"")
    assert replay.status_code == 415
    assert replay.get_json()["error"] == response.get_json()["error"]
    stored = photo_row(app, photo_id)
    assert stored is not None
    assert stored["state"] == "rejected"


# --- termination and expiry -------------------------------------------------------------------


def test_termination_deletes_the_upload_and_its_bytes(
    client: FlaskClient, org: Org, data_dir: Path
) -> None:
    url = created_url(client, org, 100)
    assert patch(client, org, url, 0, b"x" * 10).status_code == 204
    response = client.delete(url, headers={**TUS, **org.auth("shopper")})
    assert response.status_code == 204
    assert response.headers["Tus-Resumable"] == "1.0.0"
    assert not part_file(data_dir, url).exists()
    assert head(client, org, url).status_code == 404
    assert patch(client, org, url, 10, b"x").status_code == 404


def test_an_expired_upload_is_410_then_purged(
    app: Flask, client: FlaskClient, org: Org, data_dir: Path
) -> None:
    url = created_url(client, org, 100)
    assert patch(client, org, url, 0, b"x" * 10).status_code == 204
    with app.app_context():
        get_db().execute(
            "UPDATE uploads SET expires_at = '2020-01-01T00:00:00.000000Z' WHERE id = ?",
            [url.rsplit("/", 1)[1]],
        )
    assert head(client, org, url).status_code == 410
    response = patch(client, org, url, 10, b"x")
    assert response.status_code == 410
    assert response.get_json()["error"]["code"] == "upload_expired"
    assert upload_row(app, url)["received"] == 10


def test_expiry_moves_with_progress(app: Flask, client: FlaskClient, org: Org) -> None:
    url = created_url(client, org, 100)
    before = upload_row(app, url)["expires_at"]
    assert patch(client, org, url, 0, b"x").status_code == 204
    assert upload_row(app, url)["expires_at"] > before


def test_expiry_hours_come_from_the_config(data_dir: Path, org: Org) -> None:
    app = make_app(data_dir, UPLOAD_EXPIRY_HOURS=1)
    try:
        url = created_url(app.test_client(), org, 100)
        row = upload_row(app, url)
        assert row["expires_at"][:13] == _plus_hours(row["created_at"], 1)[:13]
    finally:
        storage_for(app).close_thread_connection()


def _plus_hours(stamp: str, hours: int) -> str:
    from datetime import timedelta

    from fieldobs.timeutil import parse_rfc3339, to_rfc3339

    return to_rfc3339(parse_rfc3339(stamp) + timedelta(hours=hours))
