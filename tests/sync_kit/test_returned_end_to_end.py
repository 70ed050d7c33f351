"""A returned visit reaches the shopper's kit, is corrected and accepted: against a real server."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from fieldobs.db import get_db, storage_for
from fieldobs.operations.assignment_deadlines import remind_assignments
from fieldobs.timeutil import to_rfc3339, utcnow
from fieldobs_sync.cli import main
from fieldobs_sync.cli.login import PASSWORD_ENV
from fieldobs_sync.client import ApiClient
from tests.helpers.app import PASSWORD, Org, make_app
from tests.helpers.server_process import ServerProcess
from tests.helpers.visit_factory import make_visit

pytestmark = pytest.mark.slow


@pytest.fixture
def server(data_dir: Path) -> Iterator[ServerProcess]:
    """Run gunicorn on a copy of the seeded database."""
    with ServerProcess(data_dir, workers=1) as running:
        yield running


def run(home: Path, *args: str) -> tuple[int, str]:
    """Run the kit's CLI in-process."""
    out = io.StringIO()
    code = main(["--home", str(home), *args], out=out)
    return code, out.getvalue()


def call(client: ApiClient, method: str, path: str, expect: int, body: Any = None) -> Any:
    """Call the API as admin and check the status."""
    resp = client.request(method, f"/api/v1{path}", json_body=body)
    assert resp.status == expect, (method, path, resp.status, resp.body[:500])
    return resp.json()


def in_hours(hours: float) -> str:
    """Return now plus some hours, RFC 3339."""
    return to_rfc3339(utcnow() + timedelta(hours=hours))


def send_reminders(data_dir: Path) -> None:
    """Run the reminder job once on the server's database (as its scheduler would)."""
    app = make_app(data_dir)
    with app.app_context():
        remind_assignments(get_db(), utcnow(), timedelta(hours=24))
    storage_for(app).close_thread_connection()


def test_returned_visit_is_shown_corrected_and_accepted(
    server: ServerProcess,
    org: Org,
    data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    admin = ApiClient(server.url, org.tokens["admin"])
    home = tmp_path / "phone"
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    code, out = run(home, "login", server.url, "shopper")
    assert code == 0, out

    # An assignment closing within a day: the reminder job puts a note in the shopper's feed.
    call(admin, "POST", "/assignments", 201, {
        "shopper": "shopper", "location_id": org.locations["york"], "checklist": "mystery-shop",
        "window_start": in_hours(-2), "window_end": in_hours(6),
    })  # fmt: skip
    send_reminders(data_dir)

    # The shopper makes a visit at Leeds and syncs it; it waits for review.
    checklist = call(admin, "GET", "/checklists/mystery-shop", 200)
    original = make_visit(
        checklist,
        org.locations["leeds"],
        started_at=in_hours(-1),
        finished_at=in_hours(-0.5),
        notes="Busy Saturday.",
    )
    (tmp_path / "visit.json").write_text(json.dumps(original))
    assert run(home, "queue", str(tmp_path / "visit.json"))[0] == 0
    code, out = run(home, "sync")
    assert code == 0, out
    assert "pushed 1 visit(s)" in out
    [reminder] = [line for line in out.splitlines() if line.startswith("reminder: ")]
    assert "York" in reminder

    # The reviewer returns it with a note and a comment on one item.
    item = checklist["sections"][0]["items"][0]
    call(admin, "POST", f"/visits/{original['id']}/review", 200, {
        "action": "return", "note": "Describe the greeting.",
        "item_comments": {item["id"]: "Who greeted you, and how?"},
    })  # fmt: skip

    code, out = run(home, "sync")
    assert code == 1, out  # something for the shopper to do
    assert "1 returned visit(s)" in out
    assert "1 visit(s) returned for correction" in out
    code, out = run(home, "returned")
    assert code == 0, out
    assert original["id"] in out
    assert "note: Describe the greeting." in out
    assert f"{item['id']} ({item['prompt']}): Who greeted you, and how?" in out
    code, out = run(home, "reminders")
    assert reminder.removeprefix("reminder: ") in out

    # The shopper corrects it: the draft is the stored visit as the next revision.
    code, out = run(home, "returned", original["id"], "--body")
    draft = json.loads(out)
    assert draft["revision"] == 2
    assert draft["checklist"] == original["checklist"]
    (tmp_path / "fixed.json").write_text(
        json.dumps(draft | {"notes": "Greeted at the door by a smiling assistant."})
    )
    code, out = run(home, "correct", original["id"], "--file", str(tmp_path / "fixed.json"))
    assert code == 0, out
    assert "revision 2" in out
    code, out = run(home, "sync")
    assert code == 0, out
    assert "1 correction(s) accepted" in out
    assert "0 already on the server" in out
    code, out = run(home, "returned")
    assert out.strip() == "no visit is awaiting correction"

    stored = call(admin, "GET", f"/visits/{original['id']}", 200)
    assert stored["revision"] == 2
    assert stored["status"] == "submitted"
    assert stored["notes"] == "Greeted at the door by a smiling assistant."
    assert stored["checklist"] == original["checklist"]
    queue = call(admin, "GET", "/review/queue", 200)["visits"]
    assert [(v["id"], v["revision"]) for v in queue] == [(original["id"], 2)]
