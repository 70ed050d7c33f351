"""Two apps in one process keep their own event handlers, flaggers, pull feeds and caches.

Both apps here run on copies of one seeded database, so they share its identity (as a restore
does): whatever one app keeps must never reach the other, even keyed on that identity.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from fieldobs import events
from fieldobs.checklists.published import PublishedCache, publish_directory
from fieldobs.db import get_db, storage_for
from fieldobs.extensions import state_of
from fieldobs.people.scope import Principal, resolve_principal
from fieldobs.scores.cache import ScoreCaches
from fieldobs.storage.connection import Database
from fieldobs.visits.pull import Feeds, pull_changes, register_feed
from fieldobs.visits.push import Flaggers, add_flagger
from fieldobs.web.cache import PageCaches
from tests.helpers.app import REPO, Org, make_app
from tests.helpers.score_helpers import MYSTERY, Visits

FEBRUARY = "2026-02-03T10:00:00Z"


@pytest.fixture
def two_apps(tmp_path: Path, template: tuple[Path, Org]) -> Iterator[tuple[Flask, Flask]]:
    """Return two apps, each on its own copy of the seeded database."""
    apps = []
    for name in ("first", "second"):
        data_dir = tmp_path / name
        data_dir.mkdir()
        shutil.copy(template[0] / "fieldobs.db", data_dir / "fieldobs.db")
        # Device times years back are trusted, so visits can be placed in a past month.
        apps.append(make_app(data_dir, CLOCK_PAST_TOLERANCE_DAYS=100_000))
    yield apps[0], apps[1]
    for app in apps:
        storage_for(app).close_thread_connection()


def visits_of(app: Flask, org: Org) -> Visits:
    """Return the visit maker of one app."""
    return Visits(app, app.test_client(), org)


def stored_flags(app: Flask, visit_id: str) -> list[str]:
    """Return the flags an app stored on a visit."""
    with app.app_context():
        row = get_db().execute("SELECT flags FROM visits WHERE id = ?", [visit_id]).fetchone()
    return list(json.loads(row[0]))


def test_a_handler_subscribed_in_one_app_hears_only_that_apps_visits(
    two_apps: tuple[Flask, Flask], org: Org
) -> None:
    first, second = two_apps
    heard: list[str] = []

    def listen(_db: Database, payload: dict[str, Any]) -> None:
        heard.append(payload["after"]["id"])

    events.subscribe(state_of(first), events.VISIT_CHANGED, listen)
    visits_of(second, org).push("leeds", FEBRUARY)
    assert heard == []
    pushed_in_first = visits_of(first, org).push("leeds", FEBRUARY)
    assert heard == [pushed_in_first]


def test_a_flagger_added_in_one_app_flags_only_that_apps_visits(
    two_apps: tuple[Flask, Flask], org: Org
) -> None:
    first, second = two_apps

    def flag_everything(_db: Database, _who: Principal, _visit: dict[str, Any]) -> list[str]:
        return ["seen_by_first"]

    add_flagger(state_of(first), flag_everything)
    in_first = visits_of(first, org).push("leeds", FEBRUARY)
    in_second = visits_of(second, org).push("leeds", FEBRUARY)
    assert "seen_by_first" in stored_flags(first, in_first)
    assert "seen_by_first" not in stored_flags(second, in_second)


def test_a_feed_registered_in_one_app_is_pulled_only_from_that_app(
    two_apps: tuple[Flask, Flask], org: Org
) -> None:
    first, second = two_apps
    register_feed(state_of(first), "probe", "probes", lambda _db, _who, _keys: ([], []))
    # Through the domain function: the API's response schema lists only the feeds it serves.
    pulled = []
    for app in (first, second):
        with app.app_context():
            db = get_db()
            shopper = resolve_principal(db, org.users["shopper"], "shopper", "shopper")
            pulled.append(pull_changes(db, shopper, None, 100))
    assert "probes" in pulled[0]
    assert "probes" not in pulled[1]
    # The feeds every app has are still there in both.
    assert all("checklists" in body and "assignments" in body for body in pulled)


def publish_with_title(app: Flask, directory: Path, title: str) -> int:
    """Publish the mystery shop under another title in an app; return the new version."""
    directory.mkdir()
    source = (REPO / "checklists" / f"{MYSTERY}.toml").read_text()
    (directory / f"{MYSTERY}.toml").write_text(
        source.replace('title = "Mystery shop"', f'title = "{title}"', 1)
    )
    with app.app_context():
        (outcome,) = publish_directory(get_db(), directory)
    assert outcome["published"]
    return int(outcome["version"])


def test_a_checklist_version_kept_by_one_app_is_never_served_by_another(
    two_apps: tuple[Flask, Flask], org: Org, tmp_path: Path
) -> None:
    first, second = two_apps
    # Two restores of one backup go their own ways: one version number, two contents.
    version = publish_with_title(first, tmp_path / "first-files", "Mystery shop (first)")
    assert publish_with_title(second, tmp_path / "second-files", "Mystery shop (second)") == version
    path = f"/api/v1/checklists/{MYSTERY}/versions/{version}"
    titles = [
        app.test_client().get(path, headers=org.auth("shopper")).get_json()["title"]
        for app in (first, second)
    ]
    assert titles == ["Mystery shop (first)", "Mystery shop (second)"]


def test_a_series_cached_by_one_app_is_never_served_by_another(
    two_apps: tuple[Flask, Flask], org: Org
) -> None:
    first, second = two_apps
    # One visit each, so both databases move to the same data version with other scores.
    visits_of(first, org).shop("leeds", FEBRUARY, quality=1.0)
    visits_of(second, org).shop("leeds", FEBRUARY, quality=0.0)
    path = f"/api/v1/locations/{org.locations['leeds']}/scores?period=month&from=2026-02&to=2026-02"
    means = [
        app.test_client().get(path, headers=org.auth("admin")).get_json()["series"][0]["mean"]
        for app in (first, second)
    ]
    assert means[0] > means[1]


@pytest.mark.parametrize(
    "kind", [events.Subscribers, Flaggers, Feeds, PublishedCache, ScoreCaches, PageCaches]
)
def test_each_registry_and_cache_is_the_apps_own_and_reached_from_its_connections(
    two_apps: tuple[Flask, Flask], kind: type
) -> None:
    first, second = two_apps
    assert state_of(first).get(kind) is not state_of(second).get(kind)
    for app in (first, second):
        with app.app_context():
            assert get_db().app_state.get(kind) is state_of(app).get(kind)
