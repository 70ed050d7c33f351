"""People and bearer tokens: create users, check passwords, issue and revoke tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from werkzeug.security import check_password_hash, generate_password_hash

from fieldobs.errors import Conflict, Invalid, NotFound, Unauthorized
from fieldobs.people import throttle
from fieldobs.people.credentials import (
    MAX_PASSWORD_LENGTH,
    normalize_username,
    password_problems,
    username_problems,
)
from fieldobs.people.scope import Principal, Role, resolve_principal
from fieldobs.people.throttle import LoginPolicy
from fieldobs.storage.connection import Database, one, rows, transaction
from fieldobs.timeutil import now_rfc3339, to_rfc3339, utcnow

DEFAULT_LOGIN_POLICY = LoginPolicy()
# Computed once so a login for an unknown user costs the same as for a known one.
_DUMMY_HASH = generate_password_hash("fieldobs-timing-equaliser")


def hash_password(password: str) -> str:
    """Hash a password with scrypt, a slow memory-hard KDF."""
    return generate_password_hash(password, method="scrypt")


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(
    db: Database,
    *,
    username: str,
    password: str,
    role: str,
    display_name: str | None = None,
    location_ids: list[int] | tuple[int, ...] = (),
    area_ids: list[int] | tuple[int, ...] = (),
) -> dict[str, Any]:
    """Create a user with their scope grants in one transaction."""
    problems: dict[str, list[str]] = {}
    if username_problem := username_problems(username):
        problems["username"] = username_problem
    username = normalize_username(username)
    if role not in {r.value for r in Role}:
        problems["role"] = [f"must be one of {', '.join(r.value for r in Role)}"]
    if password_problem := password_problems(password, username):
        problems["password"] = password_problem
    if role == Role.MANAGER and not location_ids:
        problems["location_ids"] = ["a manager needs at least one location"]
    if role == Role.AREA_LEAD and not area_ids:
        problems["area_ids"] = ["an area lead needs at least one area"]
    if role in (Role.ADMIN, Role.AREA_LEAD) and location_ids:
        problems["location_ids"] = [f"a {role} is not scoped to locations"]
    if role in (Role.ADMIN, Role.MANAGER) and area_ids:
        problems["area_ids"] = [f"a {role} is not scoped to areas"]
    if problems:
        raise Invalid("The user is invalid.", fields=problems)
    password_hash = hash_password(password)
    with transaction(db):
        if db.execute("SELECT 1 FROM users WHERE username = ?", [username]).fetchone():
            raise Conflict("That username is taken.", fields={"username": ["already taken"]})
        _require_existing(db, "locations", location_ids, "location_ids")
        _require_existing(db, "areas", area_ids, "area_ids")
        user_id = db.execute(
            "INSERT INTO users (username, display_name, role, password_hash, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            [username, display_name or username, role, password_hash, now_rfc3339()],
        ).lastrowid
        db.conn.executemany(
            "INSERT INTO user_locations (user_id, location_id) VALUES (?, ?)",
            [(user_id, loc) for loc in sorted(set(location_ids))],
        )
        db.conn.executemany(
            "INSERT INTO user_areas (user_id, area_id) VALUES (?, ?)",
            [(user_id, area) for area in sorted(set(area_ids))],
        )
    return get_user(db, int(user_id or 0))


def _require_existing(
    db: Database, table: str, ids: list[int] | tuple[int, ...], field: str
) -> None:
    wanted = sorted(set(ids))
    if not wanted:
        return
    marks = ",".join("?" * len(wanted))
    found = {r[0] for r in db.execute(f"SELECT id FROM {table} WHERE id IN ({marks})", wanted)}
    missing = [i for i in wanted if i not in found]
    if missing:
        raise Invalid(f"Unknown {table}.", fields={field: [f"no such id: {i}" for i in missing]})


def get_user(db: Database, user_id: int) -> dict[str, Any]:
    """Return a user with their grants, without the password hash."""
    user = one(
        db.execute(
            "SELECT id, username, display_name, role, created_at, disabled_at FROM users"
            " WHERE id = ?",
            [user_id],
        )
    )
    if user is None:
        raise NotFound("No such user.")
    user["location_ids"] = [
        r[0]
        for r in db.execute(
            "SELECT location_id FROM user_locations WHERE user_id = ? ORDER BY 1", [user_id]
        )
    ]
    user["area_ids"] = [
        r[0]
        for r in db.execute(
            "SELECT area_id FROM user_areas WHERE user_id = ? ORDER BY 1", [user_id]
        )
    ]
    return user


def list_users(db: Database) -> list[dict[str, Any]]:
    """Return every user, without password hashes."""
    ids = [r["id"] for r in rows(db.execute("SELECT id FROM users ORDER BY id"))]
    return [get_user(db, user_id) for user_id in ids]


def _revoke_all(db: Database, user_id: int, now: str) -> None:
    db.execute(
        "UPDATE tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
        [now, user_id],
    )


def disable_user(db: Database, user_id: int) -> dict[str, Any]:
    """Disable a user and revoke every token they hold; the last active admin stays."""
    with transaction(db):
        user = get_user(db, user_id)
        if user["role"] == Role.ADMIN and not user["disabled_at"]:
            others = db.execute(
                "SELECT count(*) FROM users WHERE role = 'admin' AND disabled_at IS NULL"
                " AND id != ?",
                [user_id],
            ).fetchone()[0]
            if not others:
                raise Conflict(
                    "This is the last active admin: enable or create another admin first.",
                    code="last_admin",
                )
        now = now_rfc3339()
        db.execute(
            "UPDATE users SET disabled_at = coalesce(disabled_at, ?) WHERE id = ?", [now, user_id]
        )
        _revoke_all(db, user_id, now)
    return get_user(db, user_id)


def enable_user(db: Database, user_id: int) -> dict[str, Any]:
    """Let a disabled user sign in again (their old tokens stay revoked)."""
    with transaction(db):
        get_user(db, user_id)
        db.execute("UPDATE users SET disabled_at = NULL WHERE id = ?", [user_id])
    return get_user(db, user_id)


def set_password(db: Database, user_id: int, password: str) -> dict[str, Any]:
    """Give a user a new password and revoke every token they hold."""
    user = get_user(db, user_id)
    if problems := password_problems(password, user["username"]):
        raise Invalid("The password is invalid.", fields={"password": problems})
    password_hash = hash_password(password)
    with transaction(db):
        get_user(db, user_id)
        db.execute("UPDATE users SET password_hash = ? WHERE id = ?", [password_hash, user_id])
        _revoke_all(db, user_id, now_rfc3339())
    return get_user(db, user_id)


def set_display_name(db: Database, user_id: int, display_name: str) -> dict[str, Any]:
    """Change the free-text name shown for a user."""
    with transaction(db):
        get_user(db, user_id)
        db.execute("UPDATE users SET display_name = ? WHERE id = ?", [display_name, user_id])
    return get_user(db, user_id)


def check_password(
    db: Database,
    username: str,
    password: str,
    *,
    policy: LoginPolicy = DEFAULT_LOGIN_POLICY,
    client_address: str | None = None,
) -> dict[str, Any]:
    """Return the enabled user with this username and password, or raise 401 (429 throttled).

    Every sign-in goes through here, the API's tokens and the console's sessions alike: their
    failures count together against the same username and address.
    """
    username = normalize_username(username)
    keys = {throttle.user_key(username): policy.free_failures_per_user}
    if client_address:
        keys[throttle.address_key(client_address)] = policy.free_failures_per_address
    # Refused before any hashing: a throttled guess costs a read, not an scrypt.
    throttle.check_allowed(db, keys, throttle.unix_now())
    user = one(
        db.execute(
            "SELECT id, username, role, password_hash, disabled_at FROM users WHERE username = ?",
            [username],
        )
    )
    valid = False
    if len(password) <= MAX_PASSWORD_LENGTH:
        with throttle.hashing_slot(policy):
            stored = str(user["password_hash"]) if user else _DUMMY_HASH
            valid = check_password_hash(stored, password)
    if user is None or not valid or user["disabled_at"]:
        throttle.record_failure(db, keys, throttle.unix_now(), policy)
        raise Unauthorized("Wrong username or password.", code="bad_credentials")
    # Only the username's count: one good account must not reset a guessing address.
    throttle.forget(db, throttle.user_key(username))
    return user


def issue_token(
    db: Database,
    username: str,
    password: str,
    ttl_hours: float,
    *,
    policy: LoginPolicy = DEFAULT_LOGIN_POLICY,
    client_address: str | None = None,
) -> dict[str, Any]:
    """Check a password and return a new bearer token; failures are throttled."""
    user = check_password(db, username, password, policy=policy, client_address=client_address)
    token = "fo_" + secrets.token_urlsafe(32)
    now = utcnow()
    expires = now + timedelta(hours=ttl_hours)
    with transaction(db):
        db.execute(
            "INSERT INTO tokens (user_id, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?)",
            [user["id"], _token_digest(token), to_rfc3339(now), to_rfc3339(expires)],
        )
    return {"token": token, "role": user["role"], "expires_at": to_rfc3339(expires)}


def authenticate(db: Database, token: str) -> Principal:
    """Return the principal a bearer token stands for, or raise 401."""
    row = one(
        db.execute(
            "SELECT u.id, u.username, u.role, t.expires_at, t.revoked_at, u.disabled_at"
            " FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?",
            [_token_digest(token)],
        )
    )
    if row is None or row["revoked_at"] or row["disabled_at"]:
        raise Unauthorized("The token is unknown or revoked.", code="bad_token")
    if row["expires_at"] <= now_rfc3339():
        raise Unauthorized("The token has expired; sign in again.", code="token_expired")
    return resolve_principal(db, row["id"], row["username"], row["role"])


def revoke_token(db: Database, token: str) -> None:
    """Revoke one bearer token."""
    with transaction(db):
        db.execute(
            "UPDATE tokens SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL",
            [now_rfc3339(), _token_digest(token)],
        )
