"""Visit push, second half: store a prepared visit exactly once, or a correction of it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fieldobs import events
from fieldobs.errors import Conflict, FieldobsError, Invalid
from fieldobs.people.scope import Principal
from fieldobs.storage.app_state import AppState
from fieldobs.storage.connection import Database, one, transaction
from fieldobs.timeutil import to_rfc3339, utcnow
from fieldobs.visits.prepare import (
    PreparedVisit,
    live_locations,
    prepare_visit,
    validate_and_score,
)
from fieldobs.visits.states import refresh_status, summary

Flagger = Callable[[Database, Principal, dict[str, Any]], list[str]]


class Flaggers:
    """One app's checks that flag (never reject) a pushed visit."""

    def __init__(self) -> None:
        self.checks: list[Flagger] = []


def add_flagger(state: AppState, flagger: Flagger) -> None:
    """Register a check that flags (never rejects) a pushed visit, e.g. outside its window."""
    checks = state.get(Flaggers).checks
    if flagger not in checks:
        checks.append(flagger)


@dataclass(frozen=True)
class PushPolicy:
    """How far a device clock may be off before its times are flagged and not trusted."""

    future_tolerance: timedelta = timedelta(minutes=10)
    past_tolerance: timedelta = timedelta(days=60)
    long_visit: timedelta = timedelta(hours=12)


@dataclass
class PushResult:
    """The outcome of one pushed visit: the status PUT gives, and the visit or the error."""

    id: str | None
    status: int
    visit: dict[str, Any] = field(default_factory=dict)
    error: FieldobsError | None = None


def push_one(
    db: Database,
    principal: Principal,
    data: dict[str, Any],
    *,
    policy: PushPolicy,
    url_id: str | None = None,
) -> PushResult:
    """Validate and score a schema-loaded visit, then store it in a transaction of its own."""
    # Validation and scoring come first, outside the write lock (see prepare_visit).
    prepared = prepare_visit(db, principal, data, url_id=url_id)
    return commit_visit(db, principal, prepared, policy=policy)


def commit_visit(
    db: Database, principal: Principal, prepared: PreparedVisit, *, policy: PushPolicy
) -> PushResult:
    """Store a prepared visit in a write transaction (a savepoint inside one); never twice."""
    with transaction(db):
        return _commit(db, principal, prepared, policy)


def _commit(
    db: Database, principal: Principal, prepared: PreparedVisit, policy: PushPolicy
) -> PushResult:
    data = prepared.data
    stored = one(db.execute("SELECT * FROM visits WHERE id = ?", [data["id"]]))
    if stored is None:
        if data["revision"] != 1:
            raise Invalid(
                "A new visit starts at revision 1.",
                fields={"revision": ["must be 1 for a new visit"]},
            )
        return PushResult(data["id"], 201, _store(db, principal, prepared, None, policy))
    return _push_existing(db, principal, prepared, stored, policy)


def _push_existing(
    db: Database,
    principal: Principal,
    prepared: PreparedVisit,
    stored: dict[str, Any],
    policy: PushPolicy,
) -> PushResult:
    data = prepared.data
    if stored["observer_id"] != principal.user_id:
        raise Conflict("A visit with this id exists.", code="visit_exists")
    if data["revision"] <= stored["revision"]:
        # Revisions run 1, 2, ... and the row lists the fingerprint of each.
        fingerprints = json.loads(stored["revision_fingerprints"])
        index = data["revision"] - 1
        if index < len(fingerprints) and fingerprints[index] == prepared.fingerprint:
            # A late retry of something already stored: acknowledge, write nothing.
            return PushResult(data["id"], 200, summary(stored))
        raise Conflict(
            f"Revision {data['revision']} of this visit was stored with other content.",
            code="revision_conflict",
            fields={"revision": [f"the server holds revision {stored['revision']}"]},
        )
    if data["revision"] == stored["revision"] + 1 and stored["status"] == "returned":
        return PushResult(data["id"], 200, _store(db, principal, prepared, stored, policy))
    reason = (
        "only a visit returned for correction takes a new revision"
        if data["revision"] == stored["revision"] + 1
        else f"the next revision would be {stored['revision'] + 1}"
    )
    raise Conflict(
        f"Revision {data['revision']} cannot be accepted: {reason}.",
        code="revision_conflict",
        fields={"revision": [reason]},
    )


def _clock(
    device_times: tuple[datetime, datetime, str],
    received: tuple[datetime, str],
    policy: PushPolicy,
) -> tuple[str, float, list[str]]:
    """Return when the visit was observed (UTC text), the device clock's skew and its flags."""
    started, finished, finished_text = device_times
    skew = (finished - received[0]).total_seconds()
    flags = []
    if skew > policy.future_tolerance.total_seconds():
        flags.append("device_clock_ahead")
    elif -skew > policy.past_tolerance.total_seconds():
        flags.append("device_clock_behind")
    if finished - started > policy.long_visit:
        flags.append("long_visit")
    # A clock that is wildly off is kept as data but never used to place the visit in time.
    observed = received[1] if flags and flags[0].startswith("device_clock") else finished_text
    return observed, skew, flags


def _store(
    db: Database,
    principal: Principal,
    prepared: PreparedVisit,
    before: dict[str, Any] | None,
    policy: PushPolicy,
) -> dict[str, Any]:
    received = utcnow()
    row = new_row(db, principal, prepared, before, policy, (received, to_rfc3339(received)))
    columns = ", ".join(row)
    marks = ", ".join("?" * len(row))
    updates = ", ".join(f"{name} = excluded.{name}" for name in row if name != "id")
    db.execute(
        f"INSERT INTO visits ({columns}) VALUES ({marks}) ON CONFLICT (id) DO UPDATE SET {updates}",
        list(row.values()),
    )
    if before is not None:
        db.execute("DELETE FROM visit_photos WHERE visit_id = ?", [row["id"]])
    insert_children(db, [(prepared, row)])
    return announce(db, row, before, prepared)


def new_row(
    db: Database,
    principal: Principal,
    prepared: PreparedVisit,
    before: dict[str, Any] | None,
    policy: PushPolicy,
    received: tuple[datetime, str],
) -> dict[str, Any]:
    """Build the visits row of a valid prepared visit (scoring it first if still needed)."""
    if prepared.checklist is None and not prepared.problems:
        validate_and_score(
            db, principal, prepared, live_locations(db, [prepared.data["location_id"]])
        )
    if prepared.problems:
        raise Invalid("The visit is invalid.", fields=prepared.problems)
    assert prepared.checklist is not None
    assert prepared.score is not None
    data, checklist = prepared.data, prepared.checklist
    assert prepared.device_times is not None
    now = received[1]
    observed_at, skew, flags = _clock(prepared.device_times, received, policy)
    for flagger in db.app_state.get(Flaggers).checks:
        flags.extend(flagger(db, principal, data))
    return {
        "id": data["id"],
        "revision": data["revision"],
        "fingerprint": prepared.fingerprint,
        "observer_id": principal.user_id,
        "location_id": data["location_id"],
        "assignment_id": data.get("assignment_id"),
        "checklist_slug": checklist["slug"],
        "checklist_version": checklist["version"],
        "kind": checklist["kind"],
        "status": "awaiting_photos" if data["photos"] else "submitted",
        "started_at": data["started_at"],
        "finished_at": data["finished_at"],
        "observed_at": observed_at,
        "received_at": before["received_at"] if before else now,
        "updated_at": now,
        "clock_skew_seconds": skew,
        "flags": json.dumps(flags),
        "body": prepared.body,
        "revision_fingerprints": json.dumps(
            [*json.loads(before["revision_fingerprints"]), prepared.fingerprint]
            if before
            else [prepared.fingerprint]
        ),
        "score": prepared.score.score,
        "section_scores": prepared.section_scores_json,
        "breakdown": prepared.breakdown_json,
        "submitted_at": None if data["photos"] else now,
        "released_at": None,
    }


def insert_children(db: Database, stored: list[tuple[PreparedVisit, dict[str, Any]]]) -> None:
    """Record the revisions and photo manifests of just-stored visits."""
    db.conn.executemany(
        "INSERT INTO visit_revisions (visit_id, revision, fingerprint, body, received_at)"
        " VALUES (?, ?, ?, ?, ?)",
        [(r["id"], r["revision"], r["fingerprint"], r["body"], r["updated_at"]) for _, r in stored],
    )
    db.conn.executemany(
        "INSERT INTO visit_photos (visit_id, photo_id, sha256, size, content_type, item)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [
            (row["id"], p["id"], p["sha256"], p["size"], p["content_type"], p.get("item"))
            for prepared, row in stored
            for p in prepared.data["photos"]
        ],
    )


def announce(
    db: Database, row: dict[str, Any], before: dict[str, Any] | None, prepared: PreparedVisit
) -> dict[str, Any]:
    """Emit the events of a just-stored visit and return its acknowledgement."""
    events.emit(db, events.VISIT_CHANGED, {"before": before, "after": dict(row)})
    if row["status"] == "submitted":
        events.emit(db, events.VISIT_SUBMITTED, {"visit": dict(row)})
    elif refresh_status(db, row["id"]):
        # Photos may have arrived before their visit: the manifest was complete already.
        row.update(status="submitted")
    assert prepared.score is not None  # only scored visits are stored
    # The sections come from the score at hand, not from parsing the JSON just written.
    return summary(row, [(s.id, s.score) for s in prepared.score.sections])
