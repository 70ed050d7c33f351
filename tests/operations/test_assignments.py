"""Assignments: made by admins, pulled by their shopper, completed by a visit, never seen
store-side; windows in UTC or local time; a cooldown per shopper and location."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from fieldobs.timeutil import utcnow
from tests.helpers.app import Org
from tests.helpers.ops_factory import (
    assign,
    checklist,
    in_hours,
    iso,
    pull,
    push,
    run_job,
    visit_now,
)


def count(data_dir: Path) -> int:
    """Count assignments straight from the file."""
    conn = sqlite3.connect(data_dir / "fieldobs.db")
    try:
        return int(conn.execute("SELECT count(*) FROM assignments").fetchone()[0])
    finally:
        conn.close()


@pytest.mark.parametrize("shopper", ["shopper", "SHOPPER", "by_id", "by_id_string"])
def test_admin_assigns_by_username_or_id(client: FlaskClient, org: Org, shopper: str) -> None:
    value: Any = {"by_id": org.users["shopper"], "by_id_string": str(org.users["shopper"])}.get(
        shopper, shopper
    )
    response = assign(client, org, shopper=value)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["shopper"]["id"] == org.users["shopper"]
    assert body["status"] == "open"
    assert body["checklist"] == "mystery-shop"
    assert body["window_start"].endswith("Z")


@pytest.mark.parametrize(
    ("location", "start", "end", "utc_start", "utc_end"),
    [
        # British Summer Time: local 09:00 is 08:00 UTC.
        (
            "leeds",
            "2030-07-01T09:00",
            "2030-07-01T17:30",
            "2030-07-01T08:00:00",
            "2030-07-01T16:30",
        ),
        # GMT in winter: local is UTC.
        (
            "leeds",
            "2030-12-02 09:00:00",
            "2030-12-02T17:00",
            "2030-12-02T09:00:00",
            "2030-12-02T17:00",
        ),
        # A date alone: the whole local day(s).
        ("dublin", "2030-07-01", "2030-07-03", "2030-06-30T23:00:00", "2030-07-03T23:00"),
        # RFC 3339 with an offset is taken as given.
        (
            "leeds",
            "2030-07-01T09:00:00+02:00",
            "2030-07-01T10:00:00Z",
            "2030-07-01T07:00:00",
            "2030-07-01T10:00",
        ),
    ],
)
def test_window_is_rfc3339_or_local_time_at_the_location(
    client: FlaskClient, org: Org, location: str, start: str, end: str, utc_start: str, utc_end: str
) -> None:
    response = assign(client, org, location=location, start=start, end=end)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["window_start"].startswith(utc_start)
    assert body["window_end"].startswith(utc_end)
    assert body["timezone"] in ("Europe/London", "Europe/Dublin")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"shopper": "nobody"}, "shopper"),
        ({"shopper": "manager"}, "shopper"),
        ({"location": "leeds", "checklist_slug": "back-to-the-floor"}, "checklist"),
        ({"checklist_slug": "no-such"}, "checklist"),
        ({"start": "2030-03-31T01:30", "end": "2030-03-31T05:00"}, "window_start"),  # skipped hour
        ({"start": "tomorrow", "end": "2030-01-01T00:00Z"}, "window_start"),
        ({"start": "2030-01-02T00:00Z", "end": "2030-01-01T00:00Z"}, "window_end"),
        ({"start": "2020-01-01T00:00Z", "end": "2020-01-02T00:00Z"}, "window_end"),
    ],
)
def test_invalid_assignment_is_422_naming_the_field(
    client: FlaskClient, org: Org, data_dir: Path, overrides: dict[str, Any], field: str
) -> None:
    response = assign(client, org, **overrides)
    assert response.status_code == 422
    assert field in response.get_json()["error"]["fields"]
    assert count(data_dir) == 0


def test_unknown_location_is_422(client: FlaskClient, org: Org) -> None:
    response = client.post(
        "/api/v1/assignments",
        json={
            "shopper": "shopper",
            "location_id": 999,
            "checklist": "mystery-shop",
            "window_start": in_hours(0),
            "window_end": in_hours(5),
        },
        headers=org.auth("admin"),
    )
    assert response.status_code == 422
    assert "location_id" in response.get_json()["error"]["fields"]


def test_same_location_within_the_cooldown_is_422(client: FlaskClient, org: Org) -> None:
    assert assign(client, org).status_code == 201
    again = assign(client, org, start=in_hours(24 * 30), end=in_hours(24 * 31))
    assert again.status_code == 422
    assert "cooldown" not in again.get_json()["error"]["fields"]
    assert "90 days" in again.get_json()["error"]["fields"]["location_id"][0]
    # Another location, another shopper, or after the cooldown: fine.
    assert assign(client, org, location="york").status_code == 201
    assert assign(client, org, shopper="shopper2").status_code == 201
    assert assign(client, org, start=in_hours(24 * 92), end=in_hours(24 * 93)).status_code == 201


def test_a_recent_visit_counts_towards_the_cooldown(client: FlaskClient, org: Org) -> None:
    assert (
        push(client, org, visit_now(checklist(client, org), org.locations["york"])).status_code
        == 201
    )
    response = assign(client, org, location="york", start=in_hours(24), end=in_hours(48))
    assert response.status_code == 422
    assert "visited" in response.get_json()["error"]["fields"]["location_id"][0]


def test_a_cancelled_assignment_frees_the_location(client: FlaskClient, org: Org) -> None:
    first = assign(client, org).get_json()
    cancel = client.post(f"/api/v1/assignments/{first['id']}/cancel", headers=org.auth("admin"))
    assert cancel.status_code == 200
    assert cancel.get_json()["status"] == "cancelled"
    assert assign(client, org).status_code == 201
    again = client.post(f"/api/v1/assignments/{first['id']}/cancel", headers=org.auth("admin"))
    assert again.status_code == 409


def test_shopper_sees_only_their_own(client: FlaskClient, org: Org) -> None:
    mine = assign(client, org).get_json()
    theirs = assign(client, org, shopper="shopper2").get_json()
    listed = client.get("/api/v1/assignments", headers=org.auth("shopper")).get_json()
    assert [a["id"] for a in listed["assignments"]] == [mine["id"]]
    assert "shopper" not in listed["assignments"][0]
    own = client.get(f"/api/v1/assignments/{mine['id']}", headers=org.auth("shopper"))
    assert own.status_code == 200
    other = client.get(f"/api/v1/assignments/{theirs['id']}", headers=org.auth("shopper"))
    assert other.status_code == 404


def test_admin_filters_and_pages(client: FlaskClient, org: Org) -> None:
    assign(client, org)
    assign(client, org, location="york")
    assign(client, org, shopper="shopper2")
    admin = org.auth("admin")
    by_shopper = client.get("/api/v1/assignments?shopper=shopper2", headers=admin).get_json()
    assert [a["shopper"]["username"] for a in by_shopper["assignments"]] == ["shopper2"]
    york = org.locations["york"]
    by_location = client.get(f"/api/v1/assignments?location_id={york}", headers=admin).get_json()
    assert [a["location_id"] for a in by_location["assignments"]] == [york]
    first = client.get("/api/v1/assignments?limit=2", headers=admin).get_json()
    assert first["has_more"] is True
    rest = client.get(
        f"/api/v1/assignments?limit=2&cursor={first['cursor']}", headers=admin
    ).get_json()
    assert rest["has_more"] is False
    assert len(first["assignments"]) + len(rest["assignments"]) == 3


@pytest.mark.parametrize("user", ["manager", "lead", "manager_south"])
def test_store_side_staff_never_see_assignments(client: FlaskClient, org: Org, user: str) -> None:
    made = assign(client, org).get_json()
    assert client.get("/api/v1/assignments", headers=org.auth(user)).status_code == 403
    assert (
        client.get(f"/api/v1/assignments/{made['id']}", headers=org.auth(user)).status_code == 403
    )
    assert assign(client, org, user=user).status_code == 403
    body = pull(client, org, user)
    assert body["assignments"] == []
    assert body["deleted"]["assignments"] == []


def test_assignments_reach_the_shopper_by_pull_and_cancelled_ones_as_deletions(
    client: FlaskClient, org: Org
) -> None:
    made = assign(client, org).get_json()
    first = pull(client, org, "shopper")
    assert [a["id"] for a in first["assignments"]] == [made["id"]]
    assert pull(client, org, "shopper2")["assignments"] == []
    client.post(f"/api/v1/assignments/{made['id']}/cancel", headers=org.auth("admin"))
    later = pull(client, org, "shopper", first["cursor"])
    assert later["assignments"] == []
    assert later["deleted"]["assignments"] == [made["id"]]
    # A phone starting from scratch is not told about what it never had.
    assert pull(client, org, "shopper")["deleted"]["assignments"] == []


def test_reassigned_one_leaves_the_old_shopper_and_reaches_the_new(
    client: FlaskClient, org: Org
) -> None:
    made = assign(client, org).get_json()
    old_cursor = pull(client, org, "shopper")["cursor"]
    new_cursor = pull(client, org, "shopper2")["cursor"]
    response = client.post(
        f"/api/v1/assignments/{made['id']}/reassign",
        json={"shopper": "shopper2"},
        headers=org.auth("admin"),
    )
    assert response.status_code == 201
    new = response.get_json()
    assert pull(client, org, "shopper", old_cursor)["deleted"]["assignments"] == [made["id"]]
    assert [a["id"] for a in pull(client, org, "shopper2", new_cursor)["assignments"]] == [
        new["id"]
    ]
    old = client.get(f"/api/v1/assignments/{made['id']}", headers=org.auth("admin")).get_json()
    assert old["status"] == "cancelled"
    assert old["replaced_by"] == new["id"]


CSV_HEADER = "shopper,location_id,checklist,window_start,window_end\n"


def test_csv_import_creates_every_row(client: FlaskClient, org: Org, data_dir: Path) -> None:
    rows = (
        f"shopper,{org.locations['leeds']},mystery-shop,2030-07-01T09:00,2030-07-01T17:00\n"
        f"{org.users['shopper2']},{org.locations['york']},mystery-shop,2030-07-02,2030-07-02\n"
    )
    response = client.post(
        "/api/v1/assignments/import",
        data=CSV_HEADER + rows,
        content_type="text/csv",
        headers=org.auth("admin"),
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["created"] == 2
    assert count(data_dir) == 2


def test_csv_import_reports_bad_lines_and_imports_nothing(
    client: FlaskClient, org: Org, data_dir: Path
) -> None:
    leeds = org.locations["leeds"]
    rows = (
        f"shopper,{leeds},mystery-shop,2030-07-01T09:00,2030-07-01T17:00\n"
        f"ghost,{leeds},mystery-shop,2030-07-01T09:00,2030-07-01T17:00\n"
        # Same shopper and location as line 2, a week later: inside the cooldown.
        f"shopper,{leeds},mystery-shop,2030-07-08T09:00,2030-07-08T17:00\n"
    )
    response = client.post(
        "/api/v1/assignments/import",
        data=CSV_HEADER + rows,
        content_type="text/csv",
        headers=org.auth("admin"),
    )
    assert response.status_code == 422
    fields = response.get_json()["error"]["fields"]
    assert set(fields) == {"line 3", "line 4"}
    assert fields["line 3"][0].startswith("shopper:")
    assert fields["line 4"][0].startswith("location_id:")
    assert count(data_dir) == 0


def test_csv_import_wants_text_csv(client: FlaskClient, org: Org) -> None:
    response = client.post("/api/v1/assignments/import", json={"a": 1}, headers=org.auth("admin"))
    assert response.status_code == 415


def test_cli_imports_csv_all_or_nothing(
    app: Flask, org: Org, tmp_path: Path, data_dir: Path
) -> None:
    leeds = org.locations["leeds"]
    good = tmp_path / "good.csv"
    good.write_text(CSV_HEADER + f"shopper,{leeds},mystery-shop,2030-07-01,2030-07-01\n")
    bad = tmp_path / "bad.csv"
    bad.write_text(CSV_HEADER + f"shopper,{leeds},mystery-shop,2030-07-01,2029-07-01\n")
    runner = app.test_cli_runner()
    failed = runner.invoke(args=["assignments", "import", str(bad)])
    assert failed.exit_code == 1
    assert "line 2" in failed.output
    assert count(data_dir) == 0
    done = runner.invoke(args=["assignments", "import", str(good)])
    assert done.exit_code == 0, done.output
    assert count(data_dir) == 1


# Visits against assignments --------------------------------------------------------------


def _assignment(client: FlaskClient, org: Org, assignment_id: int) -> dict[str, Any]:
    response = client.get(f"/api/v1/assignments/{assignment_id}", headers=org.auth("admin"))
    body: dict[str, Any] = response.get_json()
    return body


def test_a_visit_for_an_open_assignment_submits_it(client: FlaskClient, org: Org) -> None:
    made = assign(client, org).get_json()
    cursor = pull(client, org, "shopper")["cursor"]
    visit = visit_now(checklist(client, org), org.locations["leeds"], assignment_id=made["id"])
    assert push(client, org, visit).status_code == 201
    after = _assignment(client, org, made["id"])
    assert after["status"] == "submitted"
    assert after["visit_id"] == visit["id"]
    shopper_view = client.get(f"/api/v1/visits/{visit['id']}", headers=org.auth("shopper"))
    assert shopper_view.get_json()["flags"] == []
    assert [a["status"] for a in pull(client, org, "shopper", cursor)["assignments"]] == [
        "submitted"
    ]


@pytest.mark.parametrize(
    ("owner", "location", "times", "flag"),
    [
        ("shopper", "leeds", (-30, -5), None),
        ("shopper", "leeds", (-60 * 30, -60 * 29), "outside_assignment_window"),
        ("shopper", "york", (-30, -5), "assignment_other_location"),
        ("shopper2", "leeds", (-30, -5), "assignment_not_yours"),
    ],
)
def test_a_mismatched_visit_is_accepted_and_flagged(
    client: FlaskClient,
    org: Org,
    owner: str,
    location: str,
    times: tuple[int, int],
    flag: str | None,
) -> None:
    made = assign(client, org, shopper=owner).get_json()
    now = utcnow()
    visit = visit_now(
        checklist(client, org),
        org.locations[location],
        assignment_id=made["id"],
        started_at=iso(now + timedelta(minutes=times[0])),
        finished_at=iso(now + timedelta(minutes=times[1])),
    )
    response = push(client, org, visit, user="shopper")
    assert response.status_code == 201
    flags = client.get(f"/api/v1/visits/{visit['id']}", headers=org.auth("admin")).get_json()[
        "flags"
    ]
    assert flags == ([flag] if flag else [])
    # Another shopper's visit never completes someone's assignment.
    expected = "open" if flag == "assignment_not_yours" else "submitted"
    assert _assignment(client, org, made["id"])["status"] == expected


def test_an_unknown_assignment_looks_like_anothers(client: FlaskClient, org: Org) -> None:
    visit = visit_now(checklist(client, org), org.locations["leeds"], assignment_id=424242)
    assert push(client, org, visit).status_code == 201
    flags = client.get(f"/api/v1/visits/{visit['id']}", headers=org.auth("admin")).get_json()
    assert flags["flags"] == ["assignment_not_yours"]


def test_expiry_job_expires_past_windows_only(app: Flask, client: FlaskClient, org: Org) -> None:
    soon = assign(client, org, start=in_hours(-1), end=in_hours(1)).get_json()
    later = assign(client, org, location="york", start=in_hours(-1), end=in_hours(48)).get_json()
    cursor = pull(client, org, "shopper")["cursor"]
    result = run_job(app, "expire_assignments", utcnow() + timedelta(hours=2))
    assert result == {"expired": 1, "ids": [soon["id"]]}
    assert _assignment(client, org, soon["id"])["status"] == "expired"
    assert _assignment(client, org, later["id"])["status"] == "open"
    changed = pull(client, org, "shopper", cursor)["assignments"]
    assert [(a["id"], a["status"]) for a in changed] == [(soon["id"], "expired")]
    assert run_job(app, "expire_assignments", utcnow() + timedelta(hours=2))["expired"] == 0


def test_a_late_arriving_visit_made_in_the_window_completes_an_expired_assignment(
    app: Flask, client: FlaskClient, org: Org
) -> None:
    made = assign(client, org, start=in_hours(-2), end=in_hours(0.05)).get_json()
    run_job(app, "expire_assignments", utcnow() + timedelta(hours=1))
    visit = visit_now(checklist(client, org), org.locations["leeds"], assignment_id=made["id"])
    assert push(client, org, visit).status_code == 201
    assert _assignment(client, org, made["id"])["status"] == "submitted"


def test_reminder_reaches_the_shopper_once_and_is_withdrawn_when_done(
    app: Flask, client: FlaskClient, org: Org
) -> None:
    made = assign(client, org, start=in_hours(-2), end=in_hours(5)).get_json()
    assign(client, org, location="york", start=in_hours(-2), end=in_hours(72))
    cursor = pull(client, org, "shopper")["cursor"]
    assert run_job(app, "remind_assignments") == {"reminded": 1}
    assert run_job(app, "remind_assignments") == {"reminded": 0}
    body = pull(client, org, "shopper", cursor)
    [note] = body["notifications"]
    assert note["kind"] == "assignment_closing"
    assert note["assignment_id"] == made["id"]
    assert "Leeds" in note["message"]
    assert pull(client, org, "shopper2")["notifications"] == []
    assert pull(client, org, "manager")["notifications"] == []
    visit = visit_now(checklist(client, org), org.locations["leeds"], assignment_id=made["id"])
    push(client, org, visit)
    assert pull(client, org, "shopper", body["cursor"])["deleted"]["notifications"] == [note["id"]]


def test_two_visits_for_one_assignment_in_a_batch_flag_the_second(
    client: FlaskClient, org: Org
) -> None:
    made = assign(client, org).get_json()
    definition = checklist(client, org)
    first, second = (
        visit_now(definition, org.locations["leeds"], assignment_id=made["id"]) for _ in range(2)
    )
    response = client.post(
        "/api/v1/sync/visits", json={"visits": [first, second]}, headers=org.auth("shopper")
    )
    assert [r["status"] for r in response.get_json()["results"]] == [201, 201]
    flags = [
        client.get(f"/api/v1/visits/{v['id']}", headers=org.auth("admin")).get_json()["flags"]
        for v in (first, second)
    ]
    assert flags == [[], ["assignment_already_submitted"]]
    assert _assignment(client, org, made["id"])["visit_id"] == first["id"]
