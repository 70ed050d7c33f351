"""Exactly-once under real faults: a real server process, a misbehaving network, SIGKILL."""

from __future__ import annotations

import contextlib
import json
import random
import shutil
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.app import Org
from tests.helpers.fault_proxy import FaultProxy, always, flaky
from tests.helpers.server_process import ServerProcess, assert_exactly_once, stored_bodies
from tests.helpers.visit_factory import make_visit

pytestmark = pytest.mark.slow


def request(
    base: str, method: str, path: str, token: str, body: Any = None, timeout: float = 30
) -> tuple[int, Any]:
    """Send one JSON request; return (status, body); raise OSError on network failure."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        base + path,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


@pytest.fixture
def server(data_dir: Path) -> Iterator[ServerProcess]:
    """Run gunicorn with two worker processes on a copy of the seeded database."""
    with ServerProcess(data_dir, workers=2) as running:
        yield running


@pytest.fixture
def checklist(server: ServerProcess, org: Org) -> dict[str, Any]:
    """Return the published mystery-shop checklist, read over HTTP."""
    status, body = request(
        server.url, "GET", "/api/v1/checklists/mystery-shop", org.tokens["shopper"]
    )
    assert status == 200
    assert isinstance(body, dict)
    return body


def push_until_acknowledged(
    base: str, token: str, visit: dict[str, Any], attempts: int = 30
) -> int:
    """Retry a PUT through network failures, as the sync kit does; return the final status."""
    for _ in range(attempts):
        try:
            status, _ = request(
                base, "PUT", f"/api/v1/visits/{visit['id']}", token, visit, timeout=10
            )
        except OSError:
            continue
        if status < 500:
            return status
    raise AssertionError("never acknowledged")


def test_response_lost_after_commit_is_a_replay_on_retry(
    server: ServerProcess, org: Org, checklist: dict[str, Any], data_dir: Path
) -> None:
    visit = make_visit(checklist, org.locations["leeds"])
    with (
        FaultProxy(server.port, always("drop_response")) as proxy,
        pytest.raises(OSError, match=r".*"),
    ):
        request(proxy.url, "PUT", f"/api/v1/visits/{visit['id']}", org.tokens["shopper"], visit)
    assert push_until_acknowledged(server.url, org.tokens["shopper"], visit) == 200
    assert_exactly_once(data_dir, [visit])


@pytest.mark.parametrize("action", ["duplicate", "cut_request", "delay"])
def test_misbehaving_network_never_duplicates(
    server: ServerProcess, org: Org, checklist: dict[str, Any], data_dir: Path, action: str
) -> None:
    visits = [make_visit(checklist, org.locations["leeds"]) for _ in range(5)]
    with FaultProxy(server.port, always(action)) as proxy:
        for visit in visits:
            with contextlib.suppress(OSError):
                request(
                    proxy.url,
                    "PUT",
                    f"/api/v1/visits/{visit['id']}",
                    org.tokens["shopper"],
                    visit,
                    timeout=5,
                )
    for visit in visits:
        assert push_until_acknowledged(server.url, org.tokens["shopper"], visit) in (200, 201)
    assert_exactly_once(data_dir, visits)


def test_same_visit_at_the_same_moment_on_two_workers_is_one_row(
    server: ServerProcess, org: Org, checklist: dict[str, Any], data_dir: Path
) -> None:
    visit = make_visit(checklist, org.locations["leeds"])
    barrier = threading.Barrier(8)
    statuses: list[int] = []

    def push() -> None:
        barrier.wait()
        statuses.append(
            request(
                server.url, "PUT", f"/api/v1/visits/{visit['id']}", org.tokens["shopper"], visit
            )[0]
        )

    threads = [threading.Thread(target=push) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] * 7 + [201]
    assert_exactly_once(data_dir, [visit])


def test_reordered_and_delayed_batches_store_each_visit_once(
    server: ServerProcess, org: Org, checklist: dict[str, Any], data_dir: Path
) -> None:
    visits = [make_visit(checklist, org.locations["york"]) for _ in range(60)]
    batches = [visits[i : i + 10] for i in range(0, 60, 10)]
    policy = flaky({"delay": 0.5, "duplicate": 0.2, "drop_response": 0.2})
    with FaultProxy(server.port, policy) as proxy:
        # Every batch is sent twice, concurrently, in shuffled order.
        order = batches * 2
        random.Random(3).shuffle(order)
        threads = [
            threading.Thread(
                target=lambda b=batch: _ignore_network(
                    lambda: request(
                        proxy.url,
                        "POST",
                        "/api/v1/sync/visits",
                        org.tokens["shopper"],
                        {"visits": b},
                    )
                )
            )
            for batch in order
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    status, body = request(
        server.url, "POST", "/api/v1/sync/visits", org.tokens["shopper"], {"visits": visits[:50]}
    )
    status2, body2 = request(
        server.url, "POST", "/api/v1/sync/visits", org.tokens["shopper"], {"visits": visits[50:]}
    )
    assert status == status2 == 200
    assert {r["status"] for r in body["results"] + body2["results"]} <= {200, 201}
    assert_exactly_once(data_dir, visits)


def _ignore_network(call: Any) -> None:
    with contextlib.suppress(OSError):
        call()


def test_sigkill_mid_batch_loses_nothing_acknowledged(
    server: ServerProcess, org: Org, checklist: dict[str, Any], data_dir: Path
) -> None:
    visits = [make_visit(checklist, org.locations["leeds"]) for _ in range(400)]
    acknowledged: set[str] = set()
    stop = threading.Event()

    def phone() -> None:
        for start in range(0, len(visits), 20):
            if stop.is_set():
                return
            batch = visits[start : start + 20]
            try:
                status, body = request(
                    server.url,
                    "POST",
                    "/api/v1/sync/visits",
                    org.tokens["shopper"],
                    {"visits": batch},
                    timeout=10,
                )
            except OSError:
                continue
            if status == 200:
                acknowledged.update(r["id"] for r in body["results"] if r["status"] in (200, 201))

    sender = threading.Thread(target=phone)
    sender.start()
    while not acknowledged and sender.is_alive():
        threading.Event().wait(0.01)
    server.kill()  # SIGKILL master and workers while batches are in flight
    stop.set()
    sender.join()
    survivors = stored_bodies(data_dir)
    assert acknowledged <= set(survivors), "an acknowledged visit was lost"
    server.start()
    for visit in visits:  # the phone retries everything it has not seen acknowledged
        if visit["id"] not in acknowledged:
            assert push_until_acknowledged(server.url, org.tokens["shopper"], visit) in (200, 201)
    assert_exactly_once(data_dir, visits)


def test_restart_keeps_state(
    server: ServerProcess, org: Org, checklist: dict[str, Any], data_dir: Path
) -> None:
    visit = make_visit(checklist, org.locations["leeds"])
    assert push_until_acknowledged(server.url, org.tokens["shopper"], visit) == 201
    server.restart()
    assert push_until_acknowledged(server.url, org.tokens["shopper"], visit) == 200
    backup = data_dir.parent / "copy"
    shutil.copytree(data_dir, backup)
    assert_exactly_once(backup, [visit])
