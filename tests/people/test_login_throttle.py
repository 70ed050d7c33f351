"""Failed sign-ins are throttled per username and per address, never for good."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from fieldobs.db import get_db
from fieldobs.people import throttle
from fieldobs.people.throttle import LoginPolicy, delay_after
from tests.helpers.app import PASSWORD, make_app, reconfigure


def _login(client: FlaskClient, username: str, password: str, **headers: str) -> Any:
    return client.post(
        "/api/v1/auth/token", json={"username": username, "password": password}, headers=headers
    )


def _clock(monkeypatch: pytest.MonkeyPatch, start: float = 1_000_000.0) -> list[float]:
    """Freeze the throttle's clock, and check passwords without scrypt's cost."""
    now = [start]
    monkeypatch.setattr(throttle, "unix_now", lambda: now[0])
    monkeypatch.setattr(
        "fieldobs.people.accounts.check_password_hash", lambda _hash, given: given == PASSWORD
    )
    return now


def test_failures_past_the_free_ones_are_429_with_retry_after(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = _clock(monkeypatch)
    for _ in range(5):
        assert _login(client, "shopper", "wrong guess").status_code == 401
    assert _login(client, "shopper", "wrong guess").status_code == 401  # 6th: counted, 1 s wait
    refused = _login(client, "shopper", PASSWORD)  # even the right password waits
    assert refused.status_code == 429
    assert refused.get_json()["error"]["code"] == "too_many_attempts"
    assert refused.headers["Retry-After"] == "1"
    now[0] += 1
    assert _login(client, "shopper", "wrong guess").status_code == 401
    assert _login(client, "SHOPPER", "wrong guess").headers["Retry-After"] == "2"  # doubles
    now[0] += 2
    assert _login(client, "shopper", PASSWORD).status_code == 200


def test_throttled_attempts_skip_the_password_check(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clock(monkeypatch)
    for _ in range(6):
        _login(client, "admin", "wrong guess")
    checks: list[tuple[object, ...]] = []

    def refuse_and_count(*args: object) -> bool:
        checks.append(args)
        return False

    monkeypatch.setattr("fieldobs.people.accounts.check_password_hash", refuse_and_count)
    assert _login(client, "admin", "wrong guess").status_code == 429
    assert checks == []


def test_the_wait_is_capped_so_nobody_is_locked_out_for_good() -> None:
    policy = LoginPolicy(base_delay=1, max_delay=900)
    assert [delay_after(n, 5, policy) for n in (5, 6, 7, 8)] == [0, 1, 2, 4]
    assert delay_after(10_000, 5, policy) == 900


def test_success_resets_the_username_count(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clock(monkeypatch)
    for _ in range(5):
        _login(client, "lead", "wrong guess")
    assert _login(client, "lead", PASSWORD).status_code == 200
    for _ in range(5):
        assert _login(client, "lead", "wrong guess").status_code == 401


def test_an_address_guessing_many_usernames_is_throttled(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clock(monkeypatch)
    for index in range(21):
        assert _login(client, f"user{index}", "wrong guess").status_code == 401
    assert _login(client, "manager", PASSWORD).status_code == 429
    # Another address is not affected (the proxy is not trusted: the header is ignored).
    assert _login(client, "user99", "x", **{"X-Forwarded-For": "10.0.0.9"}).status_code == 429


def test_forwarded_address_counts_only_behind_a_trusted_proxy(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clock(monkeypatch)
    reconfigure(app, TRUSTED_PROXIES=1)
    for index in range(21):
        _login(client, f"user{index}", "wrong", **{"X-Forwarded-For": "203.0.113.7"})
    blocked = _login(client, "admin", PASSWORD, **{"X-Forwarded-For": "203.0.113.7"})
    assert blocked.status_code == 429
    # A client cannot escape by prepending its own entry: the proxy's entry is the rightmost.
    forged = _login(client, "admin", PASSWORD, **{"X-Forwarded-For": "1.2.3.4, 203.0.113.7"})
    assert forged.status_code == 429
    other = _login(client, "admin", PASSWORD, **{"X-Forwarded-For": "198.51.100.1"})
    assert other.status_code == 200


def test_counts_are_shared_through_the_database(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clock(monkeypatch)
    first, second = make_app(data_dir), make_app(data_dir)  # as two worker processes
    for _ in range(6):
        _login(first.test_client(), "shopper", "wrong guess")
    assert _login(second.test_client(), "shopper", PASSWORD).status_code == 429


def test_a_setting_raises_the_throttle_for_fuzzing(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clock(monkeypatch)
    app = make_app(
        data_dir, LOGIN_FREE_FAILURES_PER_USER=1000, LOGIN_FREE_FAILURES_PER_ADDRESS=1000
    )
    client = app.test_client()
    for _ in range(30):
        assert _login(client, "shopper", "wrong guess").status_code == 401
    assert _login(client, "shopper", PASSWORD).status_code == 200


def test_old_failures_are_forgotten(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    now = _clock(monkeypatch)
    client = app.test_client()
    for _ in range(6):
        _login(client, "shopper", "wrong guess")
    now[0] += 86_400 + 1
    _login(client, "nobody", "wrong guess")  # any failure prunes what has been quiet a day
    with app.app_context():
        keys = [r[0] for r in get_db().execute("SELECT key FROM login_failures")]
    assert sorted(keys) == ["addr:127.0.0.1", "user:nobody"]


def test_password_checks_at_once_are_bounded_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    policy = LoginPolicy(hash_concurrency=1, hash_wait=0.01)
    with throttle.hashing_slot(policy):
        outcome: list[str] = []

        def second() -> None:
            try:
                with throttle.hashing_slot(policy):
                    outcome.append("ran")
            except throttle.HashingBusy:
                outcome.append("busy")

        thread = threading.Thread(target=second)
        thread.start()
        thread.join()
    assert outcome == ["busy"]
    with throttle.hashing_slot(policy):
        pass  # released again
