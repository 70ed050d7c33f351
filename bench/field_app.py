"""The field app (/app/) in a real Chromium: what it costs a phone, each against a baseline.

Run: .venv/bin/python bench/field_app.py [--runs 9] [--visits 50]

One gunicorn (bench/serving.py: 4 workers x 2 threads, a temporary data directory, a shopper
with open mystery shops) and one headless Chromium (Debian's, driven by Playwright at
390 x 844), both on 127.0.0.1. Times are medians of --runs (with the fastest and slowest),
taken inside the page (performance.now and marks) so Playwright's round trips are left out;
every baseline is measured in the same run, in the same browser, against the same server:
1. first load of the shell, until the service worker controls the page and the network is
   idle: bytes on the wire (headers and bodies, as served: gzip) against the same requests
   asking for no compression, counted by a proxy; and the time from opening to a usable home
   (sign-in form, then sign-in to "Start visit" on screen) in a fresh context against opening
   a trivial page of the same origin (GET /healthz) in a fresh context;
2. opening the app signed in, offline (the service worker's copy) to a usable home, against
   the same open online (the shell comes from the same copy; the sync starts once home is
   drawn) and against the trivial page;
3. "Finish" to the visit in the outbox (IndexedDB; the app's window.fieldapp.finishMs), against
   a raw IndexedDB put of the same visit JSON (same durability) in the same page;
4. a 12 MP photo (4032 x 3024 JPEG, quality 95, seeded noise, about 6 MB): the bytes of the
   copy the app sends against the bytes picked, and the time the app takes to make that copy
   (photos.js prepare: decode, scale to 2048 px, encode, EXIF, SHA-256) against just decoding
   the file (createImageBitmap) in the same page;
5. syncing an outbox of --visits visits, made by the app's own finish() from drafts, from the
   network coming back to the server's answer confirming the last of them (the page's
   Resource Timing): visits/s against the same visits PUT one by one with fetch from the page
   (and, for information, POSTed as one batch); the server must then hold each visit once.
Chromium: apt-get install -y chromium (FIELDOBS_CHROMIUM names another build).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.field_app_scripts import (
    ADD_FILE_INPUT,
    FILL_OUTBOX,
    LAST_CONFIRMED,
    MARK,
    OUTBOX_BODY,
    PARSED,
    PHOTO_COPIES,
    RAW_PUT,
    SEND_DIRECTLY,
    SYNC_IDLE,
    WATCH_ONLINE,
)
from bench.field_app_setup import (
    CHROMIUM_ARGS,
    PHONE,
    PHOTO_SIZE,
    call,
    chromium_path,
    give_shopper_assignments,
    phone_context,
    shell_bytes,
    wait_for_service_worker,
    write_phone_photo,
)
from bench.serving import PASSWORD, Server


def sign_in(page: Page) -> None:
    """Sign in as the shopper on the sign-in form and wait for a usable home."""
    page.get_by_label("Username").fill("shopper")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Start visit").first.wait_for()


def trivial_page_ms(page: Page, server: Server) -> float:
    """Open GET /healthz (a few bytes of JSON) and return the ms to its document parsed."""
    page.goto(f"{server.url}/healthz")
    return float(page.evaluate(PARSED))


def first_load_ms(browser: Browser, server: Server) -> tuple[float, float, float]:
    """Open the app in a fresh context, sign in; return ms to the form, to home, and baseline."""
    context = phone_context(browser)
    page = context.new_page()
    baseline = trivial_page_ms(page, server)
    context.close()
    context = phone_context(browser)
    page = context.new_page()
    page.goto(f"{server.url}/app/")
    page.get_by_label("Username").wait_for()
    sign_in(page)
    to_form = float(page.evaluate(MARK, "bench-sign-in-form"))
    to_home = page.evaluate(MARK, "bench-home-usable") - page.evaluate(MARK, "bench-submit")
    context.close()
    return to_form, float(to_home), baseline


def open_home_ms(page: Page, server: Server) -> tuple[float, float]:
    """Open the app signed in; return the ms to a usable home and to the app's home-ready mark."""
    page.goto(f"{server.url}/app/")
    page.get_by_role("button", name="Start visit").first.wait_for()
    return float(page.evaluate(MARK, "bench-home-usable")), float(page.evaluate(MARK, "home-ready"))


def answer_as_a_person(page: Page, checklist: dict[str, Any]) -> None:
    """Tap and type an answer to every item of the form that takes a value."""
    for section in checklist["sections"]:
        for item in section["items"]:
            box = page.locator(f'[id="item-{item["id"]}"]')
            match item["type"]:
                case "yes_no":
                    box.get_by_text("Yes", exact=True).click()
                case "choice":
                    box.get_by_text(item["options"][0]["label"], exact=True).click()
                case "scale":
                    box.locator("label.choice").last.click()
                case "duration":
                    box.get_by_label("Seconds").fill("1:05")
                case "number":
                    box.get_by_label("Figure").fill("3")
                case "text":
                    box.locator("textarea").first.fill("Helpful and calm.")


def finish_ms(page: Page, server: Server, checklist: dict[str, Any]) -> tuple[float, float, int]:
    """Do one visit offline and Finish it; return its ms, a raw put's ms and the JSON's size."""
    page.goto(f"{server.url}/app/")
    page.get_by_role("button", name="Start visit").first.click()
    page.get_by_role("button", name="Finish visit").wait_for()
    answer_as_a_person(page, checklist)
    page.get_by_role("button", name="Finish visit").click()
    page.locator("#outbox-h").wait_for()
    took = float(page.evaluate("() => window.fieldapp.finishMs"))
    body = str(page.evaluate(OUTBOX_BODY))
    return took, float(page.evaluate(RAW_PUT, body)), len(body.encode())


def wait_until_synced(page: Page) -> None:
    """Wait until the server confirmed every outbox entry and no sync is running."""
    for _ in range(600):
        if page.evaluate(SYNC_IDLE):
            return
        page.wait_for_timeout(100)
    raise RuntimeError("the outbox did not empty within a minute")


def sync_round(
    page: Page, context: BrowserContext, store: int, visits: int
) -> tuple[float, float, float]:
    """Fill the outbox offline, go online; return ms for the app, PUT one by one, one batch."""
    context.set_offline(True)
    bodies = page.evaluate(FILL_OUTBOX, {"count": visits, "locationId": store})
    page.evaluate(WATCH_ONLINE)
    context.set_offline(False)
    wait_until_synced(page)
    app_ms = float(page.evaluate(LAST_CONFIRMED, [json.loads(body)["id"] for body in bodies]))
    direct = page.evaluate(SEND_DIRECTLY, bodies)
    return app_ms, float(direct["putMs"]), float(direct["batchMs"])


def spread(values: Sequence[float]) -> str:
    """Return the median of some times with the fastest and slowest, for a table."""
    return f"{statistics.median(values):8.1f} ({min(values):.1f}-{max(values):.1f})"


def ratio(ours: Sequence[float], baseline: Sequence[float]) -> str:
    """Return the ratio of two medians, aligned with the medians."""
    return f"{statistics.median(ours) / statistics.median(baseline):8.2f}"


def row(label: str, figure: str) -> None:
    """Print one line of a table."""
    print(f"   {label:<40}{figure}")


def measure_shell(browser: Browser, server: Server, runs: int) -> None:
    """Print the shell's first load: bytes against no compression, time against /healthz."""
    served = shell_bytes(browser, server, uncompressed=False)
    raw = shell_bytes(browser, server, uncompressed=True)
    print("\n1. first load of the app shell (until the service worker controls the page)")
    for label, counts in (
        ("on the wire as served (gzip)", served),
        ("the same, asking for none", raw),
    ):
        row(label, f"{counts.total_bytes:8,} bytes ({counts.body_bytes:,} of bodies,"
                   f" {counts.requests} requests)")  # fmt: skip
    row("ratio served / uncompressed", f"{served.total_bytes / raw.total_bytes:8.2f}")
    to_form, to_home, trivial = [], [], []
    for _ in range(runs):
        form_ms, home_ms, baseline_ms = first_load_ms(browser, server)
        to_form.append(form_ms)
        to_home.append(home_ms)
        trivial.append(baseline_ms)
    together = [a + b for a, b in zip(to_form, to_home, strict=True)]
    print("   time in a fresh context, online (ms):")
    row("open to the sign-in form", spread(to_form))
    row("sign-in to a usable home", spread(to_home))
    row("the two together", spread(together))
    row("baseline: GET /healthz parsed", spread(trivial))
    row("ratio together / baseline", ratio(together, trivial))


def measure_opening(page: Page, context: BrowserContext, server: Server, runs: int) -> None:
    """Print opening the app signed in, offline and online, against /healthz (same context)."""
    offline, online, ready_mark, trivial = [], [], [], []
    for _ in range(runs):
        trivial.append(trivial_page_ms(page, server))
        online.append(open_home_ms(page, server)[0])
        context.set_offline(True)
        usable, mark = open_home_ms(page, server)
        offline.append(usable)
        ready_mark.append(mark)
        context.set_offline(False)
    print("\n2. opening the app signed in to a usable home ('Start visit' on screen), ms")
    row("offline (the service worker's copy)", spread(offline))
    row("online", spread(online))
    row("baseline: GET /healthz parsed", spread(trivial))
    row("ratio offline / online", ratio(offline, online))
    row("ratio offline / GET /healthz", ratio(offline, trivial))
    # The figure the browser tests print; it comes before the lists are drawn.
    row("the app's own 'home-ready' mark, offline", spread(ready_mark))


def measure_finish(
    page: Page, context: BrowserContext, server: Server, checklist: dict[str, Any], runs: int
) -> None:
    """Print "Finish" to the outbox, offline, against a raw IndexedDB put of the same JSON."""
    context.set_offline(True)
    finishing, raw_put, sizes = [], [], []
    for _ in range(runs):
        took, put_ms, size = finish_ms(page, server, checklist)
        finishing.append(took)
        raw_put.append(put_ms)
        sizes.append(size)
    context.set_offline(False)
    wait_until_synced(page)
    print("\n3. 'Finish' to the visit in the outbox (IndexedDB), offline, ms")
    row("the app (window.fieldapp.finishMs)", spread(finishing))
    row(f"baseline: put of its {max(sizes):,} B JSON", spread(raw_put))
    row("ratio", ratio(finishing, raw_put))


def measure_photo(page: Page, photo: Path, runs: int) -> None:
    """Print the copy of a 12 MP photo the app sends, against the file and a plain decode."""
    page.evaluate(ADD_FILE_INPUT)
    page.locator("#bench-photo").set_input_files(str(photo))
    copies = page.evaluate(PHOTO_COPIES, runs)
    print(f"\n4. a 12 MP photo ({PHOTO_SIZE[0]} x {PHOTO_SIZE[1]} JPEG, quality 95)")
    row("bytes picked", f"{copies['picked']:12,}")
    row(f"bytes the app sends ({copies['type']})", f"{copies['sent']:12,}")
    row("ratio sent / picked", f"{copies['sent'] / copies['picked']:12.2f}")
    row("ms making the copy (prepare)", spread(copies["copying"]))
    row("baseline: ms decoding it", spread(copies["decoding"]))
    row("ratio", ratio(copies["copying"], copies["decoding"]))


def measure_sync(page: Page, context: BrowserContext, store: int, runs: int, visits: int) -> None:
    """Print the app syncing an outbox, against the same visits sent with fetch."""
    app_sync, one_by_one, one_batch = [], [], []
    for _ in range(runs):
        app_ms, put_ms, batch_ms = sync_round(page, context, store, visits)
        app_sync.append(app_ms)
        one_by_one.append(put_ms)
        one_batch.append(batch_ms)

    def rate(times: Sequence[float]) -> str:
        return f"  {visits * 1000 / statistics.median(times):6.0f} visits/s"

    print(f"\n5. syncing an outbox of {visits} visits, ms (network back to every one confirmed)")
    row("the app", spread(app_sync) + rate(app_sync))
    row("baseline: a PUT each, with fetch", spread(one_by_one) + rate(one_by_one))
    row("for information: one POST, fetch", spread(one_batch) + rate(one_batch))
    row("ratio of visits/s, app / PUT", ratio(one_by_one, app_sync))


def stored_visits(server: Server) -> tuple[int, int]:
    """Return how many visit rows the server's database holds, and how many distinct ids."""
    conn = sqlite3.connect(server.data_dir / "fieldobs.db")
    try:
        rows, ids = conn.execute("SELECT count(*), count(DISTINCT id) FROM visits").fetchone()
    finally:
        conn.close()
    return int(rows), int(ids)


def main() -> None:
    """Start a server and a browser, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=9, help="runs per median (9)")
    parser.add_argument("--visits", type=int, default=50, help="visits in the outbox synced (50)")
    args = parser.parse_args()
    executable = chromium_path()
    photo_dir = Path(tempfile.mkdtemp(prefix="fieldobs-field-app-bench-"))
    try:
        photo = photo_dir / "IMG_0042.jpg"
        write_phone_photo(photo)
        with Server() as server, sync_playwright() as playwright:
            # One more mystery shop than the Finish runs use: home then always has one to start.
            store = give_shopper_assignments(server, args.runs + 1)
            shopper = server.token("shopper")
            checklist = call(server, shopper, "GET", "/api/v1/checklists/mystery-shop")
            browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            print(f"Chromium {browser.version} headless at {PHONE['width']} x {PHONE['height']},"
                  f" gunicorn {server.workers} workers x {server.threads} threads on 127.0.0.1;"
                  f" medians of {args.runs} runs (fastest-slowest)")  # fmt: skip
            measure_shell(browser, server, args.runs)
            context = phone_context(browser)
            page = context.new_page()
            page.goto(f"{server.url}/app/")
            sign_in(page)
            wait_for_service_worker(page)
            measure_opening(page, context, server, args.runs)
            measure_finish(page, context, server, checklist, args.runs)
            measure_photo(page, photo, args.runs)
            measure_sync(page, context, store, args.runs, args.visits)
            browser.close()
            # Every visit finished, synced or PUT arrived once: the app's and the baselines'.
            expected = args.runs + 3 * args.runs * args.visits
            held = stored_visits(server)
            if held != (expected, expected):
                raise RuntimeError(f"the server holds {held} (rows, ids), not {expected} each")
            print(f"\nthe server holds the {expected:,} visits sent, each once")
    finally:
        shutil.rmtree(photo_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
