"""A shopper does a whole assignment offline and it arrives once the network is back."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.helpers.field_app_journey import (
    Api,
    add_photos,
    answer_all,
    item,
    shot,
    sign_in,
    wait_controlled,
)
from tests.helpers.figures import Figures
from tests.helpers.photo_factory import assert_sanitised
from tests.helpers.server_process import stored_bodies

FIELDOBS = Path(sys.executable).parent / "fieldobs"
# Counts the home screen's drawn lists at the moment the app marks "home-ready".
LISTS_AT_HOME_READY = """
const mark = performance.mark.bind(performance);
performance.mark = (name, ...rest) => {
  if (name === "home-ready") {
    window.listsAtHomeReady = document.getElementById("home-lists")?.childElementCount ?? -1;
  }
  return mark(name, ...rest);
};
"""


def test_offline_mystery_shop_arrives_once_with_clean_photos(
    phone: Any, server: Any, api: Api, org: Any, photo_files: Any, figures: Figures
) -> None:
    assignment = api.assign(org.locations["leeds"])
    # The window closes within a day: the scheduler's reminder reaches the shopper's feed.
    subprocess.run(
        [str(FIELDOBS), "jobs", "run", "remind_assignments"],
        env={**os.environ, "FIELDOBS_DATA_DIR": str(server.data_dir)},
        check=True,
        capture_output=True,
    )
    checklist = api.json("checklists/mystery-shop")
    context, console = phone()
    page = context.new_page()
    sign_in(page, server.url, "shopper")
    page.get_by_role("heading", name="Leeds").wait_for()
    page.get_by_role("heading", name="Reminders").wait_for()
    wait_controlled(page)
    shot(page, "02-home-shopper")

    context.set_offline(True)
    page.add_init_script(LISTS_AT_HOME_READY)
    page.reload()
    page.get_by_role("button", name="Start visit").wait_for()
    # The figure is only honest if the app marks "home-ready" once the lists are drawn.
    assert page.evaluate("window.listsAtHomeReady") > 0
    figures["offline open to usable home (ms)"] = page.evaluate(
        "performance.getEntriesByName('home-ready')[0].startTime"
    )
    page.get_by_role("button", name="Start visit").click()
    page.get_by_role("button", name="Finish visit").wait_for()
    answer_all(page, checklist)
    add_photos(page, "notes.queue_photo", photo_files)
    item(page, "notes.queue_photo").scroll_into_view_if_needed()
    shot(page, "04-form-photos", full_page=False)
    page.get_by_role("button", name="Finish visit").click()
    page.locator("#outbox-h").wait_for()
    assert page.locator(".card .state").first.inner_text() == "Waiting to send"
    figures["Finish to in-outbox (ms)"] = page.evaluate("window.fieldapp.finishMs")
    shot(page, "05-home-outbox-offline")
    page.close()
    assert stored_bodies(server.data_dir) == {}

    context.set_offline(False)
    page = context.new_page()
    page.goto(f"{server.url}/app/")
    page.get_by_text("Submitted").first.wait_for(timeout=30_000)
    shot(page, "06-home-after-sync")
    # Confirmed by one listing of what changed, not by a request per visit.
    asked = page.evaluate(
        "performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname)"
    )
    assert "/api/v1/visits" in asked
    assert not [path for path in asked if path.startswith("/api/v1/visits/")]

    stored = stored_bodies(server.data_dir)
    assert len(stored) == 1
    [(visit_id, bodies)] = stored.items()
    assert len(bodies) == 1
    visit = api.json(f"visits/{visit_id}")
    assert visit["status"] == "submitted"
    assert visit["assignment_id"] == assignment["id"]
    assert [p["state"] for p in visit["photos"]] == ["received", "received"]
    for photo in visit["photos"]:
        response = api.call("GET", f"photos/{photo['id']}")
        assert response.status_code == 200
        assert_sanitised(response.content)
    assert api.json(f"assignments/{assignment['id']}")["status"] == "submitted"
    # The phone wrote each photo's capture time into the copy it sent; the server kept it.
    with sqlite3.connect(server.data_dir / "fieldobs.db") as conn:
        taken = [row[0] for row in conn.execute("SELECT captured_at FROM photos")]
    conn.close()
    assert len(taken) == 2
    assert all(taken)
    assert console.app_errors() == []
