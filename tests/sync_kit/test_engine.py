"""Whole sync runs against the fake server: nothing acknowledged is lost, nothing stored twice."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fieldobs_sync.engine import Syncer
from fieldobs_sync.errors import AuthError
from fieldobs_sync.outbox import Outbox
from fieldobs_sync.photos import PhotoFile, attach_photos, describe_photo
from fieldobs_sync.pull import Replica
from fieldobs_sync.tus import TusClient
from tests.helpers.sync_fake_server import FakeHTTPServer, Fault, fast_client, running_server

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def server() -> Iterator[FakeHTTPServer]:
    """Run the fake server."""
    with running_server() as srv:
        yield srv


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    """Return an outbox in a temporary file."""
    with Outbox(tmp_path / "kit.sqlite3") as box:
        yield box


def visit_body(**extra: Any) -> dict[str, Any]:
    """Return a minimal visit."""
    return {"id": str(uuid.uuid4()), "revision": 1, "answers": [], "photos": [], **extra}


def queue_with_photos(
    outbox: Outbox, tmp_path: Path, n_photos: int = 1, size: int = 10_000, **extra: Any
) -> tuple[dict[str, Any], list[PhotoFile]]:
    """Queue a visit with photo files of random bytes."""
    photos = []
    for _ in range(n_photos):
        path = tmp_path / f"{uuid.uuid4()}.jpg"
        path.write_bytes(os.urandom(size))
        photos.append(describe_photo(path))
    body = attach_photos(visit_body(**extra), photos)
    outbox.queue(body, photos)
    return body, photos


def syncer(
    server: FakeHTTPServer, outbox: Outbox, sleeps: list[float] | None = None, **kwargs: Any
) -> Syncer:
    """Return a Syncer with a non-sleeping client and small tus chunks."""
    client = fast_client(server.url, sleeps)
    return Syncer(client, outbox, tus=TusClient(client, chunk_size=4096), **kwargs)


def test_sync_pushes_visits_and_photos(
    server: FakeHTTPServer, outbox: Outbox, tmp_path: Path
) -> None:
    queued = [queue_with_photos(outbox, tmp_path, n_photos=2) for _ in range(3)]
    report = syncer(server, outbox).run(pull=False)
    assert report.complete
    assert report.acknowledged == [body["id"] for body, _ in queued]
    assert server.state.rows_written == 3
    for _, photos in queued:
        for photo in photos:
            assert server.state.photos[photo.id] == Path(photo.path).read_bytes()
    assert outbox.counts()["done"] == 3
    assert [p for m, p in server.state.log if m == "POST" and "sync" in p] == [
        "/api/v1/sync/visits"
    ]


def test_batches_hold_at_most_the_batch_size(server: FakeHTTPServer, outbox: Outbox) -> None:
    for _ in range(230):
        outbox.queue(visit_body())
    report = syncer(server, outbox).run(pull=False, photos=False)
    assert len(report.acknowledged) == 230
    assert sum(1 for m, p in server.state.log if p == "/api/v1/sync/visits") == 3


def test_lost_answer_is_replayed_not_duplicated(server: FakeHTTPServer, outbox: Outbox) -> None:
    ids = [outbox.queue(visit_body()).visit_id for _ in range(5)]
    server.state.faults.append(Fault("POST", "/api/v1/sync/visits", drop_after=True))
    report = syncer(server, outbox).run(pull=False)
    assert report.complete
    assert report.replayed == ids
    assert server.state.rows_written == 5


def test_per_visit_server_error_is_retried(server: FakeHTTPServer, outbox: Outbox) -> None:
    sleeps: list[float] = []
    flaky = outbox.queue(visit_body())
    fine = outbox.queue(visit_body())
    server.state.faults.append(Fault("VISIT", flaky.visit_id, status=503, times=2))
    report = syncer(server, outbox, sleeps).run(pull=False)
    assert report.complete
    assert report.acknowledged == [fine.visit_id, flaky.visit_id]
    assert len(sleeps) == 2
    assert outbox.entry(flaky.seq).attempts == 2


def test_per_visit_error_gives_up_for_this_run(server: FakeHTTPServer, outbox: Outbox) -> None:
    entry = outbox.queue(visit_body())
    server.state.faults.append(Fault("VISIT", entry.visit_id, status=500, times=99))
    report = syncer(server, outbox).run(pull=False)
    assert not report.complete
    assert outbox.entry(entry.seq).state == "pending"
    assert outbox.entry(entry.seq).next_attempt_at is not None
    server.state.faults.clear()
    assert syncer(server, outbox).run(pull=False).complete


def test_invalid_visit_needs_attention_then_requeue(server: FakeHTTPServer, outbox: Outbox) -> None:
    bad = outbox.queue(visit_body(notes="INVALID"))
    good = outbox.queue(visit_body())
    report = syncer(server, outbox).run(pull=False)
    assert report.needs_attention == [bad.visit_id]
    assert report.acknowledged == [good.visit_id]
    held = outbox.entry(bad.seq)
    assert held.state == "needs_attention"
    assert held.error is not None
    assert held.error["fields"] == {"notes": ["must not be INVALID"]}
    # Nothing is sent again on its own.
    syncer(server, outbox).run(pull=False)
    assert outbox.entry(bad.seq).state == "needs_attention"
    fixed = outbox.requeue(bad.visit_id, {**bad.body, "notes": "ok"})
    assert fixed.revision == 1
    assert syncer(server, outbox).run(pull=False).complete
    assert server.state.rows_written == 2


def test_conflict_then_correction_as_new_revision(server: FakeHTTPServer, outbox: Outbox) -> None:
    body = visit_body()
    server.state.put_visit({**body, "notes": "sent from another phone"})
    entry = outbox.queue(body)
    syncer(server, outbox).run(pull=False)
    held = outbox.entry(entry.seq)
    assert held.state == "needs_attention"
    assert held.http_status == 409
    assert held.error is not None
    assert held.error["server"] == {"revision": 1, "status": "submitted"}
    # A reviewer returns the visit for correction; the phone sends revision 2.
    server.state.visits[body["id"]]["status"] = "returned"
    fixed = outbox.requeue(body["id"], {**body, "notes": "corrected"})
    assert fixed.revision == 2
    assert syncer(server, outbox).run(pull=False).complete
    assert server.state.visits[body["id"]]["body"]["notes"] == "corrected"


def test_refused_photo_holds_the_visit(
    server: FakeHTTPServer, outbox: Outbox, tmp_path: Path
) -> None:
    path = tmp_path / "bad.jpg"
    path.write_bytes(b"NOTIMG not really a photo")
    photo = describe_photo(path)
    body = attach_photos(visit_body(), [photo])
    entry = outbox.queue(body, [photo])
    report = syncer(server, outbox).run(pull=False)
    assert report.photos_refused == [photo.id]
    held = outbox.entry(entry.seq)
    assert (held.state, held.acknowledged) == ("needs_attention", True)
    assert outbox.photo(photo.id).error == {
        "code": "not_an_image",
        "message": "The file is not an image.",
    }


@pytest.mark.parametrize("change", ["delete", "edit"])
def test_photo_file_gone_or_changed_needs_attention(
    server: FakeHTTPServer, outbox: Outbox, tmp_path: Path, change: str
) -> None:
    _, [photo] = queue_with_photos(outbox, tmp_path)
    if change == "delete":
        Path(photo.path).unlink()
    else:
        Path(photo.path).write_bytes(b"other bytes")
    syncer(server, outbox).run(pull=False)
    record = outbox.photo(photo.id)
    assert record.state == "needs_attention"
    assert record.error is not None
    assert record.error["code"] in ("file_missing", "file_changed")
    assert photo.id not in server.state.photos


def test_server_down_leaves_everything_pending(outbox: Outbox, tmp_path: Path) -> None:
    body, _ = queue_with_photos(outbox, tmp_path)
    with running_server() as srv:
        client = fast_client(srv.url)
    report = Syncer(client, outbox).run()
    assert report.unreachable
    assert report.errors
    assert not report.complete
    assert outbox.counts()["pending"] == 1
    assert outbox.latest(body["id"]) is not None


def test_batch_endpoint_missing_falls_back_to_put(server: FakeHTTPServer, outbox: Outbox) -> None:
    server.state.batch_enabled = False
    for _ in range(3):
        outbox.queue(visit_body())
    assert syncer(server, outbox).run(pull=False).complete
    assert sum(1 for m, _ in server.state.log if m == "PUT") == 3


def test_put_mode_commits_each_answer_before_the_next(
    server: FakeHTTPServer, outbox: Outbox
) -> None:
    server.state.batch_enabled = False
    first, second = outbox.queue(visit_body()), outbox.queue(visit_body())
    server.state.faults.append(Fault("PUT", "/api/v1/visits/", drop_before=True, skip=1, times=99))
    report = syncer(server, outbox).run(pull=False)
    assert report.unreachable
    assert outbox.entry(first.seq).state == "done"
    assert outbox.entry(second.seq).state == "pending"


def test_too_large_batch_is_split(server: FakeHTTPServer, outbox: Outbox) -> None:
    server.state.max_batch_bytes = 400
    for _ in range(8):
        outbox.queue(visit_body(notes="x" * 100))
    huge = outbox.queue(visit_body(notes="y" * 1000))
    report = syncer(server, outbox).run(pull=False)
    assert len(report.acknowledged) == 9  # the huge one gets through by PUT
    assert server.state.rows_written == 9
    assert huge.visit_id in report.acknowledged


def test_expired_token_stops_the_run(server: FakeHTTPServer, outbox: Outbox) -> None:
    outbox.queue(visit_body())
    sync = syncer(server, outbox)
    server.state.tokens.clear()
    with pytest.raises(AuthError):
        sync.run(pull=False)
    assert outbox.counts()["pending"] == 1


def test_run_pulls_into_the_replica(server: FakeHTTPServer, outbox: Outbox, tmp_path: Path) -> None:
    server.state.add_location(1, "Main St")
    with Replica(tmp_path / "kit.sqlite3") as replica:
        report = syncer(server, outbox, replica=replica).run()
        assert report.pull is not None
        assert replica.locations() == [{"id": 1, "name": "Main St"}]


FAULTS = [
    Fault("POST", "/api/v1/sync/visits", drop_before=True),
    Fault("POST", "/api/v1/sync/visits", drop_after=True),
    Fault("POST", "/api/v1/sync/visits", status=503),
    Fault("POST", "/api/v1/uploads", drop_after=True),
    Fault("PATCH", "/api/v1/uploads/", drop_before=True),
    Fault("PATCH", "/api/v1/uploads/", drop_after=True),
    Fault("PATCH", "/api/v1/uploads/", cut_after=1500),
    Fault("PATCH", "/api/v1/uploads/", status=460),
    Fault("PATCH", "/api/v1/uploads/", status=502),
    Fault("HEAD", "/api/v1/uploads/", drop_before=True),
]


@pytest.mark.parametrize("seed", range(6))
def test_random_network_faults_never_lose_or_duplicate(
    tmp_path: Path, outbox: Outbox, seed: int
) -> None:
    rng = random.Random(seed)
    queued = [queue_with_photos(outbox, tmp_path, n_photos=rng.randint(0, 2)) for _ in range(6)]
    with running_server() as srv:
        for _ in range(12):
            template = rng.choice(FAULTS)
            srv.state.faults.append(
                Fault(**{**template.__dict__, "times": 1, "skip": rng.randint(0, 4)})
            )
        for _ in range(15):
            if syncer(srv, outbox).run(pull=False).complete:
                break
        fired = sum(1 for f in srv.state.faults if f.times == 0)
        assert outbox.counts()["done"] == len(queued)
        assert srv.state.rows_written == len(queued)
        for body, photos in queued:
            assert srv.state.visits[body["id"]]["body"] == body
            for photo in photos:
                assert srv.state.photos[photo.id] == Path(photo.path).read_bytes()
                assert srv.state.photo_completions[photo.id] == 1
    assert fired >= 4, "too few faults fired to mean anything"


KILLED_SCRIPT = """
import sys
from fieldobs_sync import ApiClient, Outbox, Syncer, TusClient
client = ApiClient(sys.argv[1], timeout=30)
client.login("shopper", "pw")
with Outbox(sys.argv[2]) as box:
    Syncer(client, box, tus=TusClient(client, chunk_size=4096)).run(pull=False)
"""


@pytest.mark.parametrize(
    ("method", "prefix", "skip"),
    [
        ("POST", "/api/v1/sync/visits", 0),
        ("POST", "/api/v1/uploads", 0),
        ("PATCH", "/api/v1/uploads/", 1),
        ("PATCH", "/api/v1/uploads/", 2),
    ],
)
def test_killed_mid_sync_resumes_without_loss_or_duplicates(
    server: FakeHTTPServer, tmp_path: Path, method: str, prefix: str, skip: int
) -> None:
    db = tmp_path / "kit.sqlite3"
    with Outbox(db) as box:
        queued = [queue_with_photos(box, tmp_path, n_photos=1, size=10_000) for _ in range(2)]
    release = threading.Event()
    # The server does the work, then hangs before answering: the client is killed waiting.
    server.state.faults.append(Fault(method, prefix, hang=release, skip=skip))
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(KILLED_SCRIPT), server.url, str(db)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        assert server.state.hung.wait(20), "the client never reached the hang"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        release.set()
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        if proc.stderr is not None:
            proc.stderr.close()
    with Outbox(db) as box:
        report = syncer(server, box).run(pull=False)
        assert report.complete, report
        assert box.counts()["done"] == 2
    assert server.state.rows_written == 2
    for _, photos in queued:
        for photo in photos:
            assert server.state.photos[photo.id] == Path(photo.path).read_bytes()
            assert server.state.photo_completions[photo.id] == 1
