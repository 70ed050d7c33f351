"""Settings are typed and checked once, when the app is made."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fieldobs import create_app
from fieldobs.extensions import settings_of
from fieldobs.settings import SettingsError


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SYNC_BATCH_MAX", "many"),
        ("SQLITE_SYNCHRONOUS", "SOMETIMES"),
        ("SCHEDULER_ENABLED", "perhaps"),
        ("JOB_INTERVALS", '{"backup": -1}'),
        ("JOB_INTERVALS", '{"no_such_job": 5}'),
        ("MAX_PHOTO_BYTES", "-5"),
        ("SECRET_KEY", ""),
        ("CONSOLE_PASS_MARK", "120"),
        ("CONSOLE_SESSION_HOURS", "a day"),
    ],
)
def test_a_bad_environment_value_stops_the_start_naming_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(f"FIELDOBS_{name}", value)
    with pytest.raises(SettingsError, match=f"FIELDOBS_{name} "):
        create_app({"DATA_DIR": str(tmp_path), "AUTO_INIT": False})


def test_environment_values_are_typed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIELDOBS_SYNC_BATCH_MAX", "7")
    monkeypatch.setenv("FIELDOBS_SCHEDULER_ENABLED", "false")
    monkeypatch.setenv("FIELDOBS_JOB_INTERVALS", '{"backup": 0}')
    monkeypatch.setenv("FIELDOBS_CONSOLE_PASS_MARK", "75.5")
    monkeypatch.setenv("FIELDOBS_FIELD_APP_BUILD", "7")
    settings = settings_of(create_app({"DATA_DIR": str(tmp_path), "AUTO_INIT": False}))
    assert (settings.console_pass_mark, settings.field_app_build) == (75.5, "7")
    assert settings.sync_batch_max == 7
    assert settings.scheduler_enabled is False
    assert settings.job_intervals["backup"] == 0
    assert settings.job_intervals["expire_assignments"] == 60


def test_a_relative_data_folder_is_resolved_once_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    app = create_app({"DATA_DIR": "./var", "AUTO_INIT": False})
    os.chdir("/")
    assert settings_of(app).data_dir == tmp_path.resolve() / "var"
    assert app.config["DATA_DIR"] == str(tmp_path.resolve() / "var")


def test_two_apps_in_one_process_keep_their_own_settings(tmp_path: Path) -> None:
    one = create_app({"DATA_DIR": str(tmp_path / "a"), "AUTO_INIT": False, "SYNC_BATCH_MAX": 3})
    two = create_app({"DATA_DIR": str(tmp_path / "b"), "AUTO_INIT": False})
    assert settings_of(one).sync_batch_max == 3
    assert settings_of(two).sync_batch_max == 100
