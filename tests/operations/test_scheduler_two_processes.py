"""Two server processes (two gunicorn workers each) share one data directory, every worker
runs the scheduler: each job still runs once per tick, and never twice at once."""

from __future__ import annotations

import json
import sqlite3
import time
from collections import Counter, defaultdict
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from fieldobs.operations.jobs import JOBS
from tests.helpers.server_process import ServerProcess

pytestmark = pytest.mark.slow

EVERY_SECOND = json.dumps(dict.fromkeys(JOBS, 1))


def job_runs(data_dir: Path) -> list[dict[str, Any]]:
    """Return the run log straight from the file."""
    conn = sqlite3.connect(data_dir / "fieldobs.db")
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM job_runs WHERE tick IS NOT NULL")]
    finally:
        conn.close()


def wait_for_ticks(data_dir: Path, ticks: int, timeout: float = 60) -> None:
    """Wait until every job has finished runs for `ticks` ticks (a condition, not a sleep)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done: dict[str, set[int]] = defaultdict(set)
        for run in job_runs(data_dir):
            if run["finished_at"]:
                done[run["job"]].add(run["tick"])
        if set(done) == set(JOBS) and all(len(t) >= ticks for t in done.values()):
            return
        time.sleep(0.1)
    raise AssertionError(f"jobs did not run {ticks} ticks within {timeout} s")


def test_each_job_runs_once_per_tick_across_processes(data_dir: Path) -> None:
    settings = {"SCHEDULER_ENABLED": "1", "JOB_INTERVALS": EVERY_SECOND, "BACKUP_KEEP": "2"}
    with (
        ServerProcess(data_dir, workers=2, **settings),
        ServerProcess(data_dir, workers=2, **settings),
    ):
        wait_for_ticks(data_dir, 3)
    runs = job_runs(data_dir)
    by_job: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for run in runs:
        by_job[run["job"]].append(run)
    assert set(by_job) == set(JOBS)
    for job, found in by_job.items():
        per_tick = Counter(run["tick"] for run in found)
        assert max(per_tick.values()) == 1, (job, per_tick)
        assert len(per_tick) >= 3, (job, per_tick)
        assert all(run["outcome"] in ("ok", None) for run in found), found
        finished = sorted(
            (run["started_at"], run["finished_at"]) for run in found if run["finished_at"]
        )
        for (_, end), (start, _) in pairwise(finished):
            assert end <= start, (job, "two runs overlapped")
    # Four schedulers in two server processes competed for the ticks.
    processes = {run["owner"].split(":")[1] for run in runs}
    assert len(processes) >= 2, processes
    assert len(list((data_dir / "backups").iterdir())) == 2
