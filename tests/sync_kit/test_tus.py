"""The tus client against a tiny in-test tus server: create, resume, 409, 460, 404, refusals."""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from fieldobs_sync.errors import TransientError, UploadRejected
from fieldobs_sync.tus import TusClient, checksum_header, encode_metadata
from tests.helpers.sync_fake_server import FakeHTTPServer, Fault, fast_client, running_server

DATA = os.urandom(10_000)
META = {"visit_id": "v1", "photo_id": "p1", "filename": "shelf.jpg", "filetype": "image/jpeg"}


@pytest.fixture
def server() -> Iterator[FakeHTTPServer]:
    """Run the fake server."""
    with running_server() as srv:
        yield srv


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    """Write a 10 kB photo file."""
    path = tmp_path / "shelf.jpg"
    path.write_bytes(DATA)
    return path


def patches(server: FakeHTTPServer) -> int:
    """Count the PATCH requests the server saw."""
    return sum(1 for method, _ in server.state.log if method == "PATCH")


def tus(server: FakeHTTPServer, chunk_size: int = 4096) -> TusClient:
    """Return a tus client with a fast (non-sleeping) transport."""
    return TusClient(fast_client(server.url), chunk_size=chunk_size)


def test_metadata_is_base64_pairs() -> None:
    header = encode_metadata({"filename": "é.jpg", "photo_id": "p1"})
    pairs = dict(p.split(" ") for p in header.split(","))
    assert base64.b64decode(pairs["filename"]).decode() == "é.jpg"
    assert base64.b64decode(pairs["photo_id"]) == b"p1"


@pytest.mark.parametrize("key", ["", "a b", "a,b"])
def test_metadata_refuses_bad_keys(key: str) -> None:
    with pytest.raises(ValueError, match="metadata key"):
        encode_metadata({key: "x"})


def test_checksum_header_is_sha1_base64() -> None:
    expected = base64.b64encode(hashlib.sha1(b"abc", usedforsecurity=False).digest()).decode()
    assert checksum_header(b"abc") == f"sha1 {expected}"


@pytest.mark.parametrize("chunk_size", [1000, 4096, 10_000, 1 << 20])
def test_upload_in_chunks_stores_url_before_any_byte(
    server: FakeHTTPServer, photo: Path, chunk_size: int
) -> None:
    urls: list[tuple[str | None, int]] = []
    result = tus(server, chunk_size).upload(
        photo, metadata=META, on_url=lambda u: urls.append((u, patches(server)))
    )
    assert server.state.photos["p1"] == DATA
    assert [(u, n) for u, n in urls] == [(result.url, 0)]
    assert result.created
    assert result.resumed_from == 0
    assert patches(server) == -(-len(DATA) // chunk_size)
    [upload] = server.state.uploads.values()
    assert upload["meta"] == META


def test_upload_from_bytes(server: FakeHTTPServer) -> None:
    tus(server).upload(b"tiny", metadata=META)
    assert server.state.photos["p1"] == b"tiny"


def test_resume_after_client_restart(server: FakeHTTPServer, photo: Path) -> None:
    stored: list[str | None] = []
    # One chunk lands, then the network dies for good: the first client gives up as if killed.
    server.state.faults.append(
        Fault("PATCH", "/api/v1/uploads/", drop_before=True, skip=1, times=99)
    )
    with pytest.raises(TransientError):
        tus(server).upload(photo, metadata=META, on_url=stored.append)
    assert "p1" not in server.state.photos
    [url] = stored
    assert url is not None
    server.state.faults.clear()
    # A new process: a new client; only the stored URL survived.
    result = tus(server).upload(photo, metadata=META, url=url)
    assert result.resumed_from == 4096
    assert not result.created
    assert server.state.photos["p1"] == DATA
    assert len(server.state.uploads) == 1


def test_cut_patch_resumes_from_server_offset(server: FakeHTTPServer, photo: Path) -> None:
    server.state.faults.append(Fault("PATCH", "/api/v1/uploads/", cut_after=1000))
    tus(server).upload(photo, metadata=META)
    assert server.state.photos["p1"] == DATA
    # The resent PATCH met a 409 (the server had kept 1000 bytes), then HEAD said where to go on.
    assert [m for m, _ in server.state.log].count("HEAD") == 1
    assert server.state.photo_completions["p1"] == 1


@pytest.mark.parametrize("code", ["offset_mismatch", "upload_busy"])
def test_offset_conflict_heads_and_continues(
    server: FakeHTTPServer, photo: Path, code: str
) -> None:
    sleeps: list[float] = []
    server.state.faults.append(
        Fault("PATCH", "/api/v1/uploads/", status=409, code=code, headers={"Retry-After": "1"})
    )
    client = TusClient(fast_client(server.url, sleeps), chunk_size=4096)
    client.upload(photo, metadata=META)
    assert server.state.photos["p1"] == DATA
    assert sum(1 for m, _ in server.state.log if m == "HEAD") == 1
    # A busy upload is waited for as the server asked; a stale offset needs no wait.
    assert sleeps == ([] if code == "offset_mismatch" else [pytest.approx(1.0, abs=0.5)])


def test_conflicting_bytes_for_a_photo_are_refused(server: FakeHTTPServer, photo: Path) -> None:
    server.state.photos["p1"] = b"other bytes sent earlier"
    with pytest.raises(UploadRejected) as info:
        tus(server).upload(photo, metadata=META)
    assert (info.value.status, info.value.code) == (409, "photo_conflict")


def test_checksum_mismatch_resends_the_chunk(server: FakeHTTPServer, photo: Path) -> None:
    server.state.faults.append(Fault("PATCH", "/api/v1/uploads/", status=460, times=2))
    tus(server).upload(photo, metadata=META)
    assert server.state.photos["p1"] == DATA
    assert patches(server) == 3 + 2


def test_checksum_failing_forever_is_transient(server: FakeHTTPServer, photo: Path) -> None:
    server.state.faults.append(Fault("PATCH", "/api/v1/uploads/", status=460, times=99))
    with pytest.raises(TransientError, match="checksum"):
        tus(server).upload(photo, metadata=META)


def test_gone_stored_url_starts_a_new_upload(server: FakeHTTPServer, photo: Path) -> None:
    stored: list[str | None] = []
    stale = f"{server.url}/api/v1/uploads/expired"
    result = tus(server).upload(photo, metadata=META, url=stale, on_url=stored.append)
    assert stored == [None, result.url]
    assert result.created
    assert server.state.photos["p1"] == DATA


def test_upload_vanishing_mid_way_restarts(server: FakeHTTPServer, photo: Path) -> None:
    stored: list[str | None] = []
    server.state.faults.append(Fault("PATCH", "/api/v1/uploads/", status=410))
    result = tus(server).upload(photo, metadata=META, on_url=stored.append)
    assert stored[1] is None
    assert stored[-1] == result.url
    assert len(server.state.uploads) == 2
    assert server.state.photos["p1"] == DATA


def test_complete_upload_is_confirmed_by_an_empty_patch(
    server: FakeHTTPServer, photo: Path
) -> None:
    first = tus(server).upload(photo, metadata=META)
    before = patches(server)
    again = tus(server).upload(photo, metadata=META, url=first.url)
    assert patches(server) == before + 1
    assert again.resumed_from == len(DATA)
    assert server.state.photo_completions["p1"] == 1


def test_refusal_whose_answer_was_lost_is_still_seen(
    server: FakeHTTPServer, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"NOTIMG" + b"x" * 100)
    stored: list[str | None] = []
    server.state.faults.append(Fault("PATCH", "/api/v1/uploads/", drop_after=True))
    with pytest.raises(UploadRejected) as info:
        tus(server).upload(bad, metadata=META, on_url=stored.append)
    assert info.value.status == 422
    # And again after a restart: HEAD says "complete", the empty PATCH says "refused".
    with pytest.raises(UploadRejected):
        tus(server).upload(bad, metadata=META, url=stored[-1])


@pytest.mark.parametrize("fault_status", [503, 500, 429])
def test_server_errors_are_retried(server: FakeHTTPServer, photo: Path, fault_status: int) -> None:
    server.state.faults.append(Fault("PATCH", "/api/v1/uploads/", status=fault_status, times=2))
    tus(server).upload(photo, metadata=META)
    assert server.state.photos["p1"] == DATA


def test_refused_image_raises_upload_rejected(server: FakeHTTPServer, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"NOTIMG" + b"x" * 100)
    with pytest.raises(UploadRejected) as info:
        tus(server).upload(bad, metadata=META)
    assert info.value.status == 422
    assert info.value.code == "not_an_image"


@pytest.mark.parametrize("status", [413, 415, 403])
def test_refused_creation_raises_upload_rejected(
    server: FakeHTTPServer, photo: Path, status: int
) -> None:
    server.state.faults.append(Fault("POST", "/api/v1/uploads", status=status))
    with pytest.raises(UploadRejected):
        tus(server).upload(photo, metadata=META)
