"""Publishing checklist files as immutable versions, and serving them with ETags."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from fieldobs.checklists.published import publish_directory
from fieldobs.db import get_db
from tests.helpers.app import REPO, Org


@pytest.fixture
def checklist_dir(tmp_path: Path) -> Path:
    """Return a private copy of the shipped checklists."""
    target = tmp_path / "checklists"
    shutil.copytree(REPO / "checklists", target)
    return target


def _versions(app: Flask) -> list[tuple[str, int]]:
    with app.app_context():
        return [
            (r[0], r[1])
            for r in get_db().execute("SELECT slug, version FROM checklist_versions ORDER BY 1, 2")
        ]


def test_publishing_unchanged_files_makes_no_new_version(app: Flask, checklist_dir: Path) -> None:
    before = _versions(app)
    with app.app_context():
        outcomes = publish_directory(get_db(), checklist_dir)
    assert all(not o["published"] for o in outcomes)
    assert _versions(app) == before


def test_changed_file_publishes_the_next_version(app: Flask, checklist_dir: Path) -> None:
    path = checklist_dir / "mystery-shop.toml"
    path.write_text(path.read_text().replace('title = "Mystery shop"', 'title = "Mystery shop 2"'))
    with app.app_context():
        outcomes = publish_directory(get_db(), checklist_dir)
    published = {o["slug"]: o for o in outcomes}
    assert published["mystery-shop"] == {"slug": "mystery-shop", "version": 2, "published": True}
    assert published["back-to-the-floor"]["published"] is False


def test_reverting_a_file_publishes_again_as_a_new_version(app: Flask, checklist_dir: Path) -> None:
    path = checklist_dir / "mystery-shop.toml"
    original = path.read_text()
    path.write_text(original.replace('title = "Mystery shop"', 'title = "Changed"'))
    with app.app_context():
        publish_directory(get_db(), checklist_dir)
        path.write_text(original)
        outcomes = publish_directory(get_db(), checklist_dir)
    assert {"slug": "mystery-shop", "version": 3, "published": True} in outcomes


def test_broken_file_publishes_nothing(app: Flask, checklist_dir: Path) -> None:
    (checklist_dir / "mystery-shop.toml").write_text(
        (checklist_dir / "mystery-shop.toml")
        .read_text()
        .replace('title = "Mystery shop"', 'title = "X"')
    )
    (checklist_dir / "broken.toml").write_text('slug = "broken"\ntitle = 3\n')
    before = _versions(app)
    with app.app_context(), pytest.raises(Exception, match=r"broken\.toml"):
        publish_directory(get_db(), checklist_dir)
    assert _versions(app) == before


def test_published_versions_cannot_be_edited(data_dir: Path) -> None:
    conn = sqlite3.connect(data_dir / "fieldobs.db")
    with pytest.raises(sqlite3.IntegrityError, match="immutable"):
        conn.execute("UPDATE checklist_versions SET title = 'x'")
    with pytest.raises(sqlite3.IntegrityError, match="immutable"):
        conn.execute("DELETE FROM checklist_versions")
    conn.close()


@pytest.mark.parametrize(
    "path", ["/api/v1/checklists/mystery-shop", "/api/v1/checklists/mystery-shop/versions/1"]
)
def test_etag_gives_304(client: FlaskClient, org: Org, path: str) -> None:
    first = client.get(path, headers=org.auth("shopper"))
    assert first.status_code == 200
    etag = first.headers["ETag"]
    again = client.get(path, headers={**org.auth("shopper"), "If-None-Match": etag})
    assert again.status_code == 304
    other = client.get(path, headers={**org.auth("shopper"), "If-None-Match": '"other"'})
    assert other.status_code == 200


def test_checklist_carries_the_contract_fields(client: FlaskClient, org: Org) -> None:
    body = client.get("/api/v1/checklists", headers=org.auth("manager")).get_json()
    by_slug = {c["slug"]: c for c in body["checklists"]}
    assert by_slug["mystery-shop"]["kind"] == "mystery_shop"
    assert by_slug["back-to-the-floor"]["kind"] == "walkthrough"
    item = by_slug["mystery-shop"]["sections"][0]["items"][0]
    assert {"id", "prompt", "type", "weight", "critical", "allow_na", "photo", "required"} <= set(
        item
    )
    assert by_slug["mystery-shop"]["version"] == 1


def test_unknown_version_is_404(client: FlaskClient, org: Org) -> None:
    response = client.get("/api/v1/checklists/mystery-shop/versions/99", headers=org.auth("admin"))
    assert response.status_code == 404
