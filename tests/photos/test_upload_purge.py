"""The purge job: idle uploads expire, unclaimed photos and unreferenced blobs go, nothing else."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from fieldobs.db import get_db
from fieldobs.extensions import settings_of
from fieldobs.operations.jobs import run_job
from fieldobs.photos import parts
from fieldobs.photos.purge import ORPHAN_GRACE_SECONDS, purge_expired_uploads
from fieldobs.photos.service import finish_stalled_uploads
from fieldobs.photos.store import store_for
from fieldobs.storage.connection import one, rows
from fieldobs.timeutil import utcnow
from tests.helpers.app import Org
from tests.helpers.photo_factory import create, head, jpeg, new_id, one_shot, patch
from tests.helpers.visit_factory import make_visit, photo_entry

HOURS = 72


def purge(app: Flask, data_dir: Path, later: timedelta) -> dict[str, int]:
    with app.app_context():
        photos = settings_of(app).photos
        return purge_expired_uploads(get_db(), data_dir, utcnow() + later, photos=photos)


def photo_ids(app: Flask) -> set[str]:
    with app.app_context():
        return {r["id"] for r in rows(get_db().execute("SELECT id FROM photos"))}


def started(client: FlaskClient, org: Org, length: int = 100) -> str:
    response = create(client, org, length)
    assert response.status_code == 201
    url: str = response.headers["Location"]
    assert patch(client, org, url, 0, b"x" * 10).status_code == 204
    return url


def test_an_idle_upload_expires_then_its_record_goes(
    app: Flask, client: FlaskClient, org: Org, data_dir: Path
) -> None:
    url = started(client, org)
    part = parts.part_path(data_dir, url.rsplit("/", 1)[1])
    assert purge(app, data_dir, timedelta(hours=HOURS - 1))["expired"] == 0
    assert part.exists()
    counts = purge(app, data_dir, timedelta(hours=HOURS + 1))
    assert counts["expired"] == 1
    assert not part.exists()
    assert head(client, org, url).status_code == 410
    assert purge(app, data_dir, timedelta(hours=HOURS + 1, days=31))["tombstones"] == 1
    assert head(client, org, url).status_code == 404


def test_a_busy_upload_is_left_alone(
    app: Flask, client: FlaskClient, org: Org, data_dir: Path
) -> None:
    url = started(client, org)
    with parts.hold(data_dir, url.rsplit("/", 1)[1]):
        assert purge(app, data_dir, timedelta(hours=HOURS + 1))["expired"] == 0
    assert purge(app, data_dir, timedelta(hours=HOURS + 1))["expired"] == 1


def test_unclaimed_photos_go_after_their_days_claimed_ones_stay(
    app: Flask, client: FlaskClient, org: Org, data_dir: Path
) -> None:
    mystery = client.get("/api/v1/checklists/mystery-shop", headers=org.auth("shopper")).get_json()
    claimed, unclaimed, shared = jpeg(seed=31), jpeg(seed=32), jpeg(seed=33)
    ids = {
        name: new_id() for name in ("claimed", "unclaimed", "shared_claimed", "shared_unclaimed")
    }
    visit = make_visit(
        mystery,
        org.locations["leeds"],
        photos=[
            photo_entry(claimed, photo_id=ids["claimed"]),
            photo_entry(shared, photo_id=ids["shared_claimed"]),
        ],
    )
    assert (
        client.put(
            f"/api/v1/visits/{visit['id']}", json=visit, headers=org.auth("shopper")
        ).status_code
        == 201
    )
    for data, key, visit_id in [
        (claimed, "claimed", visit["id"]),
        (shared, "shared_claimed", visit["id"]),
        (unclaimed, "unclaimed", new_id()),
        (shared, "shared_unclaimed", new_id()),  # same picture, so the same blobs
    ]:
        assert one_shot(client, org, data, visit_id=visit_id, photo_id=ids[key]).status_code == 201
    blobs = blob_names(data_dir)
    assert purge(app, data_dir, timedelta(days=29))["unclaimed_photos"] == 0
    counts = purge(app, data_dir, timedelta(days=31))
    assert counts["unclaimed_photos"] == 2
    assert photo_ids(app) == {ids["claimed"], ids["shared_claimed"]}
    assert counts["blobs"] == 2  # the unclaimed photo's image and thumbnail; shared ones stay
    assert blob_names(data_dir) < blobs
    assert (
        client.get(
            f"/api/v1/photos/{ids['shared_claimed']}", headers=org.auth("shopper")
        ).status_code
        == 200
    )


def blob_names(data_dir: Path) -> set[str]:
    return set(store_for(data_dir).blobs())


def test_orphan_files_go_after_a_grace_period(app: Flask, data_dir: Path) -> None:
    store = store_for(data_dir)
    young = store.put(b"written by a request that has not committed yet")
    old = store.put(b"written by a request that crashed before committing")
    folder = parts.uploads_dir(data_dir)
    folder.mkdir(exist_ok=True)
    old_part, young_part, old_temp = (
        folder / ("a" * 32 + ".part"),
        folder / ("b" * 32 + ".part"),
        folder / "put-x.tmp",
    )
    for path in (old_part, young_part, old_temp):
        path.write_bytes(b"abc")
    stale = time.time() - 2 * ORPHAN_GRACE_SECONDS
    for path in (store.path(old), old_part, old_temp):
        os.utime(path, (stale, stale))
    counts = purge(app, data_dir, timedelta(0))
    assert counts["blobs"] == 1
    assert counts["orphan_files"] == 2
    assert store.exists(young)
    assert not store.exists(old)
    assert young_part.exists()
    assert not old_part.exists()
    assert not old_temp.exists()


def stalled_upload(app: Flask, client: FlaskClient, org: Org, data_dir: Path, data: bytes) -> str:
    """Leave an upload whose bytes all arrived but whose processing a crash interrupted."""
    response = create(client, org, len(data), photo_id=new_id())
    upload_id: str = response.headers["Location"].rsplit("/", 1)[1]
    parts.part_path(data_dir, upload_id).write_bytes(data)
    with app.app_context():
        get_db().execute("UPDATE uploads SET received = length WHERE id = ?", [upload_id])
    return upload_id


def upload_row(app: Flask, upload_id: str) -> dict[str, Any]:
    with app.app_context():
        row: dict[str, Any] | None = one(
            get_db().execute("SELECT * FROM uploads WHERE id = ?", [upload_id])
        )
    assert row is not None
    return row


@pytest.mark.parametrize("later", [timedelta(0), timedelta(hours=HOURS + 1)])
def test_the_purge_job_finishes_uploads_a_crash_left_unprocessed(
    app: Flask, client: FlaskClient, org: Org, data_dir: Path, later: timedelta
) -> None:
    upload_id = stalled_upload(app, client, org, data_dir, jpeg(seed=35))
    photo_id = upload_row(app, upload_id)["photo_id"]
    with app.app_context():
        run = run_job(get_db(), "purge_uploads", settings_of(app), utcnow() + later)
    assert run.ran
    assert run.error is None
    assert run.result["finished"] == 1
    assert photo_id in photo_ids(app)  # all its bytes had arrived: never expired unprocessed


def test_finish_stalled_uploads_processes_what_a_crash_left(
    app: Flask, client: FlaskClient, org: Org, data_dir: Path
) -> None:
    data = jpeg(seed=34)
    upload_id = stalled_upload(app, client, org, data_dir, data)
    photo_id = upload_row(app, upload_id)["photo_id"]
    settings = settings_of(app).photos
    with app.app_context():
        db = get_db()
        assert finish_stalled_uploads(db, data_dir, settings) == 1
        row: dict[str, Any] | None = one(
            db.execute("SELECT * FROM uploads WHERE id = ?", [upload_id])
        )
        assert row is not None
        assert (row["state"], row["outcome_status"]) == ("finished", 201)
        assert finish_stalled_uploads(db, data_dir, settings) == 0
    assert photo_id in photo_ids(app)
