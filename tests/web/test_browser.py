"""Each role's journey in a real browser (Chromium under Playwright), against a live server."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from tests.helpers.app import PASSWORD
from tests.helpers.browser import DESKTOP, PHONE


class Session:
    """A browser context signed in as someone, collecting console errors and failed loads."""

    def __init__(self, browser: Any, base: str, viewport: dict[str, int]) -> None:
        self.context = browser.new_context(viewport=viewport, accept_downloads=True)
        self.page = self.context.new_page()
        self.page.set_default_timeout(10_000)
        self.base = base
        self.errors: list[str] = []
        # Pages a test opens expecting an error status (Chromium logs their load as an error).
        self.expected: set[str] = set()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        # Everything stays on this machine: any request elsewhere is an error.
        self.context.route("**/*", self._only_local)

    def _console(self, message: Any) -> None:
        if message.type == "error" and message.location.get("url") not in self.expected:
            self.errors.append(f"{message.text} ({message.location.get('url')})")

    def _only_local(self, route: Any) -> None:
        if route.request.url.startswith(self.base):
            route.continue_()
        else:
            self.errors.append(f"request left the machine: {route.request.url}")
            route.abort()

    def sign_in(self, username: str) -> Any:
        page = self.page
        page.goto(self.base + "/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(PASSWORD)
        with page.expect_navigation():
            page.get_by_role("button", name="Sign in").click()
        return page


@pytest.fixture
def session(browser: Any, live: Any) -> Iterator[Any]:
    """Open browser contexts on the live server; fail the test on console errors."""
    opened: list[Session] = []

    def make(viewport: dict[str, int] = DESKTOP) -> Session:
        opened.append(Session(browser, live.url, viewport))
        return opened[-1]

    yield make
    errors = [error for s in opened for error in s.errors]
    for s in opened:
        s.context.close()
    assert errors == []


def test_area_lead_compares_stores_and_opens_a_visit(session: Any, live: Any) -> None:
    page = session().sign_in("lead")
    assert page.url.endswith("/areas/1")
    league = page.locator("#league-table")
    assert league.get_by_role("link", name="Leeds").is_visible()
    assert league.get_by_role("link", name="York").is_visible()
    assert page.get_by_role("img", name="Funnel plot: store average against visits").is_visible()
    page.get_by_label("Kind").select_option("walkthrough")
    page.get_by_role("button", name="Show").click()
    assert "kind=walkthrough" in page.url
    page.get_by_label("Kind").select_option("mystery_shop")
    page.get_by_role("button", name="Show").click()
    page.locator("#league-table").get_by_role("link", name="Leeds").click()
    assert page.get_by_role("heading", name="Leeds", exact=True).is_visible()
    page.get_by_role("region", name="Visits").get_by_role("link").first.click()
    assert page.get_by_role("heading", name="Visit at Leeds").is_visible()
    assert page.get_by_text("Section scores").is_visible()


def test_manager_opens_their_store_and_a_released_report_never_an_unreleased_one(
    session: Any, live: Any
) -> None:
    browsing = session(PHONE)
    page = browsing.sign_in("manager")
    assert page.url.endswith("/stores/1")
    page.goto(f"{live.url}/visits/{live.world.released_with_photos}")
    assert page.get_by_text("Waited by the till; nobody looked up.").is_visible()
    thumb = page.locator("ul.photos img").first
    assert thumb.evaluate("img => img.complete && img.naturalWidth > 0")
    assert "Observer-" in page.content()
    hidden = f"{live.url}/visits/{live.world.unreleased}"
    browsing.expected.add(hidden)
    response = page.goto(hidden)
    assert response is not None
    assert response.status == 404
    assert page.get_by_role("heading", name="Not found").is_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]  # nothing but the tables' own scrollers is wider


def test_admin_reviews_imports_exports_and_downloads_a_pdf(
    session: Any, live: Any, tmp_path: Path
) -> None:
    page = session().sign_in("admin")
    page.get_by_role("link", name="Review", exact=True).click()
    page.locator("table.queue").get_by_role("link", name="Review").first.click()
    assert page.get_by_role("heading", name="Review: Leeds").is_visible()
    # Keyboard only: open an item's comment box, type, then the note, then return the visit.
    summary = page.locator("#item-notes\\.summary summary")
    summary.focus()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    page.keyboard.type("Say what the queue was like.")
    page.get_by_label("Note for the shopper").focus()
    page.keyboard.type("Please add detail to the summary.")
    page.get_by_role("button", name="Return for correction").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.get_by_text("Returned to the shopper.").is_visible()
    page.goto(f"{live.url}/visits/{live.world.unreleased}")
    assert page.get_by_text("Say what the queue was like.").is_visible()

    page.goto(f"{live.url}/admin/assignments")
    text = "shopper,location_id,checklist,window_start,window_end\n"
    text += "shopper2,4,mystery-shop,2031-03-01,2031-03-07\n"
    page.get_by_label("CSV file").set_input_files(
        files=[{"name": "a.csv", "mimeType": "text/csv", "buffer": text.encode()}]
    )
    page.get_by_role("button", name="Import").click()
    assert page.get_by_text("1 assignments imported.").is_visible()
    assert page.get_by_role("rowheader", name="Dublin").first.is_visible()

    page.goto(f"{live.url}/areas/1")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="visits (CSV)").click()
    saved = tmp_path / "visits.csv"
    download_info.value.save_as(saved)
    raw = saved.read_bytes()
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows
    assert {row["area"] for row in rows} == {"North"}
    assert any(row["store"].startswith("'=HYPERLINK") for row in rows)

    page.goto(f"{live.url}/visits/{live.world.released_with_photos}")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download as PDF").click()
    pdf_path = tmp_path / "report.pdf"
    download_info.value.save_as(pdf_path)
    reader = PdfReader(pdf_path)
    text_all = "\n".join(p.extract_text() for p in reader.pages)
    assert "Visit at Leeds" in text_all
    assert "Waited by the till; nobody looked up." in text_all
    assert any(p.images for p in reader.pages)


def test_form_without_csrf_token_is_refused_in_the_browser(session: Any, live: Any) -> None:
    browsing = session()
    page = browsing.sign_in("admin")
    browsing.expected.add(f"{live.url}/admin/people/6/disable")
    page.evaluate(
        """() => {
            const form = document.createElement('form');
            form.method = 'post';
            form.action = '/admin/people/6/disable';
            document.body.appendChild(form);
            form.submit();
        }"""
    )
    page.wait_for_url("**/admin/people/6/disable")
    assert page.get_by_role("heading", name="The form could not be accepted").is_visible()
    page.goto(f"{live.url}/admin/people")
    assert "disabled" not in page.locator("tbody tr", has_text="shopper2").inner_text()


def test_pages_work_without_javascript(browser: Any, live: Any) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(live.url + "/")
    page.get_by_label("Username").fill("lead")
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("heading", name="League table").is_visible()
    page.get_by_label("Period", exact=True).select_option("week")
    with page.expect_navigation():
        page.get_by_role("button", name="Show").click()
    assert "grain=week" in page.url
    context.close()


PHONE_PAGES = [
    "/areas",
    "/areas/1",
    "/stores",
    "/stores/1",
    "/admin/review",
    "/admin/assignments",
    "/admin/stores",
    "/admin/people",
    "/admin/calibration",
    "/admin/webhooks",
    "/admin/jobs",
    "/account",
]


def test_pages_fit_a_phone(session: Any, live: Any) -> None:
    page = session({"width": 360, "height": 740}).sign_in("admin")
    wider = {}
    for path in PHONE_PAGES:
        page.goto(live.url + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > 360:
            wider[path] = width
    assert wider == {}  # wide tables scroll inside their own box; the page never does
