"""Score reads: series, area ranking and all-areas ranking through a real server, from the
rollups, against the same answers computed by a plain GROUP BY over the visits.

Run: .venv/bin/python bench/scores.py [--locations 2000 --areas 40 --visits 200000 --years 3]

The locations use time zones without daylight saving time, so that the plain query can place a
visit in its local month with strftime and a fixed offset and both sides must agree exactly.

Through HTTP, "first" is the first request for a URL (nothing cached: computed and encoded) and
"again" the median of repeats, which the server answers from its data-versioned cache of
encoded bodies (series and rankings alike). Rows marked (information) have no target: a series
asked again with its ETag (304, no body), the series computed in-process, and the HTTP floor
(GET /healthz), which bounds the ratio any answer over HTTP can reach.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from fieldobs import create_app
from fieldobs.db import get_db
from fieldobs.people.scope import Principal, Role
from fieldobs.scores.contribution import TREND_PERIODS
from fieldobs.scores.periods import shift_period
from fieldobs.scores.rank_ranges import rank_ranges
from fieldobs.scores.ranking import (
    area_ranking,
    overall_ranking,
)
from fieldobs.scores.series import series_of, series_query

# Run as a script (python bench/scores.py): the data and the baseline are siblings.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.scores_baseline import plain_ranking, plain_series
from bench.scores_data import BIN, PASSWORD, REPO, generate

# --- measuring ----------------------------------------------------------------------------


def series_in_process(principal: Principal, location: int, first: str, last: str) -> Any:
    """Compute a location's series as the view does, without HTTP."""
    db = get_db()
    return series_of(db, series_query(db, principal, location, first=first, last=last))


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run(*args: str, env: dict[str, str]) -> str:
    """Run a fieldobs CLI command and return its output."""
    done = subprocess.run(
        [str(BIN / "fieldobs"), *args],
        env=env,
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


class Client:
    """A keep-alive JSON client."""

    def __init__(self, port: int, token: str = "") -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.token = token
        self.etag: str | None = None

    def measure(
        self, path: str, repeat: int, headers: dict[str, str] | None = None, expect: int = 200
    ) -> tuple[float, float, Any]:
        """GET a path once, then `repeat` more times; return first, median again, the body.

        The body is parsed JSON, or None for an answer without one (a 304).
        """
        started = time.perf_counter()
        status, raw = self.fetch(path, headers)
        first = time.perf_counter() - started
        assert status == expect, (status, raw[:500])
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            status, raw = self.fetch(path, headers)
            times.append(time.perf_counter() - started)
        assert status == expect, (status, raw[:500])
        return first, statistics.median(times) if times else first, json.loads(raw or b"null")

    def fetch(self, path: str, extra: dict[str, str] | None = None) -> tuple[int, bytes]:
        """GET a path; return the status and the raw body (parsing is the client's own time).

        The answer's ETag is kept in `etag`.
        """
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        headers.update(extra or {})
        try:
            self.conn.request("GET", path, headers=headers)
            response = self.conn.getresponse()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            # The server closed an idle keep-alive connection: open a new one, as browsers do.
            self.conn.close()
            self.conn.request("GET", path, headers=headers)
            response = self.conn.getresponse()
        self.etag = response.getheader("ETag")
        return response.status, response.read()

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """Send one request and return status and JSON."""
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = json.dumps(body) if body is not None else None
        self.conn.request(method, path, body=data, headers=headers)
        response = self.conn.getresponse()
        return response.status, json.loads(response.read() or b"null")


@dataclass
class Result:
    """One endpoint's figures."""

    name: str
    again: float
    first: float
    plain: float
    same: bool
    judged: bool = True  # False: shown for information, no target


def timed(call: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Return the median seconds of `repeat` calls (after one warm-up) and the last result."""
    result = call()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def same(served: Any, plain: Any, tolerance: float = 0.11) -> bool:
    """Compare answers: equal structure, numbers within a rounding step."""
    if isinstance(served, dict) and isinstance(plain, dict):
        return served.keys() == plain.keys() and all(same(served[k], plain[k]) for k in served)
    if isinstance(served, list) and isinstance(plain, list):
        return len(served) == len(plain) and all(
            same(a, b) for a, b in zip(served, plain, strict=True)
        )
    if isinstance(served, float) or isinstance(plain, float):
        return served is not None and plain is not None and abs(served - plain) <= tolerance
    return bool(served == plain)


def wait_for(port: int) -> None:
    """Wait until the server answers /healthz."""
    for _ in range(600):
        try:
            if Client(port).call("GET", "/healthz")[0] == 200:
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not start")


def main() -> None:
    """Generate, rebuild, measure and print figures and ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--locations", type=int, default=2000)
    parser.add_argument("--areas", type=int, default=40)
    parser.add_argument("--visits", type=int, default=200_000)
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--shoppers", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--keep", action="store_true", help="Keep the data directory.")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="fieldobs-scores-bench-"))
    env = {
        **os.environ,
        "FIELDOBS_DATA_DIR": str(data_dir),
        "FIELDOBS_SQLITE_SYNCHRONOUS": "NORMAL",
    }
    run("init-db", env=env)
    started = time.perf_counter()
    org = generate(data_dir / "fieldobs.db", args)
    generated = time.perf_counter() - started
    started = time.perf_counter()
    rebuilt = run("scores", "rebuild", env=env)
    rebuild_seconds = time.perf_counter() - started
    lead_areas = org["areas"][:5]
    run("users", "create", "bench-admin", "--role", "admin", "--password", PASSWORD, env=env)
    run(
        "users",
        "create",
        "bench-lead",
        "--role",
        "area_lead",
        "--password",
        PASSWORD,
        *[f"--area={a}" for a in lead_areas],
        env=env,
    )
    size = sum(p.stat().st_size for p in data_dir.glob("fieldobs.db*"))

    at = "2026-10"
    rng = random.Random(11)
    sample = rng.sample([row[0] for row in org["locations"]], 20)
    first, last = "2023-11", "2026-11"
    plain = sqlite3.connect(data_dir / "fieldobs.db")
    port = free_port()
    log_path = data_dir.parent / f"{data_dir.name}-server.log"
    log = log_path.open("wb")
    server = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "-w",
            "2",
            "-k",
            "gthread",
            "--threads",
            "2",
            "--keep-alive",
            "30",
            "-b",
            f"127.0.0.1:{port}",
            "wsgi:app",
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    results: list[Result] = []
    try:
        wait_for(port)
        login = {"username": "bench-admin", "password": PASSWORD}
        admin = Client(port, Client(port).call("POST", "/api/v1/auth/token", login)[1]["token"])
        repeat = max(3, args.repeat // 10)

        colds: list[float] = []
        warms: list[float] = []
        plain_times: list[float] = []
        revalidations: list[tuple[float, float]] = []
        ok = True
        for location in sample:
            path = f"/api/v1/locations/{location}/scores?period=month&from={first}&to={last}"
            cold, warm, body = admin.measure(path, repeat)
            colds.append(cold)
            warms.append(warm)
            # A client that kept the body asks with its ETag: unchanged data, no body (304).
            unchanged = {"If-None-Match": admin.etag or ""}
            revalidations.append(admin.measure(path, repeat, unchanged, expect=304)[:2])
            seconds, answer_ = timed(partial(plain_series, plain, location, first, last), repeat)
            plain_times.append(seconds)
            ok &= same(body["series"], answer_["series"])
        series_plain = statistics.median(plain_times)
        results.append(
            Result("series: 1 location, 37 months + sections", statistics.median(warms),
                   statistics.median(colds), series_plain, ok)
        )  # fmt: skip
        results.append(
            Result("series: again, If-None-Match -> 304",
                   statistics.median(a for _, a in revalidations),
                   statistics.median(f for f, _ in revalidations), series_plain, True, False)
        )  # fmt: skip
        # What any request costs here: no token, no database, a tiny body.
        floor, floor_again, _ = admin.measure("/healthz", args.repeat)
        results.append(
            Result("HTTP floor: GET /healthz", floor_again, floor, series_plain, True, False)
        )  # fmt: skip

        # The same series without HTTP: where the time of the first row goes.
        app = create_app({"DATA_DIR": str(data_dir), "AUTO_INIT": False})
        everyone = Principal(0, "bench", Role.ADMIN, None, None)
        with app.app_context():
            inside = [
                timed(partial(series_in_process, everyone, location, first, last), repeat)[0]
                for location in sample
            ]
        results.append(
            Result("series: computed in-process (no HTTP)", statistics.median(inside),
                   statistics.median(inside), series_plain, True, False)
        )  # fmt: skip

        colds, warms, plain_times, ok = [], [], [], True
        for area in org["areas"][:10]:
            path = f"/api/v1/areas/{area}/ranking?period=month&at={at}"
            cold, warm, body = admin.measure(path, repeat)
            colds.append(cold)
            warms.append(warm)
            seconds, table = timed(partial(plain_ranking, plain, [area], at), repeat)
            plain_times.append(seconds)
            ok &= same(body["locations"], table)
        results.append(
            Result(f"area ranking: {len(body['locations'])} locations", statistics.median(warms),
                   statistics.median(colds), statistics.median(plain_times), ok)
        )  # fmt: skip

        colds, ok = [], True
        for month in [shift_period("month", at, -k) for k in range(1, 6)]:
            cold, _, body = admin.measure(f"/api/v1/ranking?at={month}", 0)
            colds.append(cold)
        _, warm, body = admin.measure(f"/api/v1/ranking?at={at}", args.repeat)
        seconds, table = timed(partial(plain_ranking, plain, org["areas"], at), 3)
        results.append(
            Result(f"all-areas ranking: {len(body['locations'])} locations", warm,
                   statistics.median(colds), seconds, same(body["locations"], table))
        )  # fmt: skip

        # The rankings without HTTP, and what the rank ranges alone cost in the largest table.
        with app.app_context():
            db = get_db()
            area_seconds = statistics.median(
                timed(partial(area_ranking, db, everyone, area, at=at), repeat)[0]
                for area in org["areas"][:10]
            )
            all_seconds, everything = timed(partial(overall_ranking, db, everyone, at=at), 3)
        ranked = [(row["adjusted"], 2.0) for row in everything["locations"] if row["rank"]]
        ranges_seconds = timed(partial(rank_ranges, ranked), 3)[0]
        results.append(
            Result("area ranking: computed in-process", area_seconds, area_seconds,
                   statistics.median(plain_times), True, False)
        )  # fmt: skip
        results.append(
            Result("all-areas ranking: computed in-process", all_seconds, all_seconds,
                   seconds, True, False)
        )  # fmt: skip
        results.append(
            Result(f"  of which rank ranges ({len(ranked)} ranked)", ranges_seconds,
                   ranges_seconds, seconds, True, False)
        )  # fmt: skip
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()
        plain.close()
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)
            log_path.unlink(missing_ok=True)

    print(
        f"fieldobs scores benchmark: {args.locations} locations in {args.areas} areas, "
        f"{args.visits:,} visits over {args.years} years; 2 cores shared with the server"
    )
    print(f"  generated in {generated:.1f} s (one transaction); database {size / 1e9:.2f} GB")
    print(f"  fieldobs scores rebuild: {rebuild_seconds:.1f} s ({rebuilt})")
    print(
        "  HTTP: gunicorn, 2 gthread workers, one keep-alive client, time to the last body byte;"
        " first = first request for that URL (nothing cached yet: computed and encoded),"
        " again = median of repeats (served from the data-versioned cache of encoded bodies)."
    )
    print(
        "  (information) rows have no target: the 304 revalidation, the in-process series and"
        " ranking computations (rank ranges: 90 % rank intervals by seeded simulation), and the"
        " HTTP floor (/healthz: no token, no database), whose ratio is the"
        " best any HTTP answer could reach against the plain series query."
    )
    print(
        "  plain: the same answers from GROUP BY over the visits, in-process, no HTTP"
        f" (rankings: plus the same statistics; trend window {TREND_PERIODS} months)"
    )
    print(
        f"  {'endpoint':<40} {'HTTP again':>10} {'HTTP first':>11} {'plain':>10}"
        f" {'ratio again':>11} {'ratio first':>11}  same  targets (< 50 ms, >= 10x)"
    )
    for result in results:
        verdict = "met" if result.again < 0.050 and result.plain / result.again >= 10 else "MISSED"
        verdict = verdict if result.judged else "(information)"
        print(
            f"  {result.name:<40} {result.again * 1e3:7.2f} ms {result.first * 1e3:8.2f} ms"
            f" {result.plain * 1e3:7.1f} ms {result.plain / result.again:10.1f}x"
            f" {result.plain / result.first:10.1f}x  {'yes' if result.same else 'NO':<4}  {verdict}"
        )
    if args.keep:
        print(f"  data kept in {data_dir}")


if __name__ == "__main__":
    main()
