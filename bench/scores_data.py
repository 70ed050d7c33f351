"""The scores benchmarks' data: areas, locations and seeded visits written straight to SQLite."""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fieldobs.scoring.engine import score_visit

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PASSWORD = "bench-password"
NOW = datetime(2026, 11, 23, tzinfo=UTC)
ZONES = {  # no daylight saving time in 2023-2026: a fixed offset in minutes
    "UTC": 0,
    "Africa/Lagos": 60,
    "Asia/Dubai": 240,
    "Asia/Kolkata": 330,
    "Asia/Singapore": 480,
    "Asia/Tokyo": 540,
    "Australia/Brisbane": 600,
    "America/Phoenix": -420,
}
COUNTED = "kind = 'mystery_shop' AND status = 'released' AND score IS NOT NULL"


def answer(item: dict[str, Any], quality: float, rng: random.Random) -> dict[str, Any] | None:
    """Answer one item the way an observer seeing service of this quality might."""
    kind, own = item["type"], min(1.0, max(0.0, quality + rng.gauss(0, 0.2)))
    if item.get("allow_na") and rng.random() < 0.1:
        return {"item": item["id"], "na": True}
    if kind == "photo":
        return None
    if kind == "yes_no":
        value: Any = rng.random() < own
    elif kind == "scale":
        value = item["min"] + round(own * (item["max"] - item["min"]))
    elif kind == "choice":
        scored = [o for o in item["options"] if o.get("score") is not None]
        value = min(scored, key=lambda o: abs(o["score"] - own))["id"]
    elif kind in ("duration", "number"):
        target, limit = item.get("target"), item.get("limit")
        value = (
            rng.randint(0, 8) if target is None else max(0.0, target + (1 - own) * (limit - target))
        )
    else:
        value = "Observed and written up."
    return {"item": item["id"], "value": value}


def score_pool(
    definition: dict[str, Any], rng: random.Random, levels: int = 36, variants: int = 12
) -> list[list[tuple[str, float | None, str, str]]]:
    """Return scored answer sets by quality level: (answers JSON, score, sections, breakdown)."""
    pool = []
    for level in range(levels):
        quality = 0.3 + 0.7 * level / (levels - 1)
        entries = []
        for _ in range(variants):
            answers = [
                a
                for section in definition["sections"]
                for item in section["items"]
                if (a := answer(item, quality, rng)) is not None
            ]
            result = score_visit(definition, answers, explain=False)
            entries.append(
                (
                    json.dumps(answers, sort_keys=True, separators=(",", ":")),
                    result.score,
                    json.dumps([{"id": s.id, "score": s.score} for s in result.sections]),
                    json.dumps(result.to_dict()),
                )
            )
        pool.append(entries)
    return pool


def stamp(moment: datetime) -> str:
    """Format like fieldobs.timeutil.to_rfc3339 (a UTC moment)."""
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def generate(path: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Write areas, locations, observers and visits straight into SQLite, in one transaction."""
    rng = random.Random(7)
    conn = sqlite3.connect(path, isolation_level=None)
    # Throw-away data written once: no journal, no fsync (WAL again before the server starts).
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -1000000")
    checklists = {}
    for slug in ("mystery-shop", "back-to-the-floor"):
        version, text = conn.execute(
            "SELECT version, definition FROM checklist_versions WHERE slug = ?"
            " ORDER BY version DESC LIMIT 1",
            [slug],
        ).fetchone()
        definition = json.loads(text)
        checklists[slug] = (version, definition["kind"], score_pool(definition, rng))
    created = stamp(NOW)
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO areas (id, name, created_at) VALUES (?, ?, ?)",
        [(a, f"Area {a:02d}", created) for a in range(1, args.areas + 1)],
    )
    zones = list(ZONES)
    locations = []
    for index in range(1, args.locations + 1):
        area = (index - 1) % args.areas + 1
        locations.append((index, f"Store {index:04d}", area, zones[index % len(zones)]))
    conn.executemany(
        "INSERT INTO locations (id, name, area_id, timezone, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [(*row, created, created) for row in locations],
    )
    conn.execute("CREATE TABLE bench_offsets (location_id INTEGER PRIMARY KEY, modifier TEXT)")
    conn.executemany(
        "INSERT INTO bench_offsets VALUES (?, ?)",
        [(lid, f"{ZONES[zone]:+d} minutes") for lid, _, _, zone in locations],
    )
    first_user = int(conn.execute("SELECT coalesce(max(id), 0) + 1 FROM users").fetchone()[0])
    shoppers = list(range(first_user, first_user + args.shoppers))
    managers = list(range(shoppers[-1] + 1, shoppers[-1] + 1 + args.locations // 4))
    conn.executemany(
        "INSERT INTO users (id, username, display_name, role, password_hash, created_at)"
        " VALUES (?, ?, ?, ?, 'x', ?)",
        [(u, f"shopper{u}", f"Shopper {u}", "shopper", created) for u in shoppers]
        + [(u, f"manager{u}", f"Manager {u}", "manager", created) for u in managers],
    )
    area_level = {a: rng.gauss(0.74, 0.04) for a in range(1, args.areas + 1)}
    level = {lid: area_level[area] + rng.gauss(0, 0.06) for lid, _, area, _ in locations}
    drift = {lid: rng.choice([0.0, 0.0, 0.0, 0.004, -0.004, 0.01, -0.01]) for lid in level}
    busy = [rng.lognormvariate(0, 0.5) for _ in locations]
    chosen = rng.choices([row[0] for row in locations], weights=busy, k=args.visits)
    span = args.years * 365 * 86400
    start = NOW - timedelta(seconds=span)
    rows = []
    for location in chosen:
        moment = start + timedelta(seconds=rng.randrange(span))
        walk = rng.random() < 0.1
        slug = "back-to-the-floor" if walk else "mystery-shop"
        version, kind, pool = checklists[slug]
        months = (moment - start).days / 30.4
        quality = level[location] + drift[location] * months + rng.gauss(0, 0.08)
        bucket = min(len(pool) - 1, max(0, round((quality - 0.3) / 0.7 * (len(pool) - 1))))
        answers, score, sections, breakdown = rng.choice(pool[bucket])
        roll = rng.random()
        if walk:
            status = "submitted" if roll < 0.97 else "returned"
            observer = managers[(location - 1) // 4]
        else:
            status = "released" if roll < 0.94 else "submitted" if roll < 0.97 else "returned"
            observer = rng.choice(shoppers)
        visit_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        finished = stamp(moment)
        began = stamp(moment - timedelta(minutes=20))
        body = (
            f'{{"answers":{answers},"checklist":{{"slug":"{slug}","version":{version}}},'
            f'"finished_at":"{finished}","id":"{visit_id}","location_id":{location},'
            f'"photos":[],"revision":1,"started_at":"{began}"}}'
        )
        received = stamp(moment + timedelta(minutes=5))
        rows.append(
            (
                visit_id,
                1,
                visit_id.replace("-", ""),
                observer,
                location,
                slug,
                version,
                kind,
                status,
                began,
                finished,
                finished,
                received,
                received,
                0.0,
                body,
                score,
                sections,
                breakdown,
                received,
                received if status == "released" else None,
            )
        )
    conn.executemany(
        "INSERT INTO visits (id, revision, fingerprint, observer_id, location_id, checklist_slug,"
        " checklist_version, kind, status, started_at, finished_at, observed_at, received_at,"
        " updated_at, clock_skew_seconds, body, score, section_scores, breakdown, submitted_at,"
        " released_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    conn.execute("COMMIT")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()
    return {"areas": list(range(1, args.areas + 1)), "locations": locations}
