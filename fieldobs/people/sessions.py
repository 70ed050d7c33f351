"""Console sessions and password changes: sign in (throttled as the API's), look up, revoke."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from werkzeug.security import check_password_hash, generate_password_hash

from fieldobs.errors import Invalid
from fieldobs.people.accounts import check_password, disable_user, hash_password, set_password
from fieldobs.people.credentials import password_problems
from fieldobs.people.scope import Principal, resolve_principal
from fieldobs.people.throttle import LoginPolicy
from fieldobs.storage.connection import Database, one, transaction
from fieldobs.timeutil import now_rfc3339, to_rfc3339, utcnow

# Checked against when the username is unknown, so both paths cost one hash.
_DUMMY_HASH = generate_password_hash("fieldobs-session-timing-equaliser")


@dataclass(frozen=True)
class SignedIn:
    """A new session: the id for the cookie (shown once) and who it stands for."""

    session_id: str
    principal: Principal
    expires_at: str


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def start_session(
    db: Database,
    username: str,
    password: str,
    ttl_hours: float,
    *,
    policy: LoginPolicy,
    client_address: str | None = None,
) -> SignedIn:
    """Check a password and open a server-side session for the console."""
    user = check_password(db, username, password, policy=policy, client_address=client_address)
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


def change_password(
    db: Database, principal: Principal, current: str, new: str, keep_session: str | None = None
) -> None:
    """Change one's own password; every other session and token of theirs ends."""
    row = one(db.execute("SELECT password_hash FROM users WHERE id = ?", [principal.user_id]))
    if row is None or not check_password_hash(str(row["password_hash"]), current):
        raise Invalid(
            "The current password is wrong.", fields={"current_password": ["is not right"]}
        )
    if problems := password_problems(new, principal.username):
        raise Invalid("The new password is not accepted.", fields={"new_password": problems})
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


def reset_password(db: Database, user_id: int, new: str) -> dict[str, Any]:
    """Set a user's password (an admin's act, as the API's); their sessions and tokens end."""
    try:
        user = set_password(db, user_id, new)
    except Invalid as error:
        raise Invalid(error.message, fields={"new_password": (error.fields or {}).get(
            "password", [error.message]
        )}) from error  # fmt: skip
    end_all_sessions(db, user_id)
    return user


def disable_user_everywhere(db: Database, user_id: int) -> dict[str, Any]:
    """Disable a user (as the API does) and end their console sessions too."""
    with transaction(db):
        user = disable_user(db, user_id)
        end_all_sessions(db, user_id)
    return user
