"""`make run` runs the scheduled jobs in the dev server's process, and only once under the
dev reloader (whose watching parent process never serves, nor runs jobs)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from fieldobs.operations.jobs import JOBS
from tests.helpers.app import REPO
from tests.helpers.server_process import free_port

pytestmark = pytest.mark.slow

EVERY_SECOND = json.dumps(dict.fromkeys(JOBS, 1))


def make_run_command() -> str:
    """Return the command `make run` serves with, as make would run it (the last line)."""
    listed = subprocess.run(
        ["make", "--no-print-directory", "-n", "run"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.replace("\\\n", " ")
    [serve] = [line for line in listed.splitlines() if " run " in line and "fieldobs" in line]
    return serve


def finished_runs(data_dir: Path) -> list[tuple[str, int, str]]:
    """Return (job, tick, owner) of the finished scheduled runs, straight from the file."""
    try:
        conn = sqlite3.connect(f"file:{data_dir / 'fieldobs.db'}?mode=ro", uri=True)
    except sqlite3.OperationalError:
        return []
    try:
        return list(
            conn.execute(
                "SELECT job, tick, owner FROM job_runs"
                " WHERE tick IS NOT NULL AND finished_at IS NOT NULL"
            )
        )
    except sqlite3.OperationalError:  # not migrated yet
        return []
    finally:
        conn.close()


def serve_until_jobs_ran(data_dir: Path, ticks: int, **env: str) -> list[tuple[str, int, str]]:
    """Start the server as `make run` does; return the runs once every job ran `ticks` ticks."""
    port = free_port()
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("FIELDOBS_")
    }
    environment.update(
        HOST="127.0.0.1",
        PORT=str(port),
        FIELDOBS_DATA_DIR=str(data_dir),
        FIELDOBS_JOB_INTERVALS=EVERY_SECOND,
        **env,
    )
    log = data_dir.parent / "server.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            ["sh", "-c", make_run_command()],
            cwd=REPO,
            env=environment,
            stdout=output,
            stderr=output,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            runs = finished_runs(data_dir)
            by_job = {job: {t for j, t, _ in runs if j == job} for job in JOBS}
            if all(len(found) >= ticks for found in by_job.values()):
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz") as answer:
                    assert answer.status == 200
                return runs
            time.sleep(0.1)
        raise AssertionError(f"no jobs ran: {log.read_text()[-2000:]}")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)


def test_make_run_runs_every_scheduled_job(tmp_path: Path) -> None:
    runs = serve_until_jobs_ran(tmp_path / "var", 2)
    assert {job for job, _, _ in runs} == set(JOBS)


def test_under_the_reloader_only_the_serving_process_runs_jobs(tmp_path: Path) -> None:
    runs = serve_until_jobs_ran(tmp_path / "var", 3, FLASK_DEBUG="1")
    processes = {owner.split(":")[1] for _, _, owner in runs}
    assert len(processes) == 1, processes
