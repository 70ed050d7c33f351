"""The `fieldobs` command: init-db, users, locations import, checklists publish, demo."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask

from fieldobs.db import get_db
from tests.helpers.app import REPO, make_app

FIELDOBS = Path(sys.executable).parent / "fieldobs"


@pytest.fixture
def fresh_app(tmp_path: Path) -> Flask:
    """Return an app on an empty, migrated data directory."""
    return make_app(tmp_path / "fresh", AUTO_INIT=True)


def test_init_db_on_a_new_database_says_what_it_did(tmp_path: Path) -> None:
    env = {**os.environ, "FIELDOBS_DATA_DIR": str(tmp_path / "new")}
    first = subprocess.run([FIELDOBS, "init-db"], env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert "applied migrations: 0001_foundation.sql" in first.stdout
    assert "checklist mystery-shop v1: published now" in first.stdout
    again = subprocess.run([FIELDOBS, "init-db"], env=env, capture_output=True, text=True)
    assert "is up to date" in again.stdout
    assert "checklist mystery-shop v1: already published, unchanged" in again.stdout


def test_checklists_publish_of_a_changed_file_says_published(tmp_path: Path) -> None:
    folder = tmp_path / "checklists"
    folder.mkdir()
    source = (REPO / "checklists" / "mystery-shop.toml").read_text()
    (folder / "mystery-shop.toml").write_text(source)
    env = {
        **os.environ,
        "FIELDOBS_DATA_DIR": str(tmp_path / "data"),
        "FIELDOBS_CHECKLISTS_DIR": str(folder),
    }
    subprocess.run([FIELDOBS, "init-db"], env=env, check=True, capture_output=True)
    changed = source.replace('title = "', 'title = "Revised: ', 1)
    assert changed != source
    (folder / "mystery-shop.toml").write_text(changed)
    result = subprocess.run(
        [FIELDOBS, "checklists", "publish"], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "checklist mystery-shop v2: published now" in result.stdout


def test_users_create_with_scope(fresh_app: Flask) -> None:
    runner = fresh_app.test_cli_runner()
    runner.invoke(args=["demo"])
    result = runner.invoke(
        args=[
            "users",
            "create",
            "mgr2",
            "--role",
            "manager",
            "--password",
            "long password",
            "--location",
            "2",
        ]
    )
    assert result.exit_code == 0, result.output
    with fresh_app.app_context():
        row = (
            get_db()
            .execute(
                "SELECT location_id FROM user_locations JOIN users ON users.id = user_id"
                " WHERE username = 'mgr2'"
            )
            .fetchall()
        )
    assert [r[0] for r in row] == [2]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--role", "manager", "--password", "long password"],
            "a manager needs at least one location",
        ),
        (["--role", "shopper", "--password", "short"], "at least 8 characters"),
        (["--role", "area_lead", "--password", "long password", "--area", "99"], "no such id: 99"),
    ],
)
def test_users_create_explains_errors(fresh_app: Flask, args: list[str], message: str) -> None:
    result = fresh_app.test_cli_runner().invoke(args=["users", "create", "x", *args])
    assert result.exit_code == 1
    assert message in result.output


def test_locations_import_reports_lines(fresh_app: Flask, tmp_path: Path) -> None:
    csv_file = tmp_path / "stores.csv"
    csv_file.write_text("name,area,timezone\nA,North,Europe/London\nB,North,Atlantis/Capital\n")
    result = fresh_app.test_cli_runner().invoke(args=["locations", "import", str(csv_file)])
    assert result.exit_code == 1
    assert "line 3" in result.output
    csv_file.write_text("name,area,timezone\nA,North,Europe/London\n")
    result = fresh_app.test_cli_runner().invoke(args=["locations", "import", str(csv_file)])
    assert result.exit_code == 0
    assert "1 created" in result.output


def test_demo_seeds_once(fresh_app: Flask) -> None:
    runner = fresh_app.test_cli_runner()
    first = runner.invoke(args=["demo", "--if-empty"])
    second = runner.invoke(args=["demo", "--if-empty"])
    assert "2 areas, 16 stores" in first.output
    assert "seeded earlier" in second.output
    with fresh_app.app_context():
        roles = {r[0] for r in get_db().execute("SELECT role FROM users")}
    assert roles == {"admin", "area_lead", "manager", "shopper"}


def test_checklists_publish_names_a_broken_file(fresh_app: Flask, tmp_path: Path) -> None:
    broken = tmp_path / "lists"
    broken.mkdir()
    (broken / "bad.toml").write_text(
        'slug = "bad"\ntitle = "Bad"\nkind = "nonsense"\nsections = []\n'
    )
    result = fresh_app.test_cli_runner().invoke(
        args=["checklists", "publish", "--dir", str(broken)]
    )
    assert result.exit_code == 1
    assert "bad.toml" in result.output
    assert "kind" in result.output


def test_console_script_is_a_flask_group(tmp_path: Path) -> None:
    env = {**os.environ, "FIELDOBS_DATA_DIR": str(tmp_path / "cli")}
    result = subprocess.run(
        [str(FIELDOBS), "routes"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "/api/v1/visits/<visit_id>" in result.stdout
    assert (tmp_path / "cli" / "fieldobs.db").exists()
