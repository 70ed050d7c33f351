"""The operations loop against a real server (gunicorn, two workers, scheduler on):
assignment → visit pushed → returned → corrected → released → seen pseudonymised by the
manager → every step announced by signed webhooks; an unvisited assignment expires on its own."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from fieldobs.timeutil import to_rfc3339, utcnow
from tests.helpers.app import REPO
from tests.helpers.ops_factory import Receiver, verify_signature
from tests.helpers.server_process import ServerProcess
from tests.helpers.visit_factory import make_visit

pytestmark = pytest.mark.slow

FIELDOBS = Path(sys.executable).parent / "fieldobs"
PASSWORD = "end-to-end-password"


def cli(data_dir: Path, *commands: list[str]) -> None:
    """Run fieldobs commands on a data directory, side by side (each is a new process)."""
    env = {"FIELDOBS_DATA_DIR": str(data_dir), "PATH": str(FIELDOBS.parent)}
    running = [
        subprocess.Popen(
            [str(FIELDOBS), *args],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in commands
    ]
    for process in running:
        _out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err


class Api:
    """A signed-in user of the running server."""

    def __init__(self, base: str, username: str) -> None:
        self.base = base
        self.session = requests.Session()
        token = self.session.post(
            f"{base}/api/v1/auth/token", json={"username": username, "password": PASSWORD}
        ).json()["token"]
        self.session.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, expect: int, **kwargs: Any) -> Any:
        """Call the API and check the status."""
        response = self.session.request(method, f"{self.base}/api/v1{path}", timeout=10, **kwargs)
        assert response.status_code == expect, (method, path, response.text)
        return response.json() if response.content else None


def iso_in(**delta: float) -> str:
    """Return now plus a delta as RFC 3339."""
    return to_rfc3339(utcnow() + timedelta(**delta))


def test_assignment_to_released_pseudonymous_visit_with_webhooks(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    stores = tmp_path / "stores.csv"
    stores.write_text(
        "name,area,timezone\nLeeds Briggate,North,Europe/London\nYork,North,Europe/London\n"
    )
    cli(data_dir, ["locations", "import", str(stores)])
    cli(
        data_dir,
        ["users", "create", "admin", "--role", "admin", "--password", PASSWORD],
        ["users", "create", "mia.manager", "--role", "manager", "--location", "1",
         "--password", PASSWORD],
        ["users", "create", "sam.shopper", "--role", "shopper", "--password", PASSWORD,
         "--display-name", "Sam Shopperton"],
    )  # fmt: skip
    settings = {
        "SCHEDULER_ENABLED": "1",
        "JOB_INTERVALS": json.dumps(
            {"deliver_webhooks": 1, "expire_assignments": 1, "remind_assignments": 1}
        ),
        "WEBHOOK_BACKOFF_SECONDS": "1",
        "WEBHOOK_ALLOW_PRIVATE_TARGETS": "1",  # the receiver is on 127.0.0.1
        "SECRET_KEY": "end-to-end-secret",
    }
    with Receiver([503]) as receiver, ServerProcess(data_dir, workers=2, **settings) as server:
        admin = Api(server.url, "admin")
        shopper = Api(server.url, "sam.shopper")
        manager = Api(server.url, "mia.manager")
        hook = admin.call(
            "POST",
            "/webhooks",
            201,
            json={
                "url": receiver.url,
                "audience": "agency",  # every event; a client webhook hears releases only
                "events": [
                    "visit.submitted",
                    "visit.released",
                    "visit.returned",
                    "assignment.expired",
                ],
            },
        )

        # An assignment, pulled by the shopper's phone; the manager never sees it.
        assignment = admin.call(
            "POST",
            "/assignments",
            201,
            json={
                "shopper": "sam.shopper",
                "location_id": 1,
                "checklist": "mystery-shop",
                "window_start": iso_in(hours=-2),
                "window_end": iso_in(days=2),
            },
        )
        feed = shopper.call("GET", "/sync/changes", 200)
        assert [a["id"] for a in feed["assignments"]] == [assignment["id"]]
        manager.call("GET", "/assignments", 403)
        assert manager.call("GET", "/sync/changes", 200)["assignments"] == []

        # The visit is pushed and completes the assignment.
        checklist = shopper.call("GET", "/checklists/mystery-shop", 200)
        visit = make_visit(
            checklist,
            1,
            assignment_id=assignment["id"],
            started_at=iso_in(minutes=-40),
            finished_at=iso_in(minutes=-10),
        )
        shopper.call("PUT", f"/visits/{visit['id']}", 201, json=visit)
        assert admin.call("GET", f"/assignments/{assignment['id']}", 200)["status"] == "submitted"

        # Review returns it; the phone learns why; the corrected revision comes back.
        queue = admin.call("GET", "/review/queue", 200)["visits"]
        assert [v["id"] for v in queue] == [visit["id"]]
        item = checklist["sections"][0]["items"][0]["id"]
        admin.call(
            "POST",
            f"/visits/{visit['id']}/review",
            200,
            json={
                "action": "return",
                "note": "Describe the greeting.",
                "item_comments": {item: "How?"},
            },
        )
        returned = shopper.call("GET", "/sync/changes", 200, params={"cursor": feed["cursor"]})
        [back] = returned["returned_visits"]
        assert (back["id"], back["note"], back["item_comments"]) == (
            visit["id"],
            "Describe the greeting.",
            {item: "How?"},
        )
        corrected = {**visit, "revision": 2, "notes": "Greeted warmly at the door."}
        shopper.call("PUT", f"/visits/{visit['id']}", 200, json=corrected)
        manager.call("GET", f"/visits/{visit['id']}", 404)  # not released yet

        # Released: the manager sees it, with the shopper as a pseudonym only.
        assert [v["revision"] for v in admin.call("GET", "/review/queue", 200)["visits"]] == [2]
        admin.call("POST", f"/visits/{visit['id']}/review", 200, json={"action": "release"})
        seen = manager.call("GET", f"/visits/{visit['id']}", 200)
        assert seen["status"] == "released"
        assert seen["revision"] == 2
        assert set(seen["observer"]) == {"pseudonym"}
        assert "assignment_id" not in seen
        text = json.dumps(seen).lower()
        assert "sam.shopper" not in text
        assert "shopperton" not in text

        # An assignment nobody visits expires by itself, and says so.
        lapsing = admin.call(
            "POST",
            "/assignments",
            201,
            json={
                "shopper": "sam.shopper",
                "location_id": 2,
                "checklist": "mystery-shop",
                "window_start": iso_in(hours=-1),
                "window_end": iso_in(seconds=2),
            },
        )

        # Every step reached the receiver, signed; the refused first attempt was retried.
        received = receiver.wait_for(1 + 5)
        deadline = time.monotonic() + 10
        while admin.call("GET", f"/assignments/{lapsing['id']}", 200)["status"] != "expired":
            assert time.monotonic() < deadline
            time.sleep(0.2)
    by_event_id: dict[str, list[bytes]] = {}
    for request in received:
        assert verify_signature(hook["secret"], request)
        body = request.json()
        by_event_id.setdefault(body["id"], []).append(request.body)
        lowered = request.body.lower()
        assert b"sam.shopper" not in lowered
        assert b"shopperton" not in lowered
        person = (
            body["data"].get("visit", {}).get("observer") or body["data"]["assignment"]["shopper"]
        )
        assert person == seen["observer"]
    retried = [bodies for bodies in by_event_id.values() if len(bodies) > 1]
    assert len(retried) == 1
    assert retried[0][0] == retried[0][1]  # the retry carried the same bytes
    events = Counter(json.loads(bodies[0])["event"] for bodies in by_event_id.values())
    assert events == {
        "visit.submitted": 2,
        "visit.returned": 1,
        "visit.released": 1,
        "assignment.expired": 1,
    }
