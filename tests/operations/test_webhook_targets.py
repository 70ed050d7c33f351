"""Webhook URLs inside the network are refused at registration and again at delivery, after
resolution (DNS rebinding), before any connection is made; host names go through the test's
resolver (no DNS query), and the delivery connects to the address that was checked."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from fieldobs.operations.webhook_targets import TargetPolicy, check_url
from fieldobs.timeutil import utcnow
from tests.helpers.app import Org, reconfigure
from tests.helpers.ops_factory import Receiver, checklist, push, run_job, visit_now
from tests.helpers.resolver import PUBLIC, StubResolver
from tests.helpers.server_process import free_port

INSIDE = [
    "http://127.0.0.1/hook",
    "http://127.1/hook",
    "http://2130706433/hook",
    "http://0x7f000001/hook",
    "http://0177.0.0.1/hook",
    "http://localhost:8080/hook",
    "http://LOCALHOST./hook",
    "http://api.localhost/hook",
    "http://10.1.2.3/hook",
    "http://172.16.0.9/hook",
    "http://192.168.1.1/hook",
    "http://100.64.0.1/hook",
    "http://[::1]/hook",
    "http://[fc00::5]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://[::ffff:10.0.0.1]/hook",
]
NEVER = [
    "http://169.254.169.254/latest/meta-data/",
    "http://[::ffff:169.254.169.254]/",
    "http://[64:ff9b::a9fe:a9fe]/",
    "http://[fe80::1]/hook",
    "http://0/hook",
    "http://0.0.0.0/hook",
    "http://[::]/hook",
    "http://224.0.0.1/hook",
    "http://240.0.0.1/hook",
]
RESOLVED_INSIDE = {
    "intranet.example.com": ["10.0.0.7"],
    "metadata.example.com": ["169.254.169.254"],
    "mixed.example.com": [PUBLIC, "127.0.0.1"],
    "six.example.com": ["::1"],
}


def register(client: FlaskClient, org: Org, url: str, **extra: Any) -> Any:
    """POST a webhook as the admin; return the response."""
    return client.post(
        "/api/v1/webhooks",
        json={"url": url, "events": ["visit.released"], **extra},
        headers=org.auth("admin"),
    )


@pytest.fixture
def resolver(app: Flask) -> StubResolver:
    """Resolve the example names from a table the test can change."""
    stub = StubResolver(RESOLVED_INSIDE)
    reconfigure(app, WEBHOOK_RESOLVER=stub)
    return stub


@pytest.mark.parametrize("url", INSIDE + NEVER)
def test_a_literal_address_inside_the_network_is_refused_without_resolving(
    client: FlaskClient, org: Org, resolver: StubResolver, connections: list[Any], url: str
) -> None:
    response = register(client, org, url)
    assert response.status_code == 422, response.get_json()
    assert set(response.get_json()["error"]["fields"]) == {"url"}
    assert resolver.asked == []  # read as a number or a local name: no resolver asked
    assert connections == []


@pytest.mark.parametrize("name", sorted(RESOLVED_INSIDE))
def test_a_name_resolving_inside_the_network_is_refused(
    client: FlaskClient, org: Org, resolver: StubResolver, connections: list[Any], name: str
) -> None:
    response = register(client, org, f"https://{name}/hook")
    assert response.status_code == 422
    [problem] = response.get_json()["error"]["fields"]["url"]
    assert problem.startswith(f"{name} resolves to an address")
    assert resolver.asked == [name]
    assert connections == []


def test_a_public_name_is_accepted(client: FlaskClient, org: Org, resolver: StubResolver) -> None:
    assert register(client, org, "https://hooks.example.com/in").status_code == 201


def test_a_name_that_does_not_resolve_is_422(
    client: FlaskClient, org: Org, resolver: StubResolver
) -> None:
    response = register(client, org, "https://nowhere.invalid/hook")
    assert response.status_code == 422
    assert "does not resolve" in response.get_json()["error"]["fields"]["url"][0]


@pytest.mark.parametrize("url", INSIDE)
def test_the_setting_allows_private_targets(url: str) -> None:
    policy = TargetPolicy(allow_private=True, resolver=StubResolver())
    assert check_url(url, policy) == []


@pytest.mark.parametrize("url", NEVER)
def test_link_local_and_unspecified_stay_refused_with_the_setting(url: str) -> None:
    policy = TargetPolicy(allow_private=True, resolver=StubResolver())
    assert check_url(url, policy) != []


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/x",
        "not a url",
        "http://user:pw@example.com/",
        "http://[::1/",
        "http:///x",
    ],
)
def test_malformed_urls_are_refused(url: str) -> None:
    assert check_url(url, TargetPolicy(resolver=StubResolver())) != []


def test_two_bad_fields_are_named_together(client: FlaskClient, org: Org) -> None:
    response = client.post(
        "/api/v1/webhooks",
        json={"url": "http://169.254.169.254/", "events": ["visit.nope"], "audience": "store"},
        headers=org.auth("admin"),
    )
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"url", "events.0", "audience"}


def pushed_and_released(client: FlaskClient, org: Org) -> None:
    """Make one visit.released event."""
    visit = visit_now(checklist(client, org), org.locations["leeds"])
    assert push(client, org, visit).status_code == 201
    released = client.post(
        f"/api/v1/visits/{visit['id']}/review",
        json={"action": "release"},
        headers=org.auth("admin"),
    )
    assert released.status_code == 200


def last_attempt(client: FlaskClient, org: Org, hook_id: int) -> dict[str, Any]:
    """Return the newest attempt logged for a subscription."""
    log = client.get(f"/api/v1/webhooks/{hook_id}/deliveries", headers=org.auth("admin"))
    attempt: dict[str, Any] = log.get_json()["deliveries"][0]["log"][-1]
    return attempt


@pytest.mark.parametrize("rebound", [["127.0.0.1"], ["169.254.169.254"], [PUBLIC, "10.0.0.1"]])
def test_a_name_rebound_inside_the_network_is_refused_at_delivery(
    app: Flask,
    client: FlaskClient,
    org: Org,
    resolver: StubResolver,
    connections: list[Any],
    rebound: list[str],
) -> None:
    with Receiver() as receiver:
        port = receiver.server.server_address[1]
        resolver.table["rebind.example.com"] = [PUBLIC]
        made = register(client, org, f"http://rebind.example.com:{port}/hook", audience="agency")
        assert made.status_code == 201
        pushed_and_released(client, org)
        resolver.table["rebind.example.com"] = rebound  # the attacker's DNS answers anew
        run_job(app, "deliver_webhooks", utcnow() + timedelta(seconds=1))
        assert connections == []  # refused before any connection was made
        assert receiver.received == []
    attempt = last_attempt(client, org, made.get_json()["id"])
    assert attempt["status_code"] is None
    assert attempt["error"].startswith("refused: rebind.example.com resolves to an address")


def test_a_refusal_reads_the_same_whatever_listens_there(
    app: Flask, client: FlaskClient, org: Org, resolver: StubResolver, connections: list[Any]
) -> None:
    with Receiver() as receiver:
        open_port, closed_port = receiver.server.server_address[1], free_port()
        resolver.table["a.example.com"] = [PUBLIC]
        hooks = [
            register(client, org, f"http://a.example.com:{port}/", audience="agency").get_json()
            for port in (open_port, closed_port)
        ]
        pushed_and_released(client, org)
        resolver.table["a.example.com"] = ["127.0.0.1"]
        run_job(app, "deliver_webhooks", utcnow() + timedelta(seconds=1))
    assert connections == []
    errors = {last_attempt(client, org, h["id"])["error"] for h in hooks}
    durations = {last_attempt(client, org, h["id"])["duration_ms"] for h in hooks}
    assert len(errors) == 1  # no port scan: an open and a closed port look alike
    assert durations == {0}


def test_delivery_connects_to_the_checked_address_naming_the_host(
    app: Flask, client: FlaskClient, org: Org, resolver: StubResolver, connections: list[Any]
) -> None:
    reconfigure(app, WEBHOOK_ALLOW_PRIVATE_TARGETS=True, WEBHOOK_RESOLVER=resolver)
    resolver.table["receiver.example.com"] = ["127.0.0.1"]
    with Receiver() as receiver:
        port = receiver.server.server_address[1]
        made = register(
            client, org, f"http://receiver.example.com:{port}/in?x=1", audience="agency"
        )
        assert made.status_code == 201
        pushed_and_released(client, org)
        resolver.asked.clear()
        run_job(app, "deliver_webhooks", utcnow() + timedelta(seconds=1))
        [request] = receiver.received
    assert request.path == "/in?x=1"
    assert request.headers["Host"] == f"receiver.example.com:{port}"
    assert resolver.asked == ["receiver.example.com"]  # resolved once, then that address used
    assert connections == [("127.0.0.1", port)]


def test_with_the_setting_a_closed_port_reads_could_not_connect(
    app: Flask, client: FlaskClient, org: Org
) -> None:
    reconfigure(app, WEBHOOK_ALLOW_PRIVATE_TARGETS=True)
    made = register(client, org, f"http://127.0.0.1:{free_port()}/", audience="agency")
    pushed_and_released(client, org)
    run_job(app, "deliver_webhooks", utcnow() + timedelta(seconds=1))
    attempt = last_attempt(client, org, made.get_json()["id"])
    assert (attempt["status_code"], attempt["error"]) == (None, "could not connect")


def test_https_to_an_endpoint_without_tls_reads_tls_failed(
    app: Flask, client: FlaskClient, org: Org
) -> None:
    reconfigure(app, WEBHOOK_ALLOW_PRIVATE_TARGETS=True)
    with Receiver() as plain:
        port = plain.server.server_address[1]
        made = register(client, org, f"https://127.0.0.1:{port}/", audience="agency")
        pushed_and_released(client, org)
        run_job(app, "deliver_webhooks", utcnow() + timedelta(seconds=1))
    attempt = last_attempt(client, org, made.get_json()["id"])
    assert (attempt["status_code"], attempt["error"]) == (
        None,
        "TLS failed (certificate or protocol)",
    )
