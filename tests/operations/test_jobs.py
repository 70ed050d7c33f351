"""Scheduled jobs as plain functions, their leases (once per tick, never twice at once), the
run log, the online backup, and `fieldobs jobs run`."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from fieldobs.db import get_db
from fieldobs.extensions import settings_of
from fieldobs.operations import jobs, scheduler
from fieldobs.settings import DEFAULTS, Settings
from fieldobs.storage.connection import Database, transaction
from fieldobs.timeutil import to_rfc3339, utcnow
from tests.helpers.app import make_app, reconfigure
from tests.helpers.ops_factory import run_job


def runs(data_dir: Path, job: str) -> list[dict[str, Any]]:
    """Return a job's run log straight from the file."""
    conn = sqlite3.connect(data_dir / "fieldobs.db")
    conn.row_factory = sqlite3.Row
    try:
        found = conn.execute("SELECT * FROM job_runs WHERE job = ? ORDER BY id", [job])
        return [dict(row) for row in found]
    finally:
        conn.close()


def test_a_job_runs_once_per_tick(app: Flask, data_dir: Path) -> None:
    with app.app_context():
        db = get_db()
        first = jobs.run_job(db, "remind_assignments", settings_of(app), tick=7, owner="a")
        same_tick = jobs.run_job(db, "remind_assignments", settings_of(app), tick=7, owner="b")
        older = jobs.run_job(db, "remind_assignments", settings_of(app), tick=6, owner="b")
        next_tick = jobs.run_job(db, "remind_assignments", settings_of(app), tick=8, owner="b")
    assert (first.ran, same_tick.ran, older.ran, next_tick.ran) == (True, False, False, True)
    assert same_tick.reason == "tick 7 already ran"
    log = runs(data_dir, "remind_assignments")
    assert [(r["tick"], r["owner"], r["outcome"]) for r in log] == [(7, "a", "ok"), (8, "b", "ok")]
    assert json.loads(log[0]["result"]) == {"reminded": 0}


def _hold_lease(db: Database, job: str, owner: str, seconds: float) -> None:
    with transaction(db):
        db.execute(
            "INSERT OR REPLACE INTO job_leases (job, owner, expires_at, last_tick)"
            " VALUES (?, ?, ?, NULL)",
            [job, owner, to_rfc3339(utcnow() + timedelta(seconds=seconds))],
        )


def test_a_held_lease_keeps_others_out_until_it_lapses(app: Flask) -> None:
    with app.app_context():
        db = get_db()
        _hold_lease(db, "backup", "elsewhere:1:1", 60)
        refused = jobs.run_job(db, "backup", settings_of(app), tick=1)
        by_hand = jobs.run_job(db, "backup", settings_of(app))
        _hold_lease(db, "backup", "crashed:2:2", -1)
        taken_over = jobs.run_job(db, "backup", settings_of(app), tick=1)
    assert not refused.ran
    assert refused.reason == "running in elsewhere:1:1"
    assert not by_hand.ran
    assert taken_over.ran


class ManualClock:
    """A clock that moves only when the test says; waits end when it passes their deadline."""

    def __init__(self) -> None:
        self.moment = utcnow()
        self.waits = 0  # how many waits have begun
        self.changed = threading.Condition()

    def now(self) -> datetime:
        with self.changed:
            return self.moment

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        with self.changed:
            deadline = self.moment + timedelta(seconds=seconds)
            self.waits += 1
            self.changed.notify_all()
            # The short timeout only notices `stop`, which is set without notifying.
            while self.moment < deadline and not stop.is_set():
                self.changed.wait(0.01)
            return stop.is_set()

    def advance_to_next_wait(self, seconds: float) -> None:
        """Move time on, then block until the waiter woke, acted and waits again."""
        with self.changed:
            waits = self.waits
            self.moment += timedelta(seconds=seconds)
            self.changed.notify_all()
            assert self.changed.wait_for(lambda: self.waits > waits, timeout=10)


def test_a_long_job_renews_its_lease(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    lease = 30
    reconfigure(app, JOB_LEASE_SECONDS=lease)
    clock = ManualClock()
    started, finish = threading.Event(), threading.Event()

    def long_job(_db: Database, _config: Mapping[str, Any], _now: Any) -> dict[str, Any]:
        started.set()
        finish.wait(10)
        return {}

    def run_long() -> None:
        with app.app_context():
            jobs.run_job(get_db(), "backup", settings_of(app), tick=1, clock=clock)

    monkeypatch.setitem(jobs.JOBS, "backup", long_job)
    worker = threading.Thread(target=run_long)
    with clock.changed:
        worker.start()
        assert clock.changed.wait_for(lambda: clock.waits == 1, timeout=10)
    assert started.wait(10)
    for _ in range(6):  # twice the lease it took, a third at a time: renewed each time
        clock.advance_to_next_wait(lease / 3)
    with app.app_context():
        other = jobs.run_job(get_db(), "backup", settings_of(app), clock.now(), tick=2)
    finish.set()
    worker.join()
    assert not other.ran
    assert (other.reason or "").startswith("running in")
    with app.app_context():
        after = jobs.run_job(get_db(), "backup", settings_of(app), clock.now(), tick=3)
    assert after.ran  # released when it finished


def test_without_renewal_a_lapsed_lease_is_taken_over(app: Flask) -> None:
    lease = 30
    reconfigure(app, JOB_LEASE_SECONDS=lease)
    with app.app_context():
        db = get_db()
        _hold_lease(db, "backup", "crashed:1:1", lease)
        now = utcnow()
        held = jobs.run_job(db, "backup", settings_of(app), now + timedelta(seconds=lease - 1))
        lapsed = jobs.run_job(db, "backup", settings_of(app), now + timedelta(seconds=lease + 1))
    assert (held.ran, lapsed.ran) == (False, True)


def test_a_failing_job_is_logged_and_releases_its_lease(
    app: Flask, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(_db: Database, _config: Mapping[str, Any], _now: Any) -> dict[str, Any]:
        raise RuntimeError("disk on fire")

    monkeypatch.setitem(jobs.JOBS, "backup", broken)
    with app.app_context():
        failed = jobs.run_job(get_db(), "backup", settings_of(app), tick=1)
        monkeypatch.undo()
        again = jobs.run_job(get_db(), "backup", settings_of(app), tick=2)
    assert failed.ran
    assert failed.error == "RuntimeError: disk on fire"
    assert again.ran
    assert again.error is None
    assert [r["outcome"] for r in runs(data_dir, "backup")] == ["error", "ok"]


def test_backup_is_a_complete_self_contained_copy_keeping_the_newest(
    app: Flask, data_dir: Path
) -> None:
    reconfigure(app, BACKUP_KEEP=2)
    start = utcnow()
    results = [run_job(app, "backup", start + timedelta(hours=h)) for h in range(4)]
    folder = data_dir / "backups"
    names = sorted(p.name for p in folder.iterdir())
    assert names == [Path(r["path"]).name for r in results[2:]]
    assert results[3]["removed"] == [Path(results[1]["path"]).name]
    copy = sqlite3.connect(folder / names[-1])
    try:
        assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert copy.execute("SELECT count(*) FROM users").fetchone()[0] == 6
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        copy.close()


def test_backup_while_writing_sees_a_consistent_snapshot(app: Flask, data_dir: Path) -> None:
    with app.app_context():
        db = get_db()
        result = run_job(app, "backup")
        with transaction(db):
            db.execute(
                "INSERT INTO areas (name, created_at) VALUES ('After', ?)", [to_rfc3339(utcnow())]
            )
    copy = sqlite3.connect(result["path"])
    try:
        names = {row[0] for row in copy.execute("SELECT name FROM areas")}
    finally:
        copy.close()
    assert names == {"North", "South"}


def test_purge_uploads_calls_the_photo_pipeline(app: Flask) -> None:
    result = run_job(app, "purge_uploads")
    assert {"expired", "tombstones", "unclaimed_photos", "blobs"} <= set(result)


def test_deliver_webhooks_with_nothing_due_does_nothing(app: Flask) -> None:
    assert run_job(app, "deliver_webhooks") == {
        "delivered": 0,
        "retry": 0,
        "failed": 0,
        "cancelled": 0,
        "deferred": 0,
    }


def test_intervals_merge_configured_names_with_the_defaults() -> None:
    config = {**DEFAULTS, "JOB_INTERVALS": {"backup": 0, "deliver_webhooks": 2}}
    found = Settings.from_config(config).job_intervals
    assert found["backup"] == 0
    assert found["deliver_webhooks"] == 2
    assert found["expire_assignments"] == 60


def test_cli_runs_one_job_now(app: Flask, data_dir: Path) -> None:
    runner = app.test_cli_runner()
    done = runner.invoke(args=["jobs", "run", "backup"])
    assert done.exit_code == 0, done.output
    assert done.output.startswith("backup: {")
    assert len(list((data_dir / "backups").iterdir())) == 1
    unknown = runner.invoke(args=["jobs", "run", "nope"])
    assert unknown.exit_code == 2
    listed = runner.invoke(args=["jobs", "list"])
    assert "backup" in listed.output
    assert "last run" in listed.output


def test_scheduler_starts_only_when_enabled(data_dir: Path) -> None:
    off = make_app(data_dir)
    assert scheduler.SCHEDULER_KEY not in off.extensions
    on = make_app(
        data_dir,
        SCHEDULER_ENABLED=True,
        JOB_INTERVALS={"backup": 0, "purge_uploads": 0, "deliver_webhooks": 3600},
    )
    running = on.extensions[scheduler.SCHEDULER_KEY]
    try:
        assert running.running
        assert {job.id for job in running.get_jobs()} == {
            "expire_assignments",
            "remind_assignments",
            "deliver_webhooks",
        }
        assert scheduler.start_scheduler(on) is running
    finally:
        running.shutdown(wait=False)
