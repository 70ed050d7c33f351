"""What the pages show and what the admin forms do, through the Flask test client."""

from __future__ import annotations

import html
import io
import json
import re
from collections.abc import Callable
from functools import partial
from pathlib import Path
from unittest import mock

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from fieldobs.dashboards import store as store_dashboard
from fieldobs.dashboards.store import store_visits
from fieldobs.db import get_db
from fieldobs.people.accounts import authenticate
from fieldobs.photos.processing import PhotoRejected, process_photo
from fieldobs.web import pdf
from tests.helpers.console_world import World, csrf_token
from tests.helpers.photo_factory import jpeg


def _post(client: FlaskClient, page: str, path: str, **data: object) -> TestResponse:
    token = csrf_token(client.get(page).get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, **data})


def test_area_page_shows_league_funnel_heat_map_and_priorities(
    world: World, signed_in: Callable[[str], FlaskClient]
) -> None:
    html = signed_in("lead").get("/areas/1").get_data(as_text=True)
    for part in ("League table", "Leeds", "York", "Funnel plot", "99.8 %", "Where each store"):
        assert part in html
    assert "What to fix first" in html
    assert "Open assignments" not in html  # store-side staff never learn when shops come


def test_area_page_shows_admins_open_work(signed_in: Callable[[str], FlaskClient]) -> None:
    html = signed_in("admin").get("/areas/1").get_data(as_text=True)
    assert "Open assignments" in html
    assert "Overdue" in html


@pytest.mark.parametrize(
    "query",
    [
        "grain=week",
        "kind=walkthrough",
        "checklist=mystery-shop",
        "sort=name",
        "sort=n",
        "sort=delta",
        "grain=month&period=2026-01",
    ],
)
def test_area_filters_live_in_the_url(query: str, signed_in: Callable[[str], FlaskClient]) -> None:
    response = signed_in("lead").get(f"/areas/1?{query}")
    assert response.status_code == 200


@pytest.mark.parametrize("query", ["grain=year", "kind=x", "period=2026-99", "checklist=nope"])
def test_bad_filters_are_422_pages(query: str, signed_in: Callable[[str], FlaskClient]) -> None:
    response = signed_in("lead").get(f"/areas/1?{query}")
    assert response.status_code == 422
    assert response.mimetype == "text/html"


def test_store_page_lists_visits_linking_to_reports(
    world: World, signed_in: Callable[[str], FlaskClient]
) -> None:
    html = signed_in("manager").get("/stores/1?sections=1").get_data(as_text=True)
    assert f"/visits/{world.released_with_photos}" in html
    assert f"/visits/{world.unreleased}" not in html
    assert "Walk-throughs against mystery shops" in html
    assert "Hide section lines" in html


def test_store_visits_are_filtered(signed_in: Callable[[str], FlaskClient]) -> None:
    client = signed_in("admin")
    html = client.get("/stores/1?visit_kind=walkthrough").get_data(as_text=True)
    assert "Walk-through</td>" in html
    assert "Mystery shop</td>" not in html


@pytest.mark.parametrize("per_page", [1, 2, 4])
def test_store_visit_pages_follow_on_without_gaps_or_repeats(
    web_app: Flask, world: World, per_page: int
) -> None:
    with web_app.app_context():
        db = get_db()
        admin = authenticate(db, world.org.tokens["admin"])
        leeds = world.org.locations["leeds"]
        listed = partial(store_visits, db, admin, leeds, timezone="Europe/London")
        whole = [v["id"] for v in listed(per_page=100)["visits"]]
        paged: list[str] = []
        page = listed(per_page=per_page)
        while True:
            paged += [v["id"] for v in page["visits"]]
            if page["next_cursor"] is None:
                break
            page = listed(per_page=per_page, cursor=page["next_cursor"])
    assert len(whole) >= 5
    assert paged == whole


def test_store_page_links_to_older_visits_and_back_to_the_newest(
    signed_in: Callable[[str], FlaskClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_dashboard, "VISITS_PER_PAGE", 2)
    client = signed_in("admin")
    first = client.get("/stores/1").get_data(as_text=True)
    older = re.search(r'href="(\?[^"]*cursor=[^"]+)#visits" rel="next">Older', first)
    assert older is not None
    assert "Newest</a>" not in first
    second = client.get("/stores/1" + html.unescape(older.group(1))).get_data(as_text=True)
    assert "Newest</a>" in second
    assert client.get("/stores/1?cursor=not-a-cursor").status_code == 400


def test_report_shows_answers_reasons_comments_photos_and_criticals(
    world: World, signed_in: Callable[[str], FlaskClient]
) -> None:
    html = signed_in("admin").get(f"/visits/{world.released_with_photos}").get_data(as_text=True)
    assert "Waited by the till; nobody looked up." in html
    assert "s target" in html  # the duration item's reason
    assert f"/photos/{world.released_photos[0]}/thumb" in html
    assert f'href="/photos/{world.released_photos[0]}"' in html
    assert "is-critical" in html
    assert "Review trail" in html


def test_pdf_has_the_report(world: World, signed_in: Callable[[str], FlaskClient]) -> None:
    response = signed_in("manager").get(f"/visits/{world.released_with_photos}/report.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    assert b"/Subtype /Image" in response.data or b"/Subtype/Image" in response.data


def test_a_pdf_download_leaves_cut_photos_refused(
    world: World, signed_in: Callable[[str], FlaskClient], tmp_path: Path
) -> None:
    # WeasyPrint switches on Pillow's LOAD_TRUNCATED_IMAGES for the process when imported.
    download = signed_in("manager").get(f"/visits/{world.released_with_photos}/report.pdf")
    assert download.status_code == 200
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(jpeg(seed=11)[:20_000])
    with pytest.raises(PhotoRejected) as caught:
        process_photo(cut)
    assert (caught.value.status, caught.value.reason) == (422, "truncated")


def test_pdf_link_says_what_to_install_when_libraries_are_missing(
    world: World, signed_in: Callable[[str], FlaskClient]
) -> None:
    client = signed_in("admin")
    with mock.patch.object(pdf, "unavailable", return_value=pdf.MISSING_LIBRARIES):
        page = client.get(f"/visits/{world.released_with_photos}").get_data(as_text=True)
        download = client.get(f"/visits/{world.released_with_photos}/report.pdf")
    assert "apt-get install -y libpango-1.0-0" in page
    assert download.status_code == 503


def test_review_returns_with_note_and_item_comments(
    world: World, signed_in: Callable[[str], FlaskClient]
) -> None:
    client = signed_in("admin")
    page = f"/admin/review/{world.unreleased}"
    response = _post(
        client,
        page,
        page,
        action="return",
        note="Please add the queue length.",
        revision="1",
        **{"comment:notes.queue_length": "How many people?"},
    )
    assert response.status_code == 303
    trail = client.get(f"/visits/{world.unreleased}").get_data(as_text=True)
    assert "Please add the queue length." in trail
    assert "How many people?" in trail


def test_return_without_note_shows_the_error_and_keeps_comments(
    world: World, signed_in: Callable[[str], FlaskClient]
) -> None:
    client = signed_in("admin")
    page = f"/admin/review/{world.unreleased}"
    response = _post(
        client, page, page, action="return", note="", **{"comment:notes.summary": "Kept"}
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "There is a problem" in html
    assert 'href="#f-note"' in html
    assert ">Kept</textarea>" in html


def test_review_queue_lists_the_waiting_shop_with_photos(
    world: World, signed_in: Callable[[str], FlaskClient]
) -> None:
    html = signed_in("admin").get("/admin/review").get_data(as_text=True)
    assert f"/admin/review/{world.unreleased}" in html
    assert f"/photos/{world.unreleased_photos[0]}/thumb" in html


def test_assignment_import_shows_errors_by_line(
    world: World, signed_in: Callable[[str], FlaskClient]
) -> None:
    client = signed_in("admin")
    text = (
        "shopper,location_id,checklist,window_start,window_end\n"
        f"shopper2,{world.org.locations['dublin']},mystery-shop,2030-01-01,2030-01-05\n"
        "nobody,999,mystery-shop,2030-01-01,2030-01-05\n"
    )
    response = _post(
        client,
        "/admin/assignments",
        "/admin/assignments/import",
        csv=(io.BytesIO(text.encode()), "a.csv"),
    )
    assert response.status_code == 422
    assert "line 3" in response.get_data(as_text=True)


def test_assignment_create_cancel_and_reassign(
    world: World, signed_in: Callable[[str], FlaskClient]
) -> None:
    client = signed_in("admin")
    created = _post(
        client,
        "/admin/assignments",
        "/admin/assignments",
        shopper="shopper2",
        location_id=str(world.org.locations["dublin"]),
        checklist="mystery-shop",
        window_start="2030-02-01",
        window_end="2030-02-07",
        scenario="Ask for a refund without the receipt.",
    )
    assert created.status_code == 303
    html = client.get("/admin/assignments?status=open").get_data(as_text=True)
    assert "Dublin" in html
    assert "Ask for a refund without the receipt." in html
    listing = client.get(
        "/api/v1/assignments", headers=world.org.auth("admin"), query_string={"status": "open"}
    ).get_json()
    first = listing["assignments"][0]["id"]
    moved = _post(
        client,
        "/admin/assignments",
        f"/admin/assignments/{first}/reassign",
        shopper="shopper",
    )
    assert moved.status_code == 303
    page = client.get("/admin/assignments").get_data(as_text=True)
    assert "reassigned" in page
    later = client.get(
        "/api/v1/assignments", headers=world.org.auth("admin"), query_string={"status": "open"}
    ).get_json()["assignments"][0]["id"]
    cancelled = _post(client, "/admin/assignments", f"/admin/assignments/{later}/cancel")
    assert cancelled.status_code == 303


def test_store_create_edit_and_import(signed_in: Callable[[str], FlaskClient]) -> None:
    client = signed_in("admin")
    made = _post(
        client, "/admin/stores", "/admin/stores", name="Hull", area_id="1", timezone="Europe/London"
    )
    assert made.status_code == 303
    bad = _post(client, "/admin/stores", "/admin/stores", name="X", area_id="1", timezone="Mars")
    assert bad.status_code == 422
    edited = _post(
        client, "/admin/stores/1", "/admin/stores/1", name="Leeds Central", area_id="1",
        timezone="Europe/London",
    )  # fmt: skip
    assert edited.status_code == 303
    text = "name,area,timezone\nSheffield,North,Europe/London\n"
    imported = _post(
        client, "/admin/stores", "/admin/stores/import", csv=(io.BytesIO(text.encode()), "s.csv")
    )
    assert imported.status_code == 303
    html = client.get("/admin/stores").get_data(as_text=True)
    assert "Sheffield" in html
    assert "Leeds Central" in html


def test_person_create_shows_problems(signed_in: Callable[[str], FlaskClient]) -> None:
    client = signed_in("admin")
    bad = _post(
        client, "/admin/people", "/admin/people", username="m2", password="short", role="manager"
    )
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert "a manager needs at least one location" in html
    good = _post(
        client, "/admin/people", "/admin/people", username="m2", password="long password",
        role="manager", location_ids="1",
    )  # fmt: skip
    assert good.status_code == 303


def test_webhook_pages(signed_in: Callable[[str], FlaskClient]) -> None:
    # A literal public address: nothing is resolved or connected to when a hook is added.
    client = signed_in("admin")
    made = _post(
        client, "/admin/webhooks", "/admin/webhooks", url="https://93.184.215.14/hook",
        events="visit.released",
    )  # fmt: skip
    assert made.status_code == 303
    html = client.get("/admin/webhooks").get_data(as_text=True)
    assert "signing secret" in html
    assert client.get("/admin/webhooks/1").status_code == 200


def test_calibration_and_jobs_pages(signed_in: Callable[[str], FlaskClient]) -> None:
    client = signed_in("admin")
    assert client.get("/admin/calibration").status_code == 200
    assert client.get("/admin/jobs").status_code == 200


def test_corrected_visit_shows_what_changed(
    world: World, signed_in: Callable[[str], FlaskClient]
) -> None:
    client = signed_in("admin")
    page = f"/admin/review/{world.unreleased}"
    _post(client, page, page, action="return", note="Fix the summary.")
    body = client.get(f"/api/v1/visits/{world.unreleased}", headers=world.org.auth("admin"))
    visit = body.get_json()
    corrected = {
        k: visit[k]
        for k in ("id", "checklist", "location_id", "started_at", "finished_at", "answers")
    }
    corrected["revision"] = 2
    corrected["photos"] = [
        {k: p[k] for k in ("id", "sha256", "size", "content_type", "item")} for p in visit["photos"]
    ]
    for answer in corrected["answers"]:
        if answer["item"] == "notes.summary":
            answer["value"] = "Corrected summary."
    pushed = client.put(
        f"/api/v1/visits/{world.unreleased}",
        data=json.dumps(corrected),
        content_type="application/json",
        headers=world.org.auth("shopper"),
    )
    assert pushed.status_code == 200, pushed.get_json()
    html = client.get(page).get_data(as_text=True)
    assert "Changed since revision 1 was returned" in html
    assert "Corrected summary." in html


def test_admin_changes_a_managers_scope(
    world: World, signed_in: Callable[[str], FlaskClient]
) -> None:
    admin = signed_in("admin")
    manager = signed_in("manager")
    assert manager.get("/stores/3").status_code == 404
    user = world.org.users["manager"]
    saved = _post(admin, "/admin/people", f"/admin/people/{user}/scope", location_ids=["1", "3"])
    assert saved.status_code == 303
    assert manager.get("/stores/3").status_code == 200
    empty = _post(admin, "/admin/people", f"/admin/people/{user}/scope")
    assert empty.status_code == 422
    assert "a manager needs at least one location" in empty.get_data(as_text=True)
