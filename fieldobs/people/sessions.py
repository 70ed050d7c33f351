"""Console sessions and password changes: sign in, look up, revoke, change or reset a password."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from werkzeug.security import check_password_hash, generate_password_hash

from fieldobs.errors import Invalid, Unauthorized
from fieldobs.people.accounts import MIN_PASSWORD_LENGTH, disable_user, get_user, hash_password
from fieldobs.people.scope import Principal, resolve_principal
from fieldobs.storage.connection import Database, one, transaction
from fieldobs.timeutil import now_rfc3339, to_rfc3339, utcnow

# Checked against when the username is unknown, so both paths cost one scrypt.
_DUMMY_HASH = generate_password_hash("fieldobs-session-timing-equaliser", method="scrypt")


@dataclass(frozen=True)
class SignedIn:
    """A new session: the id for the cookie (shown once) and who it stands for."""

    session_id: str
    principal: Principal
    expires_at: str


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def check_password(db: Database, username: str, password: str) -> dict[str, Any]:
    """Return the enabled user with this username and password, or raise 401."""
    user = one(
        db.execute(
            "SELECT id, username, role, password_hash, disabled_at FROM users WHERE username = ?",
            [username],
        )
    )
    valid = check_password_hash(str(user["password_hash"]) if user else _DUMMY_HASH, password)
    if user is None or not valid or user["disabled_at"]:
        raise Unauthorized("Wrong username or password.", code="bad_credentials")
    return user


def start_session(db: Database, username: str, password: str, ttl_hours: float) -> SignedIn:
    """Check a password and open a server-side session for the console."""
    user = check_password(db, username, password)
    session_id = secrets.token_urlsafe(32)
    now = utcnow()
    expires = to_rfc3339(now + timedelta(hours=ttl_hours))
    with transaction(db):
        db.execute(
            "INSERT INTO web_sessions (user_id, session_hash, created_at, last_seen_at,"
            " expires_at) VALUES (?, ?, ?, ?, ?)",
            [user["id"], _digest(session_id), to_rfc3339(now), to_rfc3339(now), expires],
        )
    principal = resolve_principal(db, int(user["id"]), str(user["username"]), str(user["role"]))
    return SignedIn(session_id, principal, expires)


def session_principal(db: Database, session_id: str) -> Principal | None:
    """Return who a live session stands for; None when unknown, revoked, expired or disabled."""
    row = one(
        db.execute(
            "SELECT u.id, u.username, u.role, s.expires_at, s.revoked_at, u.disabled_at"
            " FROM web_sessions s JOIN users u ON u.id = s.user_id WHERE s.session_hash = ?",
            [_digest(session_id)],
        )
    )
    if row is None or row["revoked_at"] or row["disabled_at"]:
        return None
    if row["expires_at"] <= now_rfc3339():
        return None
    return resolve_principal(db, row["id"], row["username"], row["role"])


def end_session(db: Database, session_id: str) -> None:
    """Revoke one session (sign-out)."""
    with transaction(db):
        db.execute(
            "UPDATE web_sessions SET revoked_at = ? WHERE session_hash = ? AND revoked_at IS NULL",
            [now_rfc3339(), _digest(session_id)],
        )


def end_all_sessions(db: Database, user_id: int) -> None:
    """Revoke every console session and bearer token of a user (inside or outside a transaction)."""
    now = now_rfc3339()
    with transaction(db):
        db.execute(
            "UPDATE web_sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
            [now, user_id],
        )
        db.execute(
            "UPDATE tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
            [now, user_id],
        )


def _check_new(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(
            "The new password is too short.",
            fields={"new_password": [f"must be at least {MIN_PASSWORD_LENGTH} characters"]},
        )


def change_password(
    db: Database, principal: Principal, current: str, new: str, keep_session: str | None = None
) -> None:
    """Change one's own password; every other session and token of theirs ends."""
    row = one(db.execute("SELECT password_hash FROM users WHERE id = ?", [principal.user_id]))
    if row is None or not check_password_hash(str(row["password_hash"]), current):
        raise Invalid(
            "The current password is wrong.", fields={"current_password": ["is not right"]}
        )
    _check_new(new)
    new_hash = hash_password(new)
    with transaction(db):
        db.execute("UPDATE users SET password_hash = ? WHERE id = ?", [new_hash, principal.user_id])
        end_all_sessions(db, principal.user_id)
        if keep_session is not None:
            # The person who just proved who they are stays signed in here.
            db.execute(
                "UPDATE web_sessions SET revoked_at = NULL WHERE session_hash = ?",
                [_digest(keep_session)],
            )


def reset_password(db: Database, user_id: int, new: str) -> dict[str, object]:
    """Set a user's password (an admin's act); their sessions and tokens end."""
    _check_new(new)
    new_hash = hash_password(new)
    with transaction(db):
        get_user(db, user_id)
        db.execute("UPDATE users SET password_hash = ? WHERE id = ?", [new_hash, user_id])
        end_all_sessions(db, user_id)
    return get_user(db, user_id)


def enable_user(db: Database, user_id: int) -> dict[str, object]:
    """Re-enable a disabled user (they sign in afresh: old sessions and tokens stay revoked)."""
    with transaction(db):
        get_user(db, user_id)
        db.execute("UPDATE users SET disabled_at = NULL WHERE id = ?", [user_id])
    return get_user(db, user_id)


def disable_user_everywhere(db: Database, user_id: int) -> dict[str, object]:
    """Disable a user and end their sessions and tokens."""
    with transaction(db):
        user = disable_user(db, user_id)
        end_all_sessions(db, user_id)
    return user
