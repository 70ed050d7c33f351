"""Visits: exactly-once push from offline phones, corrections, scoped reading."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from marshmallow import ValidationError

from fieldobs import events
from fieldobs.checklists.published import get_plan, get_version
from fieldobs.errors import BadRequest, Conflict, FieldobsError, Invalid, NotFound, flatten_messages
from fieldobs.people.anonymity import present_for
from fieldobs.people.scope import Principal, Role
from fieldobs.scoring.answers import validate_answers
from fieldobs.scoring.engine import VisitScore, score_visit
from fieldobs.storage.connection import Database, one, rows
from fieldobs.timeutil import parse_rfc3339, to_rfc3339, utcnow
from fieldobs.visits.schema import VisitSchema, load_plain_visit

VISIT_SCHEMA = VisitSchema()

# Which checklist kinds each role may submit.
KINDS_BY_ROLE = {
    Role.SHOPPER: {"mystery_shop"},
    Role.MANAGER: {"walkthrough"},
    Role.AREA_LEAD: {"walkthrough"},
    Role.ADMIN: {"mystery_shop", "walkthrough"},
}

Flagger = Callable[[Database, Principal, dict[str, Any]], list[str]]
_flaggers: list[Flagger] = []


def add_flagger(flagger: Flagger) -> None:
    """Register a check that flags (never rejects) a pushed visit, e.g. outside its window."""
    if flagger not in _flaggers:
        _flaggers.append(flagger)


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


# Built once: json.dumps with options builds a new encoder on every call.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(data: Any) -> str:
    """Serialise with sorted keys and no whitespace: equal content, equal text."""
    return _CANONICAL.encode(data)


def load_visit(raw: Any) -> dict[str, Any]:
    """Validate a visit's shape; raise 422 naming each bad field."""
    plain = load_plain_visit(raw)
    if plain is not None:
        return plain
    try:
        data: dict[str, Any] = VISIT_SCHEMA.load(raw)
    except ValidationError as error:
        raise Invalid("The visit is invalid.", fields=flatten_messages(error.messages)) from error
    return data


@dataclass
class PreparedVisit:
    """A schema-valid visit with the work done that needs no write lock."""

    data: dict[str, Any]
    body: str
    fingerprint: str
    checklist: dict[str, Any] | None = None
    problems: dict[str, list[str]] = field(default_factory=dict)
    score: VisitScore | None = None
    section_scores_json: str = "[]"
    breakdown_json: str = "{}"
    device_times: tuple[datetime, datetime, str] | None = None  # started, finished, finished UTC


def prepare_visit(
    db: Database, principal: Principal, data: dict[str, Any], *, url_id: str | None = None
) -> PreparedVisit:
    """Fingerprint, validate against its checklist and score a visit, outside any transaction.

    Validation and scoring are pure CPU: done here, several workers do them in parallel
    and the write lock is held only for the short store that follows.
    """
    if url_id is not None and url_id.lower() != data["id"]:
        raise Invalid("The visit id differs from the URL.", fields={"id": ["must match the URL"]})
    [prepared] = _validate_unless_known(db, principal, [_fingerprinted(data)])
    return prepared


def prepare_visits(
    db: Database, principal: Principal, raws: list[Any]
) -> list[PreparedVisit | FieldobsError]:
    """Load, fingerprint, validate and score a batch of pushed visits, outside any transaction."""
    loaded: list[PreparedVisit | FieldobsError] = []
    for raw in raws:
        try:
            loaded.append(_fingerprinted(load_visit(raw)))
        except FieldobsError as error:
            loaded.append(error)
    _validate_unless_known(db, principal, [p for p in loaded if isinstance(p, PreparedVisit)])
    return loaded


def _validate_unless_known(
    db: Database, principal: Principal, batch: list[PreparedVisit]
) -> list[PreparedVisit]:
    """Validate and score the visits whose revision is not stored with the same fingerprint."""
    ids = json.dumps([prepared.data["id"] for prepared in batch])
    known = {
        (visit_id, revision): fingerprint
        for visit_id, revision, fingerprint in db.execute(
            "SELECT id, revision, fingerprint FROM visits"
            " WHERE id IN (SELECT value FROM json_each(?))",
            [ids],
        )
    }
    live = _live_locations(db, [prepared.data["location_id"] for prepared in batch])
    for prepared in batch:
        key = (prepared.data["id"], prepared.data["revision"])
        # A likely replay skips that work; commit_visit re-checks under the lock if needed.
        if known.get(key) != prepared.fingerprint:
            _validate_and_score(db, principal, prepared, live)
    return batch


def _fingerprinted(data: dict[str, Any]) -> PreparedVisit:
    body = canonical_json(data)
    return PreparedVisit(data, body, hashlib.sha256(body.encode()).hexdigest())


def _live_locations(db: Database, location_ids: list[int]) -> set[int]:
    """Return which of these location ids name a location that is not deleted."""
    return {
        row[0]
        for row in db.execute(
            "SELECT id FROM locations WHERE id IN (SELECT value FROM json_each(?))"
            " AND deleted_at IS NULL",
            [json.dumps(sorted(set(location_ids)))],
        )
    }


def _validate_and_score(
    db: Database, principal: Principal, prepared: PreparedVisit, live_locations: set[int]
) -> None:
    data = prepared.data
    checklist, problems = _check_references(db, principal, data, live_locations)
    prepared.checklist, prepared.problems = checklist, problems
    if not checklist:
        return
    answers, photo_ids = data["answers"], {photo["id"] for photo in data["photos"]}
    plan = get_plan(db, checklist["slug"], checklist["version"])
    # The plan scores plainly valid answers in one pass; the general code judges the rest.
    score = None if problems else plan.score(answers, photo_ids)
    if score is None:
        problems.update(validate_answers(checklist, answers, photo_ids))
        if problems:
            return
        score = score_visit(checklist, answers, explain=False)
    prepared.score = score
    prepared.section_scores_json = plan.section_scores_json(score)
    prepared.breakdown_json = plan.breakdown_json(score)
    finished = parse_rfc3339(data["finished_at"])
    prepared.device_times = (parse_rfc3339(data["started_at"]), finished, to_rfc3339(finished))


def push_visit(
    db: Database,
    principal: Principal,
    raw: Any,
    *,
    policy: PushPolicy,
    url_id: str | None = None,
) -> PushResult:
    """Validate and store one pushed visit inside the caller's transaction."""
    prepared = prepare_visit(db, principal, load_visit(raw), url_id=url_id)
    return commit_visit(db, principal, prepared, policy=policy)


def commit_visit(
    db: Database, principal: Principal, prepared: PreparedVisit, *, policy: PushPolicy
) -> PushResult:
    """Store a prepared visit inside the caller's write transaction; never store it twice."""
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


def _check_references(
    db: Database, principal: Principal, data: dict[str, Any], live_locations: set[int]
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Check the visit's checklist and location; return the checklist ({} if none) and problems."""
    problems: dict[str, list[str]] = {}
    ref = data["checklist"]
    try:
        checklist = get_version(db, ref["slug"], ref["version"])
    except NotFound:
        return {}, {"checklist": [f"no published version {ref['version']} of {ref['slug']!r}"]}
    if checklist["kind"] not in KINDS_BY_ROLE[principal.role]:
        problems["checklist"] = [
            f"a {principal.role} does not submit {checklist['kind']} checklists"
        ]
    location_id = data["location_id"]
    if location_id not in live_locations or not principal.sees_location(location_id):
        problems["location_id"] = ["no such location in your scope"]
    return checklist, problems


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
    row = _new_row(db, principal, prepared, before, policy, (received, to_rfc3339(received)))
    columns = ", ".join(row)
    marks = ", ".join("?" * len(row))
    updates = ", ".join(f"{name} = excluded.{name}" for name in row if name != "id")
    db.execute(
        f"INSERT INTO visits ({columns}) VALUES ({marks}) ON CONFLICT (id) DO UPDATE SET {updates}",
        list(row.values()),
    )
    if before is not None:
        db.execute("DELETE FROM visit_photos WHERE visit_id = ?", [row["id"]])
    _insert_children(db, [(prepared, row)])
    return _announce(db, row, before, prepared)


def _new_row(
    db: Database,
    principal: Principal,
    prepared: PreparedVisit,
    before: dict[str, Any] | None,
    policy: PushPolicy,
    received: tuple[datetime, str],
) -> dict[str, Any]:
    """Build the visits row of a valid prepared visit (scoring it first if still needed)."""
    if prepared.checklist is None and not prepared.problems:
        _validate_and_score(
            db, principal, prepared, _live_locations(db, [prepared.data["location_id"]])
        )
    if prepared.problems:
        raise Invalid("The visit is invalid.", fields=prepared.problems)
    assert prepared.checklist is not None
    assert prepared.score is not None
    data, checklist = prepared.data, prepared.checklist
    assert prepared.device_times is not None
    now = received[1]
    observed_at, skew, flags = _clock(prepared.device_times, received, policy)
    for flagger in _flaggers:
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


def _insert_children(db: Database, stored: list[tuple[PreparedVisit, dict[str, Any]]]) -> None:
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


def _announce(
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


def commit_visits(
    db: Database, principal: Principal, batch: list[PreparedVisit], *, policy: PushPolicy
) -> list[PushResult]:
    """Store a batch of prepared visits inside the caller's write transaction."""
    # New visits go in with one statement per table. Replays, corrections, conflicts and visits
    # naming an assignment (whose flags depend on the visits before them) go one by one, each in
    # a savepoint, so one bad visit never fails the others.
    ids = json.dumps([prepared.data["id"] for prepared in batch])
    stored = {
        row["id"]
        for row in rows(
            db.execute("SELECT id FROM visits WHERE id IN (SELECT value FROM json_each(?))", [ids])
        )
    }
    results: list[PushResult | None] = [None] * len(batch)
    fresh: list[tuple[int, PreparedVisit]] = []
    for index, prepared in enumerate(batch):
        data = prepared.data
        if (
            data["id"] not in stored
            and data["revision"] == 1
            and prepared.score is not None
            and data.get("assignment_id") is None
        ):
            fresh.append((index, prepared))
        # A later copy of an id in the batch is answered after the first, as if sent after it.
        stored.add(data["id"])
    for index, result in _insert_fresh(db, principal, fresh, policy):
        results[index] = result
    for index, prepared in enumerate(batch):
        if results[index] is None:
            results[index] = _commit_one(db, principal, prepared, policy)
    return [result for result in results if result is not None]


def _insert_fresh(
    db: Database,
    principal: Principal,
    fresh: list[tuple[int, PreparedVisit]],
    policy: PushPolicy,
) -> list[tuple[int, PushResult]]:
    """Insert new valid visits with one statement per table; return their results."""
    if not fresh:
        return []
    # Nothing here can be refused: prepare_visit validated and scored them, and under the write
    # lock no other request can have stored these ids since the SELECT in commit_visits.
    received = utcnow()
    now = (received, to_rfc3339(received))
    built = [(p, _new_row(db, principal, p, None, policy, now)) for _, p in fresh]
    columns = list(built[0][1])
    db.conn.executemany(
        f"INSERT INTO visits ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
        [list(row.values()) for _, row in built],
    )
    _insert_children(db, built)
    return [
        (index, PushResult(prepared.data["id"], 201, _announce(db, row, None, prepared)))
        for (index, _), (prepared, row) in zip(fresh, built, strict=True)
    ]


def _commit_one(
    db: Database, principal: Principal, prepared: PreparedVisit, policy: PushPolicy
) -> PushResult:
    """Store one visit in its own savepoint; a failure becomes its result, leaving no trace."""
    try:
        with db.atomic():
            return commit_visit(db, principal, prepared, policy=policy)
    except FieldobsError as error:
        return PushResult(prepared.data.get("id"), error.status, error=error)


def photo_states(db: Database, visit_id: str, observer_id: int) -> list[dict[str, Any]]:
    """Return the manifest photos of a visit with their state: expected, received or rejected."""
    manifest = rows(
        db.execute(
            "SELECT vp.photo_id AS id, vp.sha256, vp.size, vp.content_type, vp.item,"
            " p.state, p.sha256 AS got_sha256, p.visit_id AS got_visit, p.uploader_id,"
            " p.reason FROM visit_photos vp LEFT JOIN photos p ON p.id = vp.photo_id"
            " WHERE vp.visit_id = ? ORDER BY vp.photo_id",
            [visit_id],
        )
    )
    states = []
    for photo in manifest:
        state, reason = _photo_state(photo, visit_id, observer_id)
        entry = {k: photo[k] for k in ("id", "sha256", "size", "content_type", "item")}
        entry["state"] = state
        if reason:
            entry["reason"] = reason
        states.append(entry)
    return states


def _photo_state(photo: dict[str, Any], visit_id: str, observer_id: int) -> tuple[str, str | None]:
    if photo["state"] is None:
        return "expected", None
    if photo["state"] == "rejected":
        return "rejected", photo["reason"]
    if photo["got_visit"] != visit_id or photo["uploader_id"] != observer_id:
        return "rejected", "the photo was uploaded for another visit or by another user"
    if photo["got_sha256"] != photo["sha256"]:
        return "rejected", "the uploaded bytes differ from the visit's manifest (sha256)"
    return "received", None


def refresh_status(db: Database, visit_id: str) -> bool:
    """Move a visit from awaiting_photos to submitted once every manifest photo is received."""
    visit = one(db.execute("SELECT * FROM visits WHERE id = ?", [visit_id]))
    if visit is None or visit["status"] != "awaiting_photos":
        return False
    states = photo_states(db, visit_id, visit["observer_id"])
    if any(photo["state"] != "received" for photo in states):
        return False
    now = to_rfc3339(utcnow())
    db.execute(
        "UPDATE visits SET status = 'submitted', submitted_at = ?, updated_at = ? WHERE id = ?",
        [now, now, visit_id],
    )
    after = {**visit, "status": "submitted", "submitted_at": now, "updated_at": now}
    events.emit(db, events.VISIT_CHANGED, {"before": visit, "after": after})
    events.emit(db, events.VISIT_SUBMITTED, {"visit": after})
    return True


def summary(
    row: dict[str, Any], sections: list[tuple[str, float | None]] | None = None
) -> dict[str, Any]:
    """Return what a push acknowledges: id, revision, status and scores (sections if known)."""
    return {
        "id": row["id"],
        "revision": row["revision"],
        "status": row["status"],
        "score": _rounded(row["score"]),
        "sections": _sections(row)
        if sections is None
        else [{"id": sid, "score": _rounded(score)} for sid, score in sections],
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _sections(row: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"id": s["id"], "score": _rounded(s["score"])} for s in json.loads(row["section_scores"])
    ]


# Reading -------------------------------------------------------------------------------


def visibility_clause(principal: Principal) -> tuple[str, list[object]]:
    """Return the SQL condition on `visits` that keeps what the caller may see."""
    if principal.role is Role.ADMIN:
        return "1", []
    if principal.role is Role.SHOPPER:
        return "visits.observer_id = ?", [principal.user_id]
    clause, params = principal.location_clause("visits.location_id")
    # Store-side staff see a mystery shop only once it is released.
    return f"({clause}) AND (visits.kind = 'walkthrough' OR visits.status = 'released')", params


def find_visible(db: Database, principal: Principal, visit_id: str) -> dict[str, Any]:
    """Return a visit row the caller may see, or 404 (never revealing that it exists)."""
    clause, params = visibility_clause(principal)
    visit = one(
        db.execute(f"SELECT * FROM visits WHERE id = ? AND {clause}", [visit_id.lower(), *params])
    )
    if visit is None:
        raise NotFound("No such visit.")
    return visit


def present(
    db: Database, principal: Principal, visit: dict[str, Any], secret: str
) -> dict[str, Any]:
    """Return the API representation of a visit for this caller."""
    body = json.loads(visit["body"])
    body.update(
        {
            "revision": visit["revision"],
            "status": visit["status"],
            "kind": visit["kind"],
            "score": _rounded(visit["score"]),
            "sections": _sections(visit),
            "photos": photo_states(db, visit["id"], visit["observer_id"]),
            "received_at": visit["received_at"],
            "updated_at": visit["updated_at"],
            "observed_at": visit["observed_at"],
            "submitted_at": visit["submitted_at"],
            "released_at": visit["released_at"],
            "flags": json.loads(visit["flags"]),
            "breakdown": explain_score(db, visit, body["answers"]),
        }
    )
    return present_for(db, principal, visit, body, secret)


def explain_score(
    db: Database, visit: dict[str, Any], answers: list[dict[str, Any]]
) -> dict[str, Any]:
    """Return the visit's score breakdown with the reason for every item."""
    # Written on read: the push stored the numbers only, and the version is immutable.
    checklist = get_version(db, visit["checklist_slug"], visit["checklist_version"])
    return score_visit(checklist, answers).to_dict()


def get_visit(db: Database, principal: Principal, visit_id: str, secret: str) -> dict[str, Any]:
    """Return one visit in the caller's scope."""
    return present(db, principal, find_visible(db, principal, visit_id), secret)


def _encode_cursor(updated_at: str, visit_id: str) -> str:
    raw = json.dumps([updated_at, visit_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        updated_at, visit_id = json.loads(base64.urlsafe_b64decode(padded))
        return str(updated_at), str(visit_id)
    except (ValueError, TypeError, binascii.Error) as error:
        raise BadRequest(
            "The cursor is not one this server made.", fields={"cursor": ["malformed"]}
        ) from error


def list_visits(
    db: Database,
    principal: Principal,
    secret: str,
    *,
    location_id: int | None = None,
    status: str | None = None,
    since: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """Return a page of visits in scope, oldest change first, with a cursor for the next."""
    clause, params = visibility_clause(principal)
    conditions, values = [clause], list(params)
    if location_id is not None:
        conditions.append("visits.location_id = ?")
        values.append(location_id)
    if status is not None:
        conditions.append("visits.status = ?")
        values.append(status)
    if since is not None:
        conditions.append("visits.updated_at >= ?")
        values.append(to_rfc3339(parse_rfc3339(since)))
    if cursor:
        after_updated, after_id = _decode_cursor(cursor)
        conditions.append("(visits.updated_at, visits.id) > (?, ?)")
        values.extend([after_updated, after_id])
    page = rows(
        db.execute(
            f"SELECT * FROM visits WHERE {' AND '.join(conditions)}"
            " ORDER BY visits.updated_at, visits.id LIMIT ?",
            [*values, limit + 1],
        )
    )
    has_more = len(page) > limit
    page = page[:limit]
    next_cursor = _encode_cursor(page[-1]["updated_at"], page[-1]["id"]) if page else cursor
    return {
        "visits": [present(db, principal, visit, secret) for visit in page],
        "cursor": next_cursor,
        "has_more": has_more,
    }
