"""Pulling changes: pages, idempotent apply, deletions, durable cursor, 410 and 400."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fieldobs_sync.errors import HttpError, ProtocolError, TransientError
from fieldobs_sync.pull import Replica, pull_changes
from tests.helpers.sync_fake_server import FakeHTTPServer, Fault, fast_client, running_server


@pytest.fixture
def server() -> Iterator[FakeHTTPServer]:
    """Run the fake server with a few changes in its feed."""
    with running_server() as srv:
        srv.state.events += [
            ("checklists", {"slug": "store", "version": 1, "title": "Store v1"}),
            ("locations", {"id": 1, "name": "Main St"}),
            ("locations", {"id": 2, "name": "Harbour"}),
            ("assignments", {"id": 10, "location_id": 1}),
            ("checklists", {"slug": "store", "version": 2, "title": "Store v2"}),
        ]
        yield srv


@pytest.fixture
def replica(tmp_path: Path) -> Iterator[Replica]:
    """Return a replica in a temporary file."""
    with Replica(tmp_path / "kit.sqlite3") as rep:
        yield rep


def page(cursor: str = "c1", has_more: bool = False, **lists: Any) -> dict[str, Any]:
    """Build a changes page."""
    return {"cursor": cursor, "has_more": has_more, "server_time": "t", **lists}


@pytest.mark.parametrize("limit", [1, 2, 3, 100])
def test_pull_loops_over_pages(server: FakeHTTPServer, replica: Replica, limit: int) -> None:
    report = pull_changes(fast_client(server.url), replica, limit=limit)
    assert report.pages == -(-5 // limit)
    assert (report.checklists, report.locations, report.assignments) == (2, 2, 1)
    assert replica.cursor() == "e1:5"
    assert [c["version"] for c in replica.checklists()] == [1, 2]
    assert replica.checklist("store") == {"slug": "store", "version": 2, "title": "Store v2"}
    assert replica.checklist("store", 1) is not None
    assert replica.checklist("other") is None
    assert [loc["name"] for loc in replica.locations()] == ["Main St", "Harbour"]


def test_pull_resumes_from_the_stored_cursor(server: FakeHTTPServer, replica: Replica) -> None:
    client = fast_client(server.url)
    pull_changes(client, replica)
    server.state.events += [
        ("locations", {"id": 1, "name": "Main Street"}),
        ("deleted.assignments", 10),
        ("deleted.locations", 2),
    ]
    report = pull_changes(client, replica, limit=10)
    assert report.pages == 1
    assert (report.deleted_assignments, report.deleted_locations) == (1, 1)
    assert replica.locations() == [{"id": 1, "name": "Main Street"}]
    assert replica.assignments() == []
    assert server.state.log[-1][1].endswith("cursor=e1%3A5&limit=10")


def test_applying_a_page_twice_changes_nothing(replica: Replica) -> None:
    changes = page(
        locations=[{"id": 1, "name": "A"}],
        assignments=[{"id": "x", "location_id": 1}],
        checklists=[{"slug": "s", "version": 1}],
        deleted={"locations": [9], "assignments": []},
    )
    replica.apply(changes)
    before = (replica.checklists(), replica.locations(), replica.assignments(), replica.cursor())
    replica.apply(changes)
    assert (replica.checklists(), replica.locations(), replica.assignments(), replica.cursor()) == (
        before
    )


def test_a_cut_pull_keeps_the_pages_it_applied(server: FakeHTTPServer, replica: Replica) -> None:
    server.state.faults.append(Fault("GET", "/api/v1/sync/changes", status=503, skip=1, times=99))
    with pytest.raises(TransientError):
        pull_changes(fast_client(server.url), replica, limit=2)
    assert replica.cursor() == "e1:2"
    assert len(replica.locations()) == 1
    server.state.faults.clear()
    report = pull_changes(fast_client(server.url), replica, limit=2)
    assert report.pages == 2
    assert len(replica.locations()) == 2


def test_stale_cursor_starts_over(server: FakeHTTPServer, replica: Replica) -> None:
    client = fast_client(server.url)
    pull_changes(client, replica)
    replica.apply(page("e1:5", locations=[{"id": 99, "name": "gone on the server"}]))
    server.state.epoch = "e2"  # the server forgot the old cursors
    report = pull_changes(client, replica, limit=3)
    assert report.restarted
    assert replica.cursor() == "e2:5"
    assert {loc["id"] for loc in replica.locations()} == {1, 2}


def test_garbage_cursor_is_a_bug_and_raises(server: FakeHTTPServer, replica: Replica) -> None:
    replica.apply(page("garbage"))
    with pytest.raises(HttpError) as info:
        pull_changes(fast_client(server.url), replica)
    assert info.value.status == 400
    assert replica.cursor() == "garbage"


def test_410_without_a_cursor_raises(server: FakeHTTPServer, replica: Replica) -> None:
    server.state.faults.append(Fault("GET", "/api/v1/sync/changes", status=410, times=2))
    replica.apply(page("e1:0"))
    with pytest.raises(HttpError):
        pull_changes(fast_client(server.url), replica)


@pytest.mark.parametrize(
    "bad",
    [
        {"has_more": False},
        {"cursor": "c"},
        page(locations=[{"name": "no id"}]),
        page(checklists=[{"slug": "s"}]),
        page(checklists=[{"slug": "s", "version": "two"}]),
        page(locations="nope"),
        page(deleted={"locations": 3}),
    ],
)
def test_malformed_pages_are_refused_untouched(replica: Replica, bad: dict[str, Any]) -> None:
    with pytest.raises(ProtocolError):
        replica.apply(bad)
    assert replica.cursor() is None


def test_forget_drops_everything(replica: Replica) -> None:
    replica.apply(page(locations=[{"id": 1}]))
    replica.forget()
    assert (replica.cursor(), replica.locations()) == (None, [])


def test_stuck_cursor_is_detected(
    server: FakeHTTPServer, replica: Replica, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = fast_client(server.url)

    def stuck(cursor: str | None, limit: int | None = None) -> dict[str, Any]:
        return page("same", has_more=True)

    monkeypatch.setattr(client, "get_changes", stuck)
    with pytest.raises(ProtocolError, match="cursor"):
        pull_changes(client, replica)
