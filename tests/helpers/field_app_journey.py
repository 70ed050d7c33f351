"""Steps of field-app journeys in a real browser, and the API client and proxy that check them."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from tests.helpers.app import PASSWORD, Org
from tests.helpers.fault_proxy import FaultProxy, _exchange

# Screenshots for people to look at; outside the repository on purpose.
SHOTS = Path("/tmp/fieldapp-shots")  # noqa: S108


@dataclass
class Api:
    """Calls to the server under test, as a given user."""

    base: str
    org: Org

    def call(self, method: str, path: str, user: str = "admin", **kw: Any) -> requests.Response:
        """Send one API request with the user's token."""
        return requests.request(
            method, f"{self.base}/api/v1/{path}", headers=self.org.auth(user), timeout=30, **kw
        )

    def json(self, path: str, user: str = "admin") -> Any:
        """GET a path and return its JSON (asserting 200)."""
        response = self.call("GET", path, user)
        assert response.status_code == 200, response.text
        return response.json()

    def assign(self, location_id: int, shopper: str = "shopper") -> dict[str, Any]:
        """Give the shopper an open assignment ending within a day (so it is due soon)."""
        now = datetime.now(UTC)
        response = self.call(
            "POST",
            "assignments",
            json={
                "shopper": shopper,
                "location_id": location_id,
                "checklist": "mystery-shop",
                "window_start": (now - timedelta(hours=2)).isoformat(),
                "window_end": (now + timedelta(hours=20)).isoformat(),
            },
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    def visits(self, user: str = "admin") -> list[dict[str, Any]]:
        """Return every visit the user sees."""
        return list(self.json("visits?limit=200", user)["visits"])


def sign_in(page: Any, base: str, username: str) -> None:
    """Open the app and sign in."""
    page.goto(f"{base}/app/")
    try:
        page.get_by_label("Username").wait_for(timeout=10_000)
    except Exception as error:
        raise AssertionError(page.content()) from error
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    try:
        page.get_by_text(f"Signed in as {username}").wait_for(timeout=10_000)
    except Exception as error:
        raise AssertionError(page.content()) from error


def wait_controlled(page: Any) -> None:
    """Wait until the service worker controls the page (the shell is then cached)."""
    # Polled from here: the app's CSP rightly forbids the eval that wait_for_function uses.
    wait_until(
        lambda: page.evaluate("() => !!navigator.serviceWorker?.controller"),
        what="the service worker to control the page",
    )


def item(page: Any, item_id: str) -> Any:
    """Return the fieldset of a checklist item."""
    return page.locator(f'[id="item-{item_id}"]')


def answer_all(page: Any, checklist: dict[str, Any], skip: tuple[str, ...] = ()) -> None:
    """Answer every item that takes a value, as a person would tap and type."""
    for section in checklist["sections"]:
        for it in section["items"]:
            if it["id"] in skip:
                continue
            box = item(page, it["id"])
            kind = it["type"]
            if kind == "yes_no":
                box.get_by_text("Yes", exact=True).click()
            elif kind == "choice":
                box.get_by_text(it["options"][0]["label"], exact=True).click()
            elif kind == "scale":
                box.locator("label.choice").last.click()
            elif kind == "duration":
                box.get_by_label("Seconds").fill("1:05")
            elif kind == "number":
                box.get_by_label("Figure").fill("3")
            elif kind == "text":
                box.locator("textarea").first.fill("Helpful and calm.")


def finish_visit(page: Any) -> None:
    """Tap "Finish visit" and wait for the home screen's lists."""
    page.get_by_role("button", name="Finish visit").click()
    page.locator("#outbox-h, #recent-h").first.wait_for()


def wait_submitted(page: Any) -> None:
    """Wait until a visit on the home screen shows as submitted (the page's text if never)."""
    try:
        page.locator(".card .state-submitted").first.wait_for(timeout=30_000)
    except Exception as error:
        raise AssertionError(page.inner_text("body")) from error


def add_photos(page: Any, item_id: str, paths: list[Path]) -> None:
    """Attach photo files to an item through its gallery input and wait for the previews."""
    box = item(page, item_id)
    box.locator("input[type=file]:not([capture])").set_input_files([str(p) for p in paths])
    box.locator("figure img").nth(len(paths) - 1).wait_for()


def shot(page: Any, name: str, *, full_page: bool = True) -> None:
    """Save a screenshot at phone width for a person to look at."""
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


def wait_until(check: Callable[[], Any], timeout: float = 30, what: str = "condition") -> Any:
    """Poll until check() returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


class CountingProxy(FaultProxy):
    """A fault proxy that also counts the bytes each way, per request line."""

    def __init__(self, upstream_port: int, policy: Callable[[bytes], str]) -> None:
        super().__init__(upstream_port, policy)
        self.sent_bodies: list[tuple[bytes, int]] = []  # (request line, body bytes forwarded)
        self.response_bytes = 0
        self.head_offsets: list[int] = []  # Upload-Offset of every tus HEAD answer

    def _act(self, conn: Any, request: bytes, action: str) -> None:
        line = request.split(b"\r\n", 1)[0]
        head_len = request.index(b"\r\n\r\n") + 4
        if action == "cut_request":
            forwarded = max(0, len(request) // 2 - head_len)
            with self._lock:
                self.sent_bodies.append((line, forwarded))
            super()._act(conn, request, action)
            return
        with self._lock:
            self.sent_bodies.append((line, len(request) - head_len))
        response = _exchange(self.upstream, request)
        with self._lock:
            self.response_bytes += len(response)
            if line.startswith(b"HEAD "):
                for header in response.split(b"\r\n\r\n")[0].split(b"\r\n"):
                    name, _, value = header.partition(b":")
                    if name.strip().lower() == b"upload-offset":
                        self.head_offsets.append(int(value))
        conn.sendall(response)
