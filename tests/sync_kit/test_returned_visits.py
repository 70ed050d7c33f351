"""Returned visits reach the shopper, who corrects one and sends it as the next revision."""

from __future__ import annotations

import io
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fieldobs_sync.cli import main
from fieldobs_sync.corrections import ReturnedVisit, correction_body, queue_correction
from fieldobs_sync.errors import OutboxError
from fieldobs_sync.outbox import Outbox
from fieldobs_sync.photos import attach_photos, describe_photo
from fieldobs_sync.pull import Replica, pull_changes
from fieldobs_sync.records import new_id
from tests.helpers.sync_fake_server import FakeHTTPServer, fast_client, running_server

CHECKLIST = {"slug": "store", "version": 3}


@pytest.fixture
def server() -> Iterator[FakeHTTPServer]:
    """Run the fake server."""
    with running_server() as srv:
        yield srv


def visit(**fields: Any) -> dict[str, Any]:
    """Return a visit body made against store v3."""
    return {"id": new_id(), "revision": 1, "checklist": dict(CHECKLIST), "answers": [], **fields}


def feed_item(body: dict[str, Any], note: str = "Describe the greeting.") -> dict[str, Any]:
    """Return the `returned_visits` item the server sends for a stored visit."""
    return {
        "id": body["id"],
        "revision": body["revision"],
        "next_revision": body["revision"] + 1,
        "status": "returned",
        "location_id": 12,
        "checklist": dict(CHECKLIST),
        "returned_at": "2026-11-24T09:00:00Z",
        "note": note,
        "item_comments": {"greeting": "How were you greeted?"},
        "visit": body,
    }


def run(home: Path, *args: str) -> tuple[int, str]:
    """Run the CLI in-process."""
    out = io.StringIO()
    code = main(["--home", str(home), *args], out=out)
    return code, out.getvalue()


def test_pull_keeps_returned_visits_and_reminders_until_withdrawn(
    server: FakeHTTPServer, tmp_path: Path
) -> None:
    body = visit()
    reminder = {"id": 5, "kind": "assignment_closing", "message": "Closes at 18:00."}
    server.state.events += [("returned_visits", feed_item(body)), ("notifications", reminder)]
    client = fast_client(server.url)
    with Replica(tmp_path / "kit.db") as replica:
        report = pull_changes(client, replica, limit=10)
        assert (report.returned_visits, report.notifications) == (1, 1)
        assert report.reminders == [reminder]
        [held] = replica.returned_visits()
        assert (held["id"], held["note"]) == (body["id"], "Describe the greeting.")
        assert replica.notifications() == [reminder]
        # Corrected (or the assignment closed): the server withdraws both.
        server.state.events += [
            ("deleted.returned_visits", body["id"]),
            ("deleted.notifications", 5),
        ]
        report = pull_changes(client, replica, limit=10)
        assert (report.deleted_returned_visits, report.deleted_notifications) == (1, 1)
        assert replica.returned_visits() == []
        assert replica.notifications() == []


def test_correction_is_the_next_revision_against_the_original_checklist() -> None:
    body = visit(notes="Busy.")
    returned = ReturnedVisit.from_feed(feed_item(body))
    edited = {k: v for k, v in body.items() if k != "checklist"} | {"notes": "Greeted at once."}
    corrected = correction_body(returned, edited)
    assert corrected["revision"] == 2
    assert corrected["checklist"] == CHECKLIST
    assert corrected["notes"] == "Greeted at once."
    assert correction_body(returned)["notes"] == "Busy."


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"checklist": {"slug": "store", "version": 4}}, "keeps that version"),
        ({"checklist": {"slug": "other", "version": 3}}, "keeps that version"),
        ({"id": new_id()}, "has id"),
        ({"revision": 5}, "revision 2"),
    ],
)
def test_correction_refuses_another_checklist_id_or_revision(
    change: dict[str, Any], problem: str
) -> None:
    body = visit()
    returned = ReturnedVisit.from_feed(feed_item(body))
    with pytest.raises(ValueError, match=problem):
        correction_body(returned, body | change)


def test_correction_keeps_photos_the_server_holds_without_their_files(tmp_path: Path) -> None:
    photo_id = new_id()
    photo = {"id": photo_id, "sha256": "ab" * 32, "size": 10, "content_type": "image/jpeg"}
    body = visit(photos=[photo])
    returned = ReturnedVisit.from_feed(feed_item(body))
    with Outbox(tmp_path / "kit.db") as box:
        entry = queue_correction(box, returned, body | {"notes": "Fixed."})
        assert (entry.revision, entry.state, entry.correction) == (2, "pending", True)
        assert entry.photo_ids == (photo_id,)
        assert box.photo(photo_id).state == "done"
        assert box.photos_to_upload() == []
        # The same correction again is a no-op; another one must wait for a discard.
        assert queue_correction(box, returned, body | {"notes": "Fixed."}).seq == entry.seq
        with pytest.raises(OutboxError, match="already queued"):
            queue_correction(box, returned, body | {"notes": "Other."})
        box.discard(body["id"])
        assert queue_correction(box, returned, body | {"notes": "Other."}).revision == 2


def test_correction_replaces_a_revision_held_for_a_refused_photo(tmp_path: Path) -> None:
    photo_file = tmp_path / "blurred.jpg"
    photo_file.write_bytes(b"\xff\xd8 blurred")
    photo = describe_photo(photo_file)
    body = attach_photos(visit(), [photo])
    with Outbox(tmp_path / "kit.db") as box:
        first = box.queue(body, [photo])
        box.mark_acknowledged(first.seq, 201)
        box.mark_photo_needs_attention(photo.id, 422, {"code": "too_small", "message": "…"})
        assert box.entry(first.seq).state == "needs_attention"
        # The reviewer returns the visit; the correction drops the refused photo.
        returned = ReturnedVisit.from_feed(feed_item(body))
        fixed = body | {"photos": [], "notes": "Photo dropped."}
        entry = queue_correction(box, returned, fixed)
        assert box.entry(first.seq).state == "superseded"
        assert box.entry(first.seq).replaced_by == entry.seq
        assert [e.seq for e in box.ready_to_push()] == [entry.seq]


def test_cli_shows_a_returned_visit_and_its_correction_is_accepted(
    server: FakeHTTPServer, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    main(["--home", str(home), "login", server.url, "shopper", "--password-stdin"],
         out=io.StringIO(), stdin=io.StringIO("pw\n"))  # fmt: skip
    body = visit(notes="Busy.")
    path = tmp_path / "visit.json"
    path.write_text(json.dumps(body))
    assert run(home, "queue", str(path))[0] == 0
    assert run(home, "sync")[0] == 0
    # A reviewer returns it: the server holds it as returned and puts it in the feed.
    server.state.visits[body["id"]]["status"] = "returned"
    server.state.events.append(("returned_visits", feed_item(body)))
    code, out = run(home, "sync")
    assert code == 1, out  # the shopper has something to do
    assert "1 visit(s) returned for correction" in out
    code, out = run(home, "returned")
    assert code == 0, out
    assert "Describe the greeting." in out
    assert "greeting: How were you greeted?" in out
    code, out = run(home, "returned", body["id"], "--body")
    assert code == 0, out
    draft = json.loads(out)
    assert (draft["revision"], draft["checklist"]) == (2, CHECKLIST)
    path.write_text(json.dumps(draft | {"notes": "Greeted at the door."}))
    # `requeue`, the command for visits that need attention, takes a returned visit too.
    code, out = run(home, "requeue", body["id"], "--file", str(path))
    assert code == 0, out
    assert "correction of visit" in out
    assert "revision 2" in out
    code, out = run(home, "returned")
    assert "correction queued as revision 2" in out
    code, out = run(home, "sync")
    assert code == 0, out
    assert "1 correction(s) accepted" in out
    assert "0 already on the server" in out
    stored = server.state.visits[body["id"]]
    assert (stored["revision"], stored["status"]) == (2, "submitted")
    assert stored["body"]["notes"] == "Greeted at the door."
    assert stored["body"]["checklist"] == CHECKLIST
    assert run(home, "returned")[1].strip() == "no visit is awaiting correction"


def test_upgrade_from_schema_1_keeps_the_outbox_and_pulls_everything_again(
    tmp_path: Path,
) -> None:
    path = tmp_path / "kit.db"
    body = visit()
    with Outbox(path) as box:
        box.queue(body)
    with Replica(path) as replica:
        replica.apply({"cursor": "c9", "has_more": False, "locations": [{"id": 1}]})
    # Turn the file back into what version 1 of the kit left behind.
    conn = sqlite3.connect(path)
    conn.executescript(
        "DROP TABLE returned_visits; DROP TABLE notifications;"
        " ALTER TABLE entries DROP COLUMN correction; PRAGMA user_version = 1;"
    )
    conn.close()
    with Outbox(path) as box, Replica(path) as replica:
        [entry] = box.entries()
        assert (entry.visit_id, entry.correction) == (body["id"], False)
        assert replica.cursor() is None  # v1 threw returned visits away: pull them again
        assert replica.locations() == [{"id": 1}]  # kept until the fresh snapshot replaces it
        assert replica.returned_visits() == []
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    conn.close()
