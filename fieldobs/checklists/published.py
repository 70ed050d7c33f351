"""Published checklist versions: publish from files, read immutable versions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fieldobs.checklists.format import content_hash, load_checklist_dir
from fieldobs.errors import NotFound
from fieldobs.scoring.plan import ChecklistPlan
from fieldobs.storage.changes import record_change
from fieldobs.storage.connection import Database, database_id, one, rows, transaction
from fieldobs.timeutil import now_rfc3339


class PublishedCache:
    """One app's published versions and their plans, kept once read: versions never change.

    Per app, not per process: a copy of a database (a restore, a test's template) shares its
    identity, yet may publish other content under the same version number.
    """

    def __init__(self) -> None:
        self.definitions: dict[tuple[str, str, int], dict[str, Any]] = {}
        self.plans: dict[tuple[str, str, int], ChecklistPlan] = {}


def _cache(db: Database) -> PublishedCache:
    return db.app_state.get(PublishedCache)


def publish_directory(db: Database, directory: Path) -> list[dict[str, Any]]:
    """Publish every checklist file whose content changed since its latest version."""
    definitions = load_checklist_dir(directory)
    outcomes = []
    with transaction(db):
        for definition in definitions:
            outcomes.append(_publish(db, definition))
    return outcomes


def _publish(db: Database, definition: dict[str, Any]) -> dict[str, Any]:
    slug = definition["slug"]
    digest = content_hash(definition)
    latest = one(
        db.execute(
            "SELECT version, content_hash FROM checklist_versions WHERE slug = ?"
            " ORDER BY version DESC LIMIT 1",
            [slug],
        )
    )
    if latest and latest["content_hash"] == digest:
        return {"slug": slug, "version": latest["version"], "published": False}
    # Reverting to an older content publishes it again as a new version: versions only grow.
    version = (latest["version"] if latest else 0) + 1
    db.execute(
        "INSERT INTO checklist_versions (slug, version, title, kind, content_hash, definition,"
        " source_file, published_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            slug,
            version,
            definition["title"],
            definition["kind"],
            digest,
            json.dumps(definition, sort_keys=True, separators=(",", ":")),
            definition.get("source_file"),
            now_rfc3339(),
        ],
    )
    record_change(db, "checklist", slug)
    return {"slug": slug, "version": version, "published": True}


def _with_version(row: dict[str, Any]) -> dict[str, Any]:
    definition: dict[str, Any] = json.loads(row["definition"])
    definition.pop("source_file", None)
    return {
        **definition,
        "version": row["version"],
        "published_at": row["published_at"],
        "etag": f"{row['content_hash'][:32]}-{row['version']}",
    }


def get_version(db: Database, slug: str, version: int) -> dict[str, Any]:
    """Return one published version, or 404."""
    key = (database_id(db), slug, version)
    definitions = _cache(db).definitions
    cached = definitions.get(key)
    if cached is not None:
        return cached
    row = one(
        db.execute(
            "SELECT version, definition, content_hash, published_at FROM checklist_versions"
            " WHERE slug = ? AND version = ?",
            [slug, version],
        )
    )
    if row is None:
        raise NotFound(f"No version {version} of checklist {slug!r}.")
    definition = _with_version(row)
    definitions[key] = definition
    return definition


def get_plan(db: Database, slug: str, version: int) -> ChecklistPlan:
    """Return the scoring plan of one published version, compiled once per app, or 404."""
    key = (database_id(db), slug, version)
    plans = _cache(db).plans
    plan = plans.get(key)
    if plan is None:
        plan = plans[key] = ChecklistPlan(get_version(db, slug, version))
    return plan


def get_latest(db: Database, slug: str) -> dict[str, Any]:
    """Return the latest published version of a checklist, or 404."""
    row = db.execute(
        "SELECT max(version) FROM checklist_versions WHERE slug = ?", [slug]
    ).fetchone()
    if row is None or row[0] is None:
        raise NotFound(f"No checklist {slug!r}.")
    return get_version(db, slug, int(row[0]))


def list_latest(db: Database) -> list[dict[str, Any]]:
    """Return the latest published version of every checklist."""
    latest = rows(
        db.execute(
            "SELECT slug, max(version) AS version FROM checklist_versions GROUP BY slug"
            " ORDER BY slug"
        )
    )
    return [get_version(db, r["slug"], r["version"]) for r in latest]
