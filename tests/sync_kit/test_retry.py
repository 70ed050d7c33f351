"""Backoff, Retry-After and the transport's retry rules."""

from __future__ import annotations

import random
from email.utils import formatdate

import pytest

from fieldobs_sync.client import ApiClient, classify
from fieldobs_sync.errors import AuthError, TransientError
from fieldobs_sync.retry import Backoff, RetryPolicy, is_retryable_status, parse_retry_after
from tests.helpers.sync_fake_server import Fault, fast_client, running_server


class FixedRandom(random.Random):
    """A Random whose uniform() returns a fixed fraction of the range."""

    def __init__(self, fraction: float) -> None:
        super().__init__(0)
        self.fraction = fraction

    def uniform(self, a: float, b: float) -> float:
        """Return a + fraction * (b - a)."""
        return a + self.fraction * (b - a)


@pytest.mark.parametrize(
    ("attempt", "ceiling"), [(0, 0.5), (1, 1.0), (2, 2.0), (5, 16.0), (6, 30.0), (500, 30.0)]
)
def test_backoff_ceiling_doubles_up_to_the_cap(attempt: int, ceiling: float) -> None:
    assert RetryPolicy(base_delay=0.5, max_delay=30.0).ceiling(attempt) == ceiling


def test_backoff_full_jitter_spans_zero_to_ceiling() -> None:
    backoff = Backoff(RetryPolicy(base_delay=1.0, max_delay=8.0), rng=random.Random(42))
    delays = [d for d in (backoff.delay(3) for _ in range(2000)) if d is not None]
    assert len(delays) == 2000
    assert all(0.0 <= d <= 8.0 for d in delays)
    # Full jitter: spread across the whole range, not bunched near the ceiling.
    assert min(delays) < 0.5
    assert max(delays) > 7.5


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("7", 7.0),
        ("0", 0.0),
        (" 12 ", 12.0),
        ("soon", None),
        ("", None),
        (None, None),
        ("-3", None),
    ],
)
def test_parse_retry_after_reads_seconds(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, now=1000.0) == expected


def test_parse_retry_after_reads_http_dates() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after(formatdate(now + 30, usegmt=True), now) == pytest.approx(30.0)
    assert parse_retry_after(formatdate(now - 30, usegmt=True), now) == 0.0


@pytest.mark.parametrize(
    ("header", "fraction", "expected"),
    [(None, 0.5, 1.0), ("10", 0.5, 10.0), ("0", 1.0, 2.0), ("1000", 0.5, None)],
)
def test_backoff_honours_retry_after(
    header: str | None, fraction: float, expected: float | None
) -> None:
    backoff = Backoff(
        RetryPolicy(base_delay=1.0, max_delay=8.0, max_retry_after=120.0),
        rng=FixedRandom(fraction),
        clock=lambda: 0.0,
    )
    assert backoff.delay(1, header) == expected


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        (408, True),
        (429, True),
        (500, True),
        (503, True),
        (599, True),
        (400, False),
        (401, False),
        (404, False),
        (409, False),
        (410, False),
        (422, False),
        (200, False),
    ],
)
def test_retryable_statuses(status: int, retryable: bool) -> None:
    assert is_retryable_status(status) is retryable


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (201, "acknowledged"),
        (200, "acknowledged"),
        (409, "needs_attention"),
        (422, "needs_attention"),
        (413, "needs_attention"),
        (500, "retry"),
        (0, "retry"),
        (404, "retry"),
        (429, "retry"),
    ],
)
def test_classify_maps_put_statuses(status: int, outcome: str) -> None:
    assert classify(status) == outcome


@pytest.mark.parametrize(
    "fault",
    [
        Fault("GET", "/healthz", status=503),
        Fault("GET", "/healthz", status=500),
        Fault("GET", "/healthz", status=408),
        Fault("GET", "/healthz", status=429, headers={"Retry-After": "3"}),
        Fault("GET", "/healthz", drop_before=True),
    ],
)
def test_request_retries_transient_failures(fault: Fault) -> None:
    sleeps: list[float] = []
    with running_server() as server:
        fault.times = 2
        server.state.faults.append(fault)
        client = fast_client(server.url, sleeps)
        resp = client.request("GET", "/healthz", auth=False)
    assert resp.status == 200
    assert len(sleeps) == 2
    if fault.headers.get("Retry-After"):
        assert all(s >= 3.0 for s in sleeps)


@pytest.mark.parametrize("status", [400, 403, 404, 409, 410, 422])
def test_request_never_retries_client_errors(status: int) -> None:
    sleeps: list[float] = []
    with running_server() as server:
        server.state.faults.append(Fault("GET", "/healthz", status=status, times=5))
        resp = fast_client(server.url, sleeps).request("GET", "/healthz", auth=False)
        calls = [p for m, p in server.state.log if p == "/healthz"]
    assert resp.status == status
    assert sleeps == []
    assert len(calls) == 1


def test_request_gives_up_after_max_attempts() -> None:
    sleeps: list[float] = []
    with running_server() as server:
        server.state.faults.append(Fault("GET", "/healthz", status=503, times=10))
        client = fast_client(server.url, sleeps)
        with pytest.raises(TransientError) as info:
            client.request("GET", "/healthz", auth=False)
    assert info.value.status == 503
    assert len(sleeps) == client.backoff.policy.max_attempts - 1


def test_request_stops_when_retry_after_is_too_long() -> None:
    sleeps: list[float] = []
    with running_server() as server:
        server.state.faults.append(
            Fault("GET", "/healthz", status=503, headers={"Retry-After": "3600"})
        )
        client = fast_client(server.url, sleeps)
        with pytest.raises(TransientError) as info:
            client.request("GET", "/healthz", auth=False)
    assert sleeps == []
    assert info.value.retry_at is not None


def test_unreachable_server_is_transient() -> None:
    with running_server() as server:
        url = server.url  # closed on leaving: nothing listens there any more
    sleeps: list[float] = []
    client = ApiClient(url, backoff=Backoff(RetryPolicy(max_attempts=3), sleep=sleeps.append))
    with pytest.raises(TransientError):
        client.request("GET", "/healthz")
    assert len(sleeps) == 2


def test_expired_token_logs_in_again_with_credentials() -> None:
    with running_server() as server:
        client = fast_client(server.url, credentials=("shopper", "pw"))
        server.state.tokens.clear()
        resp = client.request("GET", "/api/v1/sync/changes")
    assert resp.status == 200


def test_expired_token_without_credentials_raises_auth_error() -> None:
    with running_server() as server:
        client = fast_client(server.url)
        server.state.tokens.clear()
        with pytest.raises(AuthError):
            client.request("GET", "/api/v1/sync/changes")


def test_wrong_password_raises_auth_error() -> None:
    with running_server() as server, pytest.raises(AuthError):
        ApiClient(server.url).login("shopper", "wrong")


@pytest.mark.parametrize("url", ["ftp://x", "127.0.0.1:5000", "http://"])
def test_client_rejects_bad_base_urls(url: str) -> None:
    with pytest.raises(ValueError, match="base URL"):
        ApiClient(url)
