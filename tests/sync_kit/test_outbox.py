"""The outbox state machine, its guards, and its survival of a killed process."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest

from fieldobs_sync.errors import OutboxError
from fieldobs_sync.outbox import Outbox, fingerprint
from fieldobs_sync.photos import PhotoFile, attach_photos, content_type_for, describe_photo


def make_visit(**extra: Any) -> dict[str, Any]:
    """Return a minimal visit body with a fresh id."""
    return {
        "id": str(uuid.uuid4()),
        "revision": 1,
        "checklist": {"slug": "store", "version": 1},
        "location_id": 1,
        "started_at": "2026-11-23T10:00:00+01:00",
        "finished_at": "2026-11-23T10:30:00+01:00",
        "answers": [{"item": "greeting", "value": True}],
        "photos": [],
        **extra,
    }


def make_photo(tmp_path: Path, name: str = "p.jpg", data: bytes = b"\xff\xd8jpeg") -> PhotoFile:
    """Write a photo file and describe it."""
    path = tmp_path / name
    path.write_bytes(data)
    return describe_photo(path)


@pytest.fixture
def outbox(tmp_path: Path) -> Outbox:
    """Return an outbox in a temporary file."""
    return Outbox(tmp_path / "outbox.sqlite3")


def test_queue_starts_pending_in_queue_order(outbox: Outbox) -> None:
    first, second = make_visit(), make_visit()
    a, b = outbox.queue(first), outbox.queue(second)
    assert (a.state, b.state) == ("pending", "pending")
    assert a.seq < b.seq
    assert [e.visit_id for e in outbox.ready_to_push()] == [first["id"], second["id"]]
    assert a.body == first


def test_queue_same_content_twice_is_a_noop(outbox: Outbox) -> None:
    visit = make_visit()
    a = outbox.queue(visit)
    b = outbox.queue(json.loads(json.dumps(visit, sort_keys=True)))
    assert a.seq == b.seq
    assert len(outbox.entries()) == 1


def test_queue_other_content_for_same_revision_is_refused(outbox: Outbox) -> None:
    visit = make_visit()
    outbox.queue(visit)
    with pytest.raises(OutboxError, match="frozen"):
        outbox.queue({**visit, "notes": "changed my mind"})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id": "not-a-uuid"}, "UUID"),
        ({"revision": 0}, "revision"),
        ({"revision": True}, "revision"),
        ({"photos": "nope"}, "photos"),
        ({"photos": [{"id": "p1"}]}, "photo id"),
    ],
)
def test_queue_rejects_malformed_visits(
    outbox: Outbox, change: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        outbox.queue(make_visit(**change))


def test_acknowledged_visit_without_photos_is_done(outbox: Outbox) -> None:
    entry = outbox.queue(make_visit())
    done = outbox.mark_acknowledged(entry.seq, 201)
    assert done.state == "done"
    assert done.acknowledged
    assert outbox.ready_to_push() == []


def test_acknowledged_visit_waits_for_its_photos(outbox: Outbox, tmp_path: Path) -> None:
    p1, p2 = make_photo(tmp_path, "a.jpg", b"a"), make_photo(tmp_path, "b.png", b"bb")
    entry = outbox.queue(attach_photos(make_visit(), [p1, p2]), [p1, p2])
    assert entry.photo_ids == (p1.id, p2.id)
    assert outbox.mark_acknowledged(entry.seq, 201).state == "sent"
    assert [p.photo_id for p in outbox.photos_to_upload()] == [p1.id, p2.id]
    outbox.mark_photo_done(p1.id)
    assert outbox.entry(entry.seq).state == "sent"
    outbox.mark_photo_done(p2.id)
    assert outbox.entry(entry.seq).state == "done"
    assert outbox.photos_to_upload() == []


def test_photos_uploaded_before_the_visit_count(outbox: Outbox, tmp_path: Path) -> None:
    photo = make_photo(tmp_path)
    entry = outbox.queue(attach_photos(make_visit(), [photo]), [photo])
    outbox.mark_photo_done(photo.id)
    assert outbox.entry(entry.seq).state == "pending"
    assert outbox.mark_acknowledged(entry.seq, 200).state == "done"


@pytest.mark.parametrize("status", [409, 422])
def test_refusal_needs_attention_and_is_never_pushed_again(outbox: Outbox, status: int) -> None:
    entry = outbox.queue(make_visit())
    error = {"code": "invalid", "message": "No.", "fields": {"answers": ["bad"]}}
    held = outbox.mark_needs_attention(entry.seq, status, error)
    assert held.state == "needs_attention"
    assert held.error == error
    assert held.http_status == status
    assert outbox.ready_to_push() == []
    # A late, duplicate answer cannot move it.
    assert outbox.mark_acknowledged(entry.seq, 200).state == "needs_attention"


@pytest.mark.parametrize(
    ("status", "server", "expected_revision"),
    [(422, None, 1), (409, None, 2), (409, {"revision": 3, "status": "returned"}, 4)],
)
def test_requeue_chooses_the_revision(
    outbox: Outbox, status: int, server: dict[str, Any] | None, expected_revision: int
) -> None:
    visit = make_visit()
    entry = outbox.queue(visit)
    outbox.mark_needs_attention(entry.seq, status, {"code": "x", "message": "y"})
    if server:
        outbox.annotate_error(entry.seq, {"server": server})
    new = outbox.requeue(visit["id"], {**visit, "notes": "fixed"})
    assert new.revision == expected_revision
    assert new.body["revision"] == expected_revision
    assert new.body["notes"] == "fixed"
    assert new.state == "pending"
    old = outbox.entry(entry.seq)
    assert (old.state, old.replaced_by) == ("superseded", new.seq)
    assert [e.seq for e in outbox.ready_to_push()] == [new.seq]


def test_requeue_with_explicit_revision(outbox: Outbox) -> None:
    visit = make_visit()
    entry = outbox.queue(visit)
    outbox.mark_needs_attention(entry.seq, 409, {})
    assert outbox.requeue(visit["id"], revision=7).revision == 7


def test_requeue_needs_an_entry_that_needs_attention(outbox: Outbox) -> None:
    visit = make_visit()
    outbox.queue(visit)
    with pytest.raises(OutboxError, match="needs attention"):
        outbox.requeue(visit["id"])


def test_refused_photo_holds_the_visit_until_requeued(outbox: Outbox, tmp_path: Path) -> None:
    photo = make_photo(tmp_path)
    visit = attach_photos(make_visit(), [photo])
    entry = outbox.queue(visit, [photo])
    outbox.mark_acknowledged(entry.seq, 201)
    outbox.mark_photo_needs_attention(photo.id, 422, {"code": "not_an_image", "message": "No."})
    held = outbox.entry(entry.seq)
    assert held.state == "needs_attention"
    assert held.error is not None
    assert held.error["photo_id"] == photo.id
    # The visit itself was acknowledged: requeue retries the photo, no new revision.
    again = outbox.requeue(visit["id"])
    assert (again.seq, again.state) == (entry.seq, "sent")
    assert outbox.photo(photo.id).state == "pending"
    assert outbox.photo(photo.id).upload_url is None


def test_discard_drops_only_when_asked(outbox: Outbox, tmp_path: Path) -> None:
    photo = make_photo(tmp_path)
    visit = attach_photos(make_visit(), [photo])
    entry = outbox.queue(visit, [photo])
    outbox.mark_needs_attention(entry.seq, 422, {})
    gone = outbox.discard(visit["id"])
    assert [e.state for e in gone] == ["discarded"]
    assert outbox.photo(photo.id).state == "discarded"
    assert outbox.photos_to_upload() == []
    with pytest.raises(OutboxError):
        outbox.discard(visit["id"])


def test_queueing_again_revives_discarded_photos(outbox: Outbox, tmp_path: Path) -> None:
    photo = make_photo(tmp_path)
    visit = attach_photos(make_visit(), [photo])
    outbox.queue(visit, [photo])
    outbox.discard(visit["id"])
    again = outbox.queue(visit)
    assert again.state == "pending"
    assert [p.photo_id for p in outbox.photos_to_upload()] == [photo.id]


def test_later_revision_waits_for_the_earlier_one(outbox: Outbox) -> None:
    visit = make_visit()
    first = outbox.queue(visit)
    second = outbox.queue({**visit, "revision": 2, "notes": "more"})
    other = outbox.queue(make_visit())
    assert [e.seq for e in outbox.ready_to_push()] == [first.seq, other.seq]
    outbox.mark_acknowledged(first.seq, 201)
    assert [e.seq for e in outbox.ready_to_push()] == [second.seq, other.seq]


def test_older_revision_than_queued_is_refused(outbox: Outbox) -> None:
    visit = make_visit(revision=2)
    outbox.queue(visit)
    with pytest.raises(OutboxError, match="older"):
        outbox.queue({**visit, "revision": 1})


def test_ready_to_push_honours_limit_and_exclude(outbox: Outbox) -> None:
    seqs = [outbox.queue(make_visit()).seq for _ in range(5)]
    assert [e.seq for e in outbox.ready_to_push(2)] == seqs[:2]
    assert [e.seq for e in outbox.ready_to_push(2, exclude={seqs[0]})] == seqs[1:3]


def test_transient_failure_keeps_the_entry_pending(outbox: Outbox) -> None:
    entry = outbox.queue(make_visit())
    failed = outbox.record_failure(entry.seq, "HTTP 503", status=503, next_attempt_at=99.0)
    assert (failed.state, failed.attempts, failed.last_error) == ("pending", 1, "HTTP 503")
    assert failed.next_attempt_at == 99.0
    assert outbox.mark_acknowledged(entry.seq, 201).last_error is None


def test_manifest_photo_without_a_file_is_refused(outbox: Outbox) -> None:
    visit = make_visit(photos=[{"id": str(uuid.uuid4()), "sha256": "0" * 64, "size": 1}])
    with pytest.raises(OutboxError, match="no file"):
        outbox.queue(visit)


def test_photo_not_matching_the_manifest_is_refused(outbox: Outbox, tmp_path: Path) -> None:
    photo = make_photo(tmp_path)
    visit = make_visit(photos=[{"id": photo.id, "sha256": "0" * 64, "size": photo.size}])
    with pytest.raises(OutboxError, match="differs"):
        outbox.queue(visit, [photo])


def test_a_later_revision_reuses_known_photos(outbox: Outbox, tmp_path: Path) -> None:
    photo = make_photo(tmp_path)
    visit = attach_photos(make_visit(), [photo])
    first = outbox.queue(visit, [photo])
    outbox.mark_acknowledged(first.seq, 201)
    outbox.mark_photo_done(photo.id)
    second = outbox.queue({**visit, "revision": 2, "notes": "fixed"})
    assert second.photo_ids == (photo.id,)
    assert outbox.mark_acknowledged(second.seq, 200).state == "done"


def test_attach_photos_fills_the_manifest(tmp_path: Path) -> None:
    photo = make_photo(tmp_path, "shot.HEIC", b"heic")
    visit = make_visit(photos=[{"id": photo.id, "item": "shelf"}])
    body = attach_photos(visit, [photo])
    assert body["photos"] == [
        {
            "id": photo.id,
            "item": "shelf",
            "sha256": photo.sha256,
            "size": 4,
            "content_type": "image/heic",
        }
    ]
    assert visit["photos"] == [{"id": photo.id, "item": "shelf"}]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.jpg", "image/jpeg"),
        ("a.JPEG", "image/jpeg"),
        ("a.png", "image/png"),
        ("a.heic", "image/heic"),
        ("a.heif", "image/heif"),
        ("a.webp", "image/webp"),
    ],
)
def test_content_type_by_extension(name: str, expected: str) -> None:
    assert content_type_for(name) == expected


def test_fingerprint_ignores_key_order_and_whitespace() -> None:
    visit = make_visit()
    assert fingerprint(visit) == fingerprint(json.loads(json.dumps(visit, indent=3)[::1]))
    assert fingerprint(visit) == fingerprint(dict(reversed(list(visit.items()))))
    assert fingerprint(visit) != fingerprint({**visit, "notes": ""})


def test_database_uses_wal_and_full_sync(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.sqlite3") as outbox:
        outbox.queue(make_visit())
    conn = sqlite3.connect(tmp_path / "o.sqlite3")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


CRASH_SCRIPT = """
import os, sys
from fieldobs_sync.outbox import Outbox
from fieldobs_sync.photos import describe_photo, attach_photos
box = Outbox(sys.argv[1])
photo = describe_photo(sys.argv[2], "6c3b8c2e-3c53-4a39-9b1f-0f3a3b8a2a11")
visit = {"id": "0b7f3f0e-8f6d-4a77-b7a5-2f0e8f9d1c11", "revision": 1, "answers": []}
entry = box.queue(attach_photos(visit, [photo]), [photo])
box.mark_acknowledged(entry.seq, 201)
box.set_upload_url(photo.id, "http://127.0.0.1:9/api/v1/uploads/abc")
second = box.queue({"id": "7d0c1f40-5e1b-4f0e-9d55-9a8f6c4b2b22", "revision": 1})
box.mark_needs_attention(second.seq, 422, {"code": "invalid", "message": "bad"})
os._exit(int(sys.argv[3]))  # no close, no atexit: as if the process were killed
"""


@pytest.mark.parametrize("exit_code", [0, 9])
def test_state_survives_a_killed_process(tmp_path: Path, exit_code: int) -> None:
    db = tmp_path / "o.sqlite3"
    photo = tmp_path / "p.jpg"
    photo.write_bytes(b"\xff\xd8photo")
    script = textwrap.dedent(CRASH_SCRIPT)
    run = subprocess.run(
        [sys.executable, "-c", script, str(db), str(photo), str(exit_code)],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert run.returncode == exit_code, run.stderr.decode()
    with Outbox(db) as outbox:
        first, second = outbox.entries()
        assert (first.state, second.state) == ("sent", "needs_attention")
        assert second.error == {"code": "invalid", "message": "bad"}
        [pending] = outbox.photos_to_upload()
        assert pending.upload_url == "http://127.0.0.1:9/api/v1/uploads/abc"
        outbox.mark_photo_done(pending.photo_id)
        assert outbox.entry(first.seq).state == "done"


def test_uncommitted_work_is_rolled_back(outbox: Outbox) -> None:
    entry = outbox.queue(make_visit())
    with pytest.raises(OutboxError):
        outbox.queue({**entry.body, "notes": "x"})
    assert len(outbox.entries()) == 1
    assert outbox.counts()["pending"] == 1


def test_prune_removes_finished_history(outbox: Outbox) -> None:
    done = outbox.queue(make_visit())
    outbox.mark_acknowledged(done.seq, 201)
    keep = outbox.queue(make_visit())
    assert outbox.prune(before=float("inf")) == 1
    assert [e.seq for e in outbox.entries()] == [keep.seq]
