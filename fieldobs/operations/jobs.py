"""Scheduled jobs: plain functions `(db, settings, now) -> result`, each run under a lease.

Before running, a process takes the job's lease row in SQLite inside a write transaction
(BEGIN IMMEDIATE). The lease is refused while another owner holds it unexpired, or once the
tick has been run, so each job runs once per tick, never twice at once, however many workers or
processes share the data directory. A running job renews its lease; a crashed owner's lapses
within JOB_LEASE_SECONDS. Every run is logged in `job_runs`. The APScheduler glue that fires
the ticks is `scheduler`.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sqlite3
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fieldobs.operations import assignment_deadlines, delivery
from fieldobs.operations.clock import SYSTEM_CLOCK, Clock
from fieldobs.photos.purge import purge_expired_uploads
from fieldobs.settings import Settings
from fieldobs.storage import backup
from fieldobs.storage.connection import Database, one, transaction
from fieldobs.timeutil import to_rfc3339

log = logging.getLogger(__name__)

Job = Callable[[Database, Settings, datetime], dict[str, Any]]


def expire_assignments(
    db: Database,
    settings: Settings,  # noqa: ARG001 -- every job has the same signature
    now: datetime,
) -> dict[str, Any]:
    """Expire open assignments whose window has closed (assignment.expired webhooks)."""
    expired = assignment_deadlines.expire_assignments(db, now)
    return {"expired": len(expired), "ids": expired}


def remind_assignments(db: Database, settings: Settings, now: datetime) -> dict[str, Any]:
    """Remind shoppers, in their pull feed, of open windows about to close."""
    hours = settings.assignment_remind_hours
    created = assignment_deadlines.remind_assignments(db, now, timedelta(hours=hours))
    return {"reminded": len(created)}


def deliver_webhooks(db: Database, settings: Settings, now: datetime) -> dict[str, Any]:
    """Send due webhook deliveries, with retries and backoff."""
    return dict(delivery.deliver_due(db, now, settings.webhooks))


def purge_uploads(db: Database, settings: Settings, now: datetime) -> dict[str, Any]:
    """Expire idle uploads and delete unclaimed photos and unreferenced files."""
    return dict(
        purge_expired_uploads(
            db,
            settings.data_dir,
            now,
            photos=settings.photos,
            unclaimed_photo_days=settings.unclaimed_photo_days,
            tombstone_days=settings.upload_tombstone_days,
        )
    )


def backup_database(db: Database, settings: Settings, now: datetime) -> dict[str, Any]:
    """Take an online backup into DATA_DIR/backups, keeping the newest BACKUP_KEEP."""
    folder = settings.data_dir / "backups"
    return backup.backup_database(db, folder, now, keep=settings.backup_keep)


JOBS: dict[str, Job] = {
    "expire_assignments": expire_assignments,
    "remind_assignments": remind_assignments,
    "deliver_webhooks": deliver_webhooks,
    "purge_uploads": purge_uploads,
    "backup": backup_database,
}


# Leases and the run log ------------------------------------------------------------------


def owner_name() -> str:
    """Return who is running: host, process and thread."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


@dataclass
class JobRun:
    """What happened when a job was asked to run."""

    job: str
    ran: bool
    run_id: int | None = None
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    reason: str | None = None  # why it did not run


def _claim(
    db: Database, job: str, owner: str, now: datetime, lease: timedelta, tick: int | None
) -> tuple[int | None, str | None]:
    stamp = to_rfc3339(now)
    with transaction(db):  # BEGIN IMMEDIATE: one claimant at a time, across processes
        held = one(db.execute("SELECT * FROM job_leases WHERE job = ?", [job]))
        if held and held["owner"] and held["expires_at"] > stamp:
            return None, f"running in {held['owner']}"
        if (
            tick is not None
            and held
            and held["last_tick"] is not None
            and held["last_tick"] >= tick
        ):
            return None, f"tick {tick} already ran"
        last_tick = tick if tick is not None else (held["last_tick"] if held else None)
        db.execute(
            "INSERT INTO job_leases (job, owner, expires_at, last_tick) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (job) DO UPDATE SET owner = excluded.owner,"
            " expires_at = excluded.expires_at, last_tick = excluded.last_tick",
            [job, owner, to_rfc3339(now + lease), last_tick],
        )
        run_id = db.execute(
            "INSERT INTO job_runs (job, tick, owner, started_at) VALUES (?, ?, ?, ?)",
            [job, tick, owner, stamp],
        ).lastrowid
    return int(run_id or 0), None


def _release(db: Database, run: JobRun, owner: str, keep_days: float, finished: datetime) -> None:
    with transaction(db):
        db.execute(
            "UPDATE job_leases SET owner = NULL, expires_at = NULL WHERE job = ? AND owner = ?",
            [run.job, owner],
        )
        db.execute(
            "UPDATE job_runs SET finished_at = ?, outcome = ?, result = ?, error = ? WHERE id = ?",
            [
                to_rfc3339(finished),
                "error" if run.error else "ok",
                json.dumps(run.result, default=str),
                run.error,
                run.run_id,
            ],
        )
        db.execute(
            "DELETE FROM job_runs WHERE job = ? AND started_at < ?",
            [run.job, to_rfc3339(finished - timedelta(days=keep_days))],
        )


def run_job(
    db: Database,
    name: str,
    settings: Settings,
    now: datetime | None = None,
    *,
    tick: int | None = None,
    owner: str | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> JobRun:
    """Run one job under its lease (not if it is running elsewhere or its tick has run)."""
    job = JOBS[name]
    now = now or clock.now()
    owner = owner or owner_name()
    lease = timedelta(seconds=settings.job_lease_seconds)
    run_id, reason = _claim(db, name, owner, now, lease, tick)
    if run_id is None:
        return JobRun(name, ran=False, reason=reason)
    run = JobRun(name, ran=True, run_id=run_id)
    stop = threading.Event()
    renewer = threading.Thread(
        target=_renew, args=(_path(db), name, owner, lease, stop, clock), daemon=True
    )
    renewer.start()
    try:
        run.result = job(db, settings, now)
    except Exception as error:  # a failing job is logged; the scheduler lives on
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        run.error = "".join(traceback.format_exception_only(error)).strip()
        log.exception("job %s failed", name)
    finally:
        stop.set()
        renewer.join()
        _release(db, run, owner, settings.job_run_keep_days, clock.now())
    return run


def _path(db: Database) -> str:
    return str(db.execute("PRAGMA database_list").fetchone()[2])


def _renew(
    path: str, job: str, owner: str, lease: timedelta, stop: threading.Event, clock: Clock
) -> None:
    """Extend a running job's lease every third of its length, until told to stop."""
    conn: sqlite3.Connection | None = None
    try:
        while not clock.wait(stop, lease.total_seconds() / 3):
            # A connection of its own: the job's is busy, and per-thread anyway.
            conn = conn or sqlite3.connect(path, timeout=10, isolation_level=None)
            conn.execute(
                "UPDATE job_leases SET expires_at = ? WHERE job = ? AND owner = ?",
                [to_rfc3339(clock.now() + lease), job, owner],
            )
    except sqlite3.Error:
        log.exception("could not renew the lease of job %s", job)
    finally:
        if conn is not None:
            conn.close()
