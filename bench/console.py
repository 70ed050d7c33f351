"""Console pages against the JSON API calls carrying the same figures, CSV export against a
plain sqlite3 + csv.writer loop, and a visit report PDF with 10 photos.

Run: .venv/bin/python bench/console.py [--locations 2000 --areas 40 --visits 200000]

Data: the scores benchmark's generator (bench/scores.py). Times are server time in-process
through Flask's test client (no sockets), medians of --repeat runs after one warm-up:
- "computed": every cache emptied before each request (the API keeps encoded rankings and
  series keyed on the data version; the console computes its pages from the same functions);
- "API cached": the API answering from its cache, for information.
Each page is compared with the sum of the API calls that carry its figures. CSV: the export of
every visit (admin's view) against a plain query of the same rows written with csv.writer, in
the same run, and Python's peak traced memory for a tenth of the rows against all of them.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from PIL import Image

# Run as a script (python bench/console.py): the scores benchmark's generator is a sibling.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.scores_data import BIN, REPO, generate
from fieldobs import create_app
from fieldobs.db import get_db
from fieldobs.exports.csv_export import VISIT_SELECT, ExportFilters, export_visits
from fieldobs.extensions import state_of
from fieldobs.people.scope import Principal, Role
from fieldobs.scores.cache import ScoreCaches
from fieldobs.timeutil import to_rfc3339, utcnow
from fieldobs.web.cache import page_caches

PASSWORD = "bench-password"
AT = "2026-10"
YEAR_BACK = "2025-11"


def run(*args: str, env: dict[str, str]) -> str:
    """Run a fieldobs CLI command and return its output."""
    done = subprocess.run(
        [str(BIN / "fieldobs"), *args], env=env, cwd=REPO, check=True, capture_output=True,
        text=True,
    )  # fmt: skip
    return done.stdout.strip()


def times_ms(
    call: Callable[[], Any], repeat: int, before: Callable[[], None] | None = None
) -> list[float]:
    """Return the milliseconds of `repeat` calls after one warm-up."""
    call()
    times = []
    for _ in range(repeat):
        if before is not None:
            before()
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return times


def median_ms(
    call: Callable[[], Any], repeat: int, before: Callable[[], None] | None = None
) -> float:
    """Return the median milliseconds of `repeat` calls after one warm-up."""
    return statistics.median(times_ms(call, repeat, before))


def forget(app: Flask) -> None:
    """Empty the app's API response caches and its console's, so every answer is computed."""
    state_of(app).get(ScoreCaches).clear()
    page_caches(app).areas.clear()


def get(client: Any, path: str, headers: dict[str, str] | None = None) -> Callable[[], Any]:
    """Return a call that GETs a path and checks it answered 200 (reading the whole body)."""

    def call() -> Any:
        response = client.get(path, headers=headers or {})
        assert response.status_code == 200, (path, response.status_code, response.data[:300])
        return response.data

    return call


def chain(*calls: Callable[[], Any]) -> Callable[[], None]:
    """Return one call making several in turn."""

    def call() -> None:
        for each in calls:
            each()

    return call


def jpeg(seed: int) -> bytes:
    """Return a 1600x1200 JPEG with some texture."""
    image = Image.effect_noise((1600, 1200), 40 + seed).convert("RGB")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def visit_with_photos(client: Any, token: str, location: int, count: int) -> str:
    """Push a mystery shop with `count` photos through the API and release it."""
    import hashlib

    auth = {"Authorization": f"Bearer {token}"}
    definition = client.get("/api/v1/checklists/mystery-shop", headers=auth).get_json()
    pictures = [jpeg(k) for k in range(count)]
    manifest = [
        {"id": str(uuid.uuid4()), "sha256": hashlib.sha256(p).hexdigest(), "size": len(p),
         "content_type": "image/jpeg", "item": "notes.queue_photo"}
        for p in pictures
    ]  # fmt: skip
    answers: list[dict[str, Any]] = []
    for section in definition["sections"]:
        for item in section["items"]:
            kind = item["type"]
            value: Any = {"yes_no": True, "text": "Fine.", "number": 2}.get(kind)
            if kind == "scale":
                value = item["max"]
            elif kind == "choice":
                value = item["options"][0]["id"]
            elif kind == "duration":
                value = item.get("target", 10)
            if kind == "photo":
                answers.append({"item": item["id"], "photos": [m["id"] for m in manifest]})
            else:
                answers.append({"item": item["id"], "value": value})
    finished = utcnow() - timedelta(hours=2)
    visit = {
        "id": str(uuid.uuid4()), "revision": 1,
        "checklist": {"slug": "mystery-shop", "version": definition["version"]},
        "location_id": location, "started_at": to_rfc3339(finished - timedelta(minutes=20)),
        "finished_at": to_rfc3339(finished), "answers": answers, "photos": manifest,
    }  # fmt: skip
    response = client.put(f"/api/v1/visits/{visit['id']}", json=visit, headers=auth)
    assert response.status_code == 201, response.get_json()
    for data, entry in zip(pictures, manifest, strict=True):
        put = client.put(
            f"/api/v1/visits/{visit['id']}/photos/{entry['id']}", data=data,
            headers={**auth, "Content-Type": "image/jpeg"},
        )  # fmt: skip
        assert put.status_code == 201, put.get_json()
    return str(visit["id"])


def plain_csv(path: Path) -> Iterable[str]:
    """Yield the visits as CSV with nothing but sqlite3 and csv.writer (the baseline)."""
    conn = sqlite3.connect(path)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    # The export's own query (same joins, same photo count, same order), rows written raw.
    cursor = conn.execute(f"{VISIT_SELECT} ORDER BY visits.observed_at, visits.id")
    while batch := cursor.fetchmany(2000):
        writer.writerows(batch)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    conn.close()


def drain(chunks: Iterable[str]) -> tuple[int, int]:
    """Consume CSV chunks; return characters and lines."""
    size = lines = 0
    for chunk in chunks:
        size += len(chunk)
        lines += chunk.count("\n")
    return size, lines


def peak_kib(make: Callable[[], Iterable[str]]) -> float:
    """Return the peak traced Python memory (KiB) while draining an export."""
    tracemalloc.start()
    drain(make())
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1024


def existing_org(path: Path) -> dict[str, Any]:
    """Read the areas, stores and visit count of a generated database."""
    conn = sqlite3.connect(path)
    try:
        areas = [row[0] for row in conn.execute("SELECT id FROM areas ORDER BY id")]
        locations = conn.execute("SELECT id, name, area_id FROM locations ORDER BY id").fetchall()
        visits = conn.execute("SELECT count(*) FROM visits").fetchone()[0]
    finally:
        conn.close()
    return {"areas": areas, "locations": locations, "visits": visits}


def main() -> None:
    """Generate, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--locations", type=int, default=2000)
    parser.add_argument("--areas", type=int, default=40)
    parser.add_argument("--visits", type=int, default=200_000)
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--shoppers", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--keep", action="store_true", help="Keep the data directory.")
    parser.add_argument("--data", type=Path, help="Reuse a directory kept by --keep.")
    args = parser.parse_args()

    data_dir = args.data or Path(tempfile.mkdtemp(prefix="fieldobs-console-bench-"))
    env = {
        **os.environ,
        "FIELDOBS_DATA_DIR": str(data_dir),
        "FIELDOBS_SQLITE_SYNCHRONOUS": "NORMAL",
    }
    try:
        if args.data is None:
            run("init-db", env=env)
            started = time.perf_counter()
            generate(data_dir / "fieldobs.db", args)
            run("scores", "rebuild", env=env)
            print(f"made the data in {time.perf_counter() - started:.0f} s")
            run("users", "create", "bench-admin", "--role", "admin", "--password", PASSWORD,
                env=env)  # fmt: skip
            run("users", "create", "bench-shopper", "--role", "shopper", "--password", PASSWORD,
                env=env)  # fmt: skip
        else:
            run("init-db", env=env)  # migrations that came after the data was made
        org = existing_org(data_dir / "fieldobs.db")
        print(f"data: {org['visits']:,} visits, {len(org['locations']):,} stores,"
              f" {len(org['areas'])} areas")  # fmt: skip
        app = create_app(
            {"DATA_DIR": str(data_dir), "AUTO_INIT": False, "SQLITE_SYNCHRONOUS": "NORMAL"}
        )
        api = app.test_client()
        token = api.post(
            "/api/v1/auth/token", json={"username": "bench-admin", "password": PASSWORD}
        ).get_json()["token"]
        shopper = api.post(
            "/api/v1/auth/token", json={"username": "bench-shopper", "password": PASSWORD}
        ).get_json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        console = app.test_client()
        page = console.get("/").get_data(as_text=True)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert csrf is not None
        signed = console.post(
            "/", data={"username": "bench-admin", "password": PASSWORD,
                       "csrf_token": csrf.group(1)},
        )  # fmt: skip
        assert signed.status_code == 303

        area = org["areas"][0]
        area_stores = [row[0] for row in org["locations"] if row[2] == area]
        location = area_stores[0]
        found = api.get(
            f"/api/v1/visits?location_id={location}&status=released&limit=1", headers=auth
        ).get_json()["visits"][0]
        visit, checklist = found["id"], found["checklist"]
        checklist_path = f"/api/v1/checklists/{checklist['slug']}/versions/{checklist['version']}"
        q = f"grain=month&period={AT}&kind=mystery_shop"
        cases = [
            (
                f"area page (1 area, {len(org['locations']) // len(org['areas'])} stores)",
                get(console, f"/areas/{area}?{q}"),
                chain(
                    get(api, f"/api/v1/areas/{area}/ranking?at={AT}", auth),
                    get(api, f"/api/v1/areas/{area}/priorities?to={AT}&months=3", auth),
                ),
                "ranking + priorities",
            ),
            (
                "area page, same figures in full",
                get(console, f"/areas/{area}?{q}"),
                chain(
                    get(api, f"/api/v1/areas/{area}/ranking?at={AT}", auth),
                    get(api, f"/api/v1/areas/{area}/priorities?to={AT}&months=3", auth),
                    *(
                        get(api, f"/api/v1/locations/{store}/scores?from={YEAR_BACK}&to={AT}", auth)
                        for store in area_stores
                    ),
                ),
                "+ each store's 12-month series (sparkline, sections)",
            ),
            (
                f"all areas page ({len(org['locations']):,} stores)",
                get(console, f"/areas?{q}"),
                get(api, f"/api/v1/ranking?at={AT}", auth),
                "ranking (all areas)",
            ),
            (
                "store page",
                get(console, f"/stores/{location}?{q}"),
                chain(
                    get(api, f"/api/v1/locations/{location}/scores?from=2025-11&to={AT}", auth),
                    get(api, f"/api/v1/locations/{location}/gap?to={AT}", auth),
                    get(api, f"/api/v1/locations/{location}/priorities?to={AT}", auth),
                    get(api, f"/api/v1/visits?location_id={location}&limit=20", auth),
                ),
                "scores + gap + priorities + visits",
            ),
            (
                "visit report page",
                get(console, f"/visits/{visit}"),
                chain(
                    get(api, f"/api/v1/visits/{visit}", auth),
                    get(api, f"/api/v1/visits/{visit}/reviews", auth),
                    get(api, f"/api/v1/locations/{location}", auth),
                    get(api, checklist_path, auth),
                ),
                "visit + reviews + its store + its checklist (prompts)",
            ),
        ]
        print(f"\npages, server time in-process, median of {args.repeat} (ms)")
        print("computed: caches emptied before each request; cached: the API's and the page's")
        print("caches warm. median (min) ms; ratios of medians (of minimums): on a shared")
        print("machine the minimum is the time least disturbed by other work.")
        header = f"{'page':36} {'console':>14} {'API':>14} {'ratio':>12}"
        print(f"{header}  {'cached: console':>16} {'API':>6} {'ratio':>6}  API calls")
        for name, page_call, api_call, what in cases:
            page_t = times_ms(page_call, args.repeat, lambda: forget(app))
            api_t = times_ms(api_call, args.repeat, lambda: forget(app))
            page_cached = median_ms(page_call, args.repeat)
            api_cached = median_ms(api_call, args.repeat)
            pm, am = statistics.median(page_t), statistics.median(api_t)
            computed = (
                f"{pm:6.1f} ({min(page_t):5.1f}) {am:6.1f} ({min(api_t):5.1f})"
                f" {pm / am:5.2f} ({min(page_t) / min(api_t):4.2f})"
            )
            cached = f"{page_cached:16.1f} {api_cached:6.1f} {page_cached / api_cached:6.2f}"
            print(f"{name:36} {computed}  {cached}  {what}")

        everyone = Principal(0, "bench", Role.ADMIN, None, None)
        secret = str(app.config["SECRET_KEY"])
        with app.app_context():
            db = get_db()
            rows_total = db.execute("SELECT count(*) FROM visits").fetchone()[0]

            def ours() -> Iterable[str]:
                return export_visits(db, everyone, secret, ExportFilters())

            def tenth() -> Iterable[str]:
                areas = max(1, len(org["areas"]) // 10)
                return (
                    chunk
                    for a in org["areas"][:areas]
                    for chunk in export_visits(db, everyone, secret, ExportFilters(area_id=a))
                )

            timings: dict[str, list[float]] = {"ours": [], "plain": []}
            lines = 0
            for _ in range(3):
                for name, make in (
                    ("ours", ours),
                    ("plain", lambda: plain_csv(data_dir / "fieldobs.db")),
                ):
                    started = time.perf_counter()
                    _, lines_now = drain(make())
                    timings[name].append(time.perf_counter() - started)
                    if name == "ours":
                        lines = lines_now
            ours_s, plain_s = min(timings["ours"]), min(timings["plain"])
            print(f"\nCSV export of all {rows_total:,} visits ({lines - 1:,} rows written),"
                  " best of 3")  # fmt: skip
            print(f"  console export: {ours_s:6.2f} s  {rows_total / ours_s:9,.0f} rows/s")
            rate = rows_total / plain_s
            print(f"  plain sqlite3 + csv.writer: {plain_s:6.2f} s  {rate:9,.0f} rows/s")
            print(f"  rate ratio (export / plain): {plain_s / ours_s:.2f}")
            small, large = peak_kib(tenth), peak_kib(ours)
            print(f"  peak traced memory: a tenth of the areas {small:,.0f} KiB,"
                  f" every visit {large:,.0f} KiB (ratio {large / small:.2f})")  # fmt: skip

        with_photos = visit_with_photos(api, shopper, location, 10)
        assert (
            api.post(
                f"/api/v1/visits/{with_photos}/review", json={"action": "release"}, headers=auth
            ).status_code
            == 200
        )
        pdf = get(console, f"/visits/{with_photos}/report.pdf")
        started = time.perf_counter()
        body = pdf()
        cold = time.perf_counter() - started
        warm = median_ms(pdf, 5)
        print(f"\nvisit report PDF with 10 photos: first {cold:.2f} s (fonts),"
              f" warm {warm / 1000:.2f} s, {len(body) / 1024:,.0f} KiB")  # fmt: skip
    finally:
        if args.keep or args.data:
            print(f"data kept in {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
