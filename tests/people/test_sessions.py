"""Console sessions as plain functions: stored as hashes, ended by time, sign-out or disabling."""

from __future__ import annotations

import pytest
from flask import Flask

from fieldobs.db import get_db
from fieldobs.errors import Invalid, Unauthorized
from fieldobs.people.accounts import disable_user
from fieldobs.people.sessions import (
    end_session,
    reset_password,
    session_principal,
    start_session,
)
from fieldobs.people.throttle import LoginPolicy
from tests.helpers.app import PASSWORD, Org

POLICY = LoginPolicy()


def test_only_a_hash_of_the_session_id_is_stored(app: Flask) -> None:
    with app.app_context():
        db = get_db()
        signed = start_session(db, "lead", PASSWORD, 1, policy=POLICY)
        stored = [row[0] for row in db.execute("SELECT session_hash FROM web_sessions")]
        assert signed.session_id not in stored
        assert len(stored) == 1
        found = session_principal(db, signed.session_id)
        assert found is not None
        assert found.username == "lead"


def test_expired_session_is_no_session(app: Flask) -> None:
    with app.app_context():
        db = get_db()
        signed = start_session(db, "lead", PASSWORD, -1, policy=POLICY)
        assert session_principal(db, signed.session_id) is None


@pytest.mark.parametrize("username", ["lead", "nobody"])
def test_wrong_password_starts_nothing(app: Flask, username: str) -> None:
    with app.app_context(), pytest.raises(Unauthorized):
        start_session(get_db(), username, "wrong password", 1, policy=POLICY)


def test_sign_out_and_disabling_end_sessions(app: Flask, org: Org) -> None:
    with app.app_context():
        db = get_db()
        first = start_session(db, "manager", PASSWORD, 1, policy=POLICY)
        second = start_session(db, "manager", PASSWORD, 1, policy=POLICY)
        end_session(db, first.session_id)
        assert session_principal(db, first.session_id) is None
        assert session_principal(db, second.session_id) is not None
        disable_user(db, org.users["manager"])  # the API's own path: the join sees it
        assert session_principal(db, second.session_id) is None


def test_reset_password_checks_its_length(app: Flask, org: Org) -> None:
    with app.app_context(), pytest.raises(Invalid):
        reset_password(get_db(), org.users["lead"], "short")


def test_console_and_api_sign_ins_share_one_throttle(app: Flask) -> None:
    with app.app_context():
        db = get_db()
        # The free failures, then one more: that one starts the wait.
        for _ in range(POLICY.free_failures_per_user + 1):
            with pytest.raises(Unauthorized):
                start_session(db, "lead", "wrong password", 1, policy=POLICY)
    client = app.test_client()
    answer = client.post("/api/v1/auth/token", json={"username": "lead", "password": "nope"})
    assert answer.status_code == 429
