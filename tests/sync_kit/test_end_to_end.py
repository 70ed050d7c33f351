"""The sync kit against a real server through a flaky network: exactly-once, end to end."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from fieldobs_sync.client import ApiClient
from fieldobs_sync.engine import Syncer
from fieldobs_sync.outbox import Outbox
from fieldobs_sync.pull import Replica
from fieldobs_sync.retry import Backoff, RetryPolicy
from tests.helpers.app import Org
from tests.helpers.fault_proxy import FaultProxy, flaky
from tests.helpers.server_process import ServerProcess, assert_exactly_once
from tests.helpers.visit_factory import make_visit

pytestmark = pytest.mark.slow

FLAKY = {"drop_response": 0.15, "duplicate": 0.1, "cut_request": 0.05, "delay": 0.2}


@pytest.fixture
def server(data_dir: Path) -> Iterator[ServerProcess]:
    """Run gunicorn with two workers on a copy of the seeded database."""
    with ServerProcess(data_dir, workers=2) as running:
        yield running


def fast_backoff() -> Backoff:
    """Back off in milliseconds, not seconds: the proxy misbehaves on purpose."""
    return Backoff(
        policy=RetryPolicy(max_attempts=8, base_delay=0.01, max_delay=0.1), rng=random.Random(5)
    )


def test_outbox_of_500_visits_drains_exactly_once_through_a_flaky_network(
    server: ServerProcess, org: Org, data_dir: Path, tmp_path: Path
) -> None:
    with FaultProxy(server.port, flaky(FLAKY)) as proxy:
        client = ApiClient(proxy.url, org.tokens["shopper"], backoff=fast_backoff(), timeout=10)
        checklist = (
            ApiClient(server.url, org.tokens["shopper"])
            .request("GET", "/api/v1/checklists/mystery-shop")
            .json()
        )
        visits = [make_visit(checklist, org.locations["leeds"]) for _ in range(500)]
        with Outbox(tmp_path / "outbox.db") as outbox, Replica(tmp_path / "replica.db") as replica:
            for visit in visits:
                outbox.queue(visit)
            syncer = Syncer(client, outbox, replica, batch_size=25)
            for _ in range(60):
                report = syncer.run()
                if report.complete:
                    break
            assert report.complete, report
            assert outbox.counts().get("done") == 500
            assert replica.cursor() is not None
    assert proxy.counts["drop_response"] > 0
    assert proxy.counts["duplicate"] > 0
    assert_exactly_once(data_dir, visits)
