"""Assignment rules: window times, the shopper named, the checks a new assignment passes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fieldobs.checklists.published import get_latest
from fieldobs.errors import NotFound
from fieldobs.people.scope import Role, resolve_principal
from fieldobs.storage.connection import Database, one
from fieldobs.stored_integers import is_stored_integer, parse_stored_integer
from fieldobs.timeutil import parse_rfc3339, to_rfc3339

DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
WINDOW_YEARS = (1970, 9000)
SCENARIO_MAX_CHARS = 2000  # what the shopper reads on a phone before going in


@dataclass(frozen=True)
class AssignmentPolicy:
    """The rules a new assignment is checked against."""

    cooldown_days: float = 90


# Reading the request -------------------------------------------------------------------


def parse_window_time(text: str, timezone: str, *, end: bool) -> datetime:
    """Return a window bound in UTC: RFC 3339 as given, else local time in `timezone`.

    `2026-11-23T09:00` (no offset) is wall-clock time at the location. A date alone is the
    start of that local day, or for a window's end the end of that day. A local time the
    clocks skip (spring forward) is refused; one that happens twice is the first. Years
    outside WINDOW_YEARS are refused (near the calendar's ends a shift by hours overflows).
    """
    text = text.strip()
    if DATE_ONLY.match(text):
        day = date.fromisoformat(text)
        moment = datetime.combine(day, time(0))
    else:
        moment = datetime.fromisoformat(text.replace("z", "Z"))
    if not WINDOW_YEARS[0] <= moment.year <= WINDOW_YEARS[1]:
        raise ValueError(f"the year must be from {WINDOW_YEARS[0]} to {WINDOW_YEARS[1]}")
    if DATE_ONLY.match(text) and end:
        moment += timedelta(days=1)
    if moment.tzinfo is not None:
        return moment.astimezone(UTC)
    zone = ZoneInfo(timezone)
    local = moment.replace(tzinfo=zone)
    if local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != moment:
        raise ValueError(f"{text} does not exist in {timezone} (the clocks go forward)")
    return local.astimezone(UTC)


def find_shopper(db: Database, value: Any) -> dict[str, Any] | None:
    """Return the user named by a JSON number (user id) or a string (username, else an id)."""
    if isinstance(value, bool) or value is None:
        return None
    columns = "SELECT id, username, display_name, role, disabled_at FROM users"
    if isinstance(value, int):
        return (
            one(db.execute(f"{columns} WHERE id = ?", [value]))
            if is_stored_integer(value)
            else None
        )
    text = str(value).strip()
    user = one(db.execute(f"{columns} WHERE username = ?", [text]))
    if user is None and (user_id := parse_stored_integer(text)) is not None:
        user = one(db.execute(f"{columns} WHERE id = ?", [user_id]))
    return user


def check_assignment(
    db: Database,
    data: dict[str, Any],
    policy: AssignmentPolicy,
    now: datetime,
    known: Mapping[str, list[str]] | None = None,
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Check a requested assignment; return the row to insert and the problems by field.

    `known` holds problems found already (by the request's schema): those fields are not
    checked again, and every problem is reported together.
    """
    problems: dict[str, list[str]] = {name: list(listed) for name, listed in (known or {}).items()}

    def check(name: str) -> bool:
        return name not in problems

    shopper = _check_shopper(db, data.get("shopper"), problems) if check("shopper") else None
    location = (
        _check_location(db, data.get("location_id"), problems) if check("location_id") else None
    )
    slug = data.get("checklist")
    if check("checklist"):
        _check_checklist(db, slug, problems)
    scenario = data.get("scenario")
    scenario = "" if scenario is None else scenario
    if check("scenario"):
        scenario = _check_scenario(scenario, problems)
    window: dict[str, datetime] = {}
    for name in ("window_start", "window_end"):
        raw = data.get(name)
        if not check(name):
            continue
        if not isinstance(raw, str) or not raw.strip():
            problems[name] = ["required: RFC 3339, or a local date-time or date"]
            continue
        try:
            window[name] = parse_window_time(
                raw, location["timezone"] if location else "UTC", end=name == "window_end"
            )
        except ValueError as error:
            problems[name] = [f"not a time: {error}"]
    if len(window) == 2:
        if window["window_end"] <= window["window_start"]:
            problems.setdefault("window_end", []).append("must be after window_start")
        elif window["window_end"] <= now:
            problems.setdefault("window_end", []).append("is in the past")
    row = {
        "shopper_id": shopper["id"] if shopper else None,
        "location_id": location["id"] if location else None,
        "checklist_slug": slug,
        "scenario": scenario,
        "window_start": to_rfc3339(window["window_start"]) if "window_start" in window else None,
        "window_end": to_rfc3339(window["window_end"]) if "window_end" in window else None,
    }
    if not problems and shopper is not None and location is not None:
        scope = resolve_principal(db, shopper["id"], shopper["username"], shopper["role"])
        if not scope.sees_location(location["id"]):
            problems["location_id"] = [f"outside {shopper['username']}'s scope"]
        elif clash := cooldown_clash(db, row, policy):
            problems["location_id"] = [f"{shopper['username']} {clash}"]
    return row, problems


def _check_shopper(
    db: Database, value: Any, problems: dict[str, list[str]]
) -> dict[str, Any] | None:
    shopper = find_shopper(db, value)
    if shopper is None:
        problems["shopper"] = ["no such user (give a username or a user id)"]
    elif shopper["role"] != Role.SHOPPER or shopper["disabled_at"]:
        problems["shopper"] = [f"{shopper['username']} is not an active shopper"]
        return None
    return shopper


def _check_location(
    db: Database, value: Any, problems: dict[str, list[str]]
) -> dict[str, Any] | None:
    location = (
        one(
            db.execute(
                "SELECT id, timezone FROM locations WHERE id = ? AND deleted_at IS NULL", [value]
            )
        )
        if is_stored_integer(value)
        else None
    )
    if location is None:
        problems["location_id"] = ["no such location"]
    return location


def _check_checklist(db: Database, slug: Any, problems: dict[str, list[str]]) -> None:
    try:
        checklist = get_latest(db, slug) if isinstance(slug, str) else None
    except NotFound:
        checklist = None
    if checklist is None:
        problems["checklist"] = [f"no published checklist {slug!r}"]
    elif checklist["kind"] != "mystery_shop":
        problems["checklist"] = [f"{slug!r} is a {checklist['kind']}, not a mystery shop"]


def _check_scenario(value: Any, problems: dict[str, list[str]]) -> str:
    if not isinstance(value, str):
        problems["scenario"] = ["must be text"]
        return ""
    text = value.strip()
    if len(text) > SCENARIO_MAX_CHARS:
        problems["scenario"] = [f"at most {SCENARIO_MAX_CHARS:,} characters (got {len(text):,})"]
    return text


def cooldown_clash(db: Database, row: dict[str, Any], policy: AssignmentPolicy) -> str | None:
    """Tell why the shopper may not go to this location again so soon, or None."""
    # Clamped: a cooldown of thousands of years means "never again", not an OverflowError.
    cooldown = timedelta(days=min(policy.cooldown_days, 365 * 500))
    earliest = to_rfc3339(parse_rfc3339(row["window_start"]) - cooldown)
    latest = to_rfc3339(parse_rfc3339(row["window_end"]) + cooldown)
    # Expired and cancelled assignments were never carried out: the staff never saw the shopper.
    other = one(
        db.execute(
            "SELECT id, window_start, window_end FROM assignments WHERE shopper_id = ?"
            " AND location_id = ? AND status IN ('open', 'submitted')"
            " AND window_end > ? AND window_start < ? ORDER BY window_start LIMIT 1",
            [row["shopper_id"], row["location_id"], earliest, latest],
        )
    )
    days = f"{policy.cooldown_days:g}"
    if other is not None:
        return (
            f"is assigned this location already (assignment {other['id']},"
            f" {other['window_start']} to {other['window_end']}); windows at the same"
            f" location must be {days} days apart"
        )
    visit = one(
        db.execute(
            "SELECT observed_at FROM visits WHERE observer_id = ? AND location_id = ?"
            " AND kind = 'mystery_shop' AND observed_at > ? AND observed_at < ?"
            " ORDER BY observed_at DESC LIMIT 1",
            [row["shopper_id"], row["location_id"], earliest, latest],
        )
    )
    if visit is not None:
        return (
            f"visited this location at {visit['observed_at']}; the staff may recognise them"
            f" within {days} days"
        )
    return None


def in_window(assignment: dict[str, Any], started_at: str, finished_at: str) -> bool:
    start, end = parse_rfc3339(assignment["window_start"]), parse_rfc3339(assignment["window_end"])
    return start <= parse_rfc3339(started_at) and parse_rfc3339(finished_at) <= end
