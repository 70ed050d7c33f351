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
import http.client
import json
import os
import random
import shutil
import socket
import socketserver
import sqlite3
import statistics
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, sync_playwright

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.serving import PASSWORD, Server

SEED = 20261123
PHOTO_SIZE = (4032, 3024)
# Chromium's own background traffic (updates, sync, field trials) must not leave this machine.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
]
PHONE: ViewportSize = {"width": 390, "height": 844}

# Added to every page before its own scripts: marks when the sign-in form and a usable home
# (an assignment's "Start visit" button) first reach the document, and each form submitted.
# The app's own "home-ready" mark is not used for this: it can fire before the lists are drawn.
MARKS_SCRIPT = """
(() => {
  const wanted = {
    "bench-sign-in-form": () => document.getElementById("username"),
    "bench-home-usable": () => [...document.querySelectorAll("#home-lists button")]
      .some((button) => button.textContent === "Start visit"),
  };
  const observer = new MutationObserver(() => {
    for (const [name, found] of Object.entries(wanted)) {
      if (found()) {
        performance.mark(name);
        delete wanted[name];
      }
    }
    if (!Object.keys(wanted).length) observer.disconnect();
  });
  observer.observe(document, { childList: true, subtree: true });
  document.addEventListener("submit", () => performance.mark("bench-submit"), true);
})();
"""
MARK = "(name) => performance.getEntriesByName(name)[0]?.startTime ?? null"
PARSED = "() => performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd"
# The app's modules, imported by URL: the same instances the page runs.
MODULES = """
const load = (name) => import(new URL(`js/${name}.js`, location.href).href);
"""
OUTBOX_BODY = f"""async () => {{
  {MODULES}
  const store = await load("store");
  const session = await store.meta("session");
  const entries = await store.byOwner("outbox", session.username);
  return entries.sort((a, b) => b.created_at - a.created_at)[0].body;
}}"""
RAW_PUT = """async (body) => {
  const db = await new Promise((resolve, reject) => {
    const request = indexedDB.open("bench-baseline", 1);
    request.onupgradeneeded = () => request.result.createObjectStore("outbox", { keyPath: "key" });
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  const started = performance.now();
  await new Promise((resolve, reject) => {
    // The app's own transactions ask for strict durability too.
    const t = db.transaction("outbox", "readwrite", { durability: "strict" });
    t.objectStore("outbox").put({ key: crypto.randomUUID(), body });
    t.oncomplete = resolve;
    t.onabort = () => reject(t.error);
  });
  const took = performance.now() - started;
  db.close();
  return took;
}"""
ADD_FILE_INPUT = """() => {
  const input = document.createElement("input");
  input.type = "file";
  input.id = "bench-photo";
  input.hidden = true;
  document.body.append(input);
}"""
PHOTO_COPIES = f"""async (runs) => {{
  {MODULES}
  const photos = await load("photos");
  const file = document.getElementById("bench-photo").files[0];
  const decode = async () => (await createImageBitmap(file, {{ imageOrientation: "from-image" }}))
    .close();
  await decode();
  let prepared = await photos.prepare(file);
  const copying = [];
  const decoding = [];
  for (let run = 0; run < runs; run += 1) {{
    let started = performance.now();
    await decode();
    decoding.push(performance.now() - started);
    started = performance.now();
    prepared = await photos.prepare(file);
    copying.push(performance.now() - started);
  }}
  return {{ picked: file.size, sent: prepared.size, type: prepared.content_type, copying,
    decoding }};
}}"""
# Drafts answered like a person would (every value item), put in the outbox by the app's own
# finish(): the same bytes "Finish" writes.
FILL_OUTBOX = f"""async ({{ count, locationId }}) => {{
  {MODULES}
  const [store, sync, util] = await Promise.all(["store", "sync", "util"].map(load));
  const owner = (await store.meta("session")).username;
  const checklist = sync.latestChecklist(await store.get("pull", owner), {{
    slug: "mystery-shop" }});
  const valueOf = (item) => ({{
    yes_no: true, choice: item.options?.[0]?.id, scale: item.max, duration: 65, number: 3,
    text: "Helpful and calm.",
  }})[item.type];
  const bodies = [];
  for (let n = 0; n < count; n += 1) {{
    const answers = {{}};
    for (const section of checklist.sections) {{
      for (const item of section.items) {{
        if (item.type === "photo") continue;
        answers[item.id] = {{ value: valueOf(item), na: false, comment: "", photos: [] }};
      }}
    }}
    const draft = {{
      id: util.uuid4(), owner, revision: 1, kind: checklist.kind,
      checklist: {{ slug: checklist.slug, version: checklist.version }},
      location_id: locationId, assignment_id: null,
      started_at: util.rfc3339(new Date(Date.now() - 1200000)), updated_at: Date.now(),
      answers, notes: "", label: {{ store: "Bench", title: checklist.title }},
    }};
    await store.put("drafts", draft);
    bodies.push((await sync.finish(draft, checklist, draft.label)).body);
  }}
  return bodies;
}}"""
# Notes when the network comes back, and keeps every request's timing from then on: the
# sync is timed from the page's own record of its requests, with nothing polling meanwhile.
WATCH_ONLINE = """() => {
  performance.clearResourceTimings();
  performance.setResourceTimingBufferSize(100000);
  window.benchOnline = new Promise((resolve) => {
    addEventListener("online", () => resolve(performance.now()), { once: true });
  });
}"""
# The ms from the network coming back to the answer of the last GET /api/v1/visits/<id>
# confirming one of these visits (the app then marks it done and it leaves the outbox).
LAST_CONFIRMED = """async (ids) => {
  const online = await window.benchOnline;
  const wanted = new Set(ids.map((id) => `/api/v1/visits/${id}`));
  const confirmations = performance.getEntriesByType("resource")
    .filter((entry) => wanted.has(new URL(entry.name).pathname));
  if (new Set(confirmations.map((entry) => entry.name)).size !== ids.length) {
    throw new Error("not every visit was confirmed");
  }
  return Math.max(...confirmations.map((entry) => entry.responseEnd)) - online;
}"""
SYNC_IDLE = f"""async () => {{
  {MODULES}
  const locks = await navigator.locks.query();
  if ([...locks.held, ...locks.pending].some((lock) => lock.name === "fieldobs-sync")) {{
    return false;
  }}
  const store = await load("store");
  const owner = (await store.meta("session")).username;
  return !(await store.byOwner("outbox", owner)).some((entry) => !entry.done);
}}"""
# The baseline: the same visits (new ids) sent with nothing but fetch and the app's token.
SEND_DIRECTLY = f"""async (bodies) => {{
  {MODULES}
  const store = await load("store");
  const headers = {{
    "Content-Type": "application/json",
    Authorization: `Bearer ${{(await store.meta("session")).token}}`,
  }};
  const renamed = () => bodies.map((body) => ({{ ...JSON.parse(body), id: crypto.randomUUID() }}));
  const one = renamed();
  let started = performance.now();
  for (const visit of one) {{
    const response = await fetch(`/api/v1/visits/${{visit.id}}`, {{
      method: "PUT", headers, body: JSON.stringify(visit) }});
    if (response.status !== 201) throw new Error(`PUT answered ${{response.status}}`);
  }}
  const putMs = performance.now() - started;
  const batch = renamed();
  started = performance.now();
  const response = await fetch("/api/v1/sync/visits", {{
    method: "POST", headers, body: JSON.stringify({{ visits: batch }}) }});
  const results = (await response.json()).results;
  const batchMs = performance.now() - started;
  if (results.filter((r) => r.status === 201).length !== batch.length) {{
    throw new Error(`batch: ${{JSON.stringify(results.slice(0, 2))}}`);
  }}
  return {{ putMs, batchMs }};
}}"""


def chromium_path() -> str:
    """Return the Chromium to drive, or exit saying how to install it."""
    for candidate in (os.environ.get("FIELDOBS_CHROMIUM"), "/usr/bin/chromium"):
        if candidate and Path(candidate).exists():
            return candidate
    found = shutil.which("chromium")
    if found is None:
        sys.exit("Chromium not found: apt-get install -y chromium (or set FIELDOBS_CHROMIUM)")
    return found


def call(server: Server, token: str, method: str, path: str, body: Any = None) -> Any:
    """Send one JSON request to the server's API and return its answer (raising on an error)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        conn.request(
            method,
            path,
            body=None if body is None else json.dumps(body),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        response = conn.getresponse()
        answer = json.loads(response.read() or b"null")
    finally:
        conn.close()
    if response.status >= 400:
        raise RuntimeError(f"{method} {path}: {response.status} {answer}")
    return answer


def give_shopper_assignments(server: Server, count: int) -> int:
    """Give the shopper `count` open mystery shops, each at a store of its own; return a store."""
    admin = server.token("admin")
    area = call(server, admin, "POST", "/api/v1/areas", {"name": "Bench"})["id"]
    now = datetime.now(UTC)
    store = 0
    for number in range(1, count + 1):
        store = call(
            server,
            admin,
            "POST",
            "/api/v1/locations",
            {"name": f"Store {number}", "area_id": area, "timezone": "Europe/London"},
        )["id"]
        window = {
            "window_start": (now - timedelta(hours=2)).isoformat(),
            "window_end": (now + timedelta(hours=20)).isoformat(),
        }
        call(
            server,
            admin,
            "POST",
            "/api/v1/assignments",
            {"shopper": "shopper", "location_id": store, "checklist": "mystery-shop", **window},
        )
    return int(store)


def write_phone_photo(path: Path) -> None:
    """Write a 12 MP JPEG (quality 95) of seeded noise over a gradient, about 6 MB."""
    rng = random.Random(SEED)
    noise = Image.frombytes("RGB", PHOTO_SIZE, rng.randbytes(PHOTO_SIZE[0] * PHOTO_SIZE[1] * 3))
    gradient = Image.linear_gradient("L").resize(PHOTO_SIZE).convert("RGB")
    # Mostly gradient: pure noise at quality 95 would be several times a camera's file.
    Image.blend(gradient, noise, 0.14).save(path, "JPEG", quality=95)


@dataclass
class WireCounts:
    """What a counting proxy sent back to the browser."""

    requests: int = 0
    total_bytes: int = 0
    body_bytes: int = 0


@contextmanager
def counting_proxy(upstream_port: int, *, uncompressed: bool) -> Iterator[tuple[str, WireCounts]]:
    """Forward HTTP requests to the server, counting the answers; yield its URL and the counts."""
    counts, lock = WireCounts(), threading.Lock()
    # One request per connection: the answer then ends where the connection does.
    dropped = {b"connection", b"accept-encoding"} if uncompressed else {b"connection"}

    class Forward(socketserver.StreamRequestHandler):
        """Pass one request on and its answer back."""

        def handle(self) -> None:
            """Forward one request, counting the bytes of its answer."""
            lines = [self.rfile.readline().rstrip(b"\r\n")]
            if not lines[0]:
                return  # a connection opened ahead of need, closed unused
            length = 0
            while line := self.rfile.readline().rstrip(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
                if name.strip().lower() not in dropped:
                    lines.append(line)
            lines.append(b"Connection: close")
            if uncompressed:
                lines.append(b"Accept-Encoding: identity")
            request = b"\r\n".join(lines) + b"\r\n\r\n" + self.rfile.read(length)
            with socket.create_connection(("127.0.0.1", upstream_port), timeout=30) as upstream:
                upstream.sendall(request)
                answer = upstream.makefile("rb").read()
            with lock:
                counts.requests += 1
                counts.total_bytes += len(answer)
                counts.body_bytes += len(answer) - answer.index(b"\r\n\r\n") - 4
            self.wfile.write(answer)

    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), Forward) as proxy:
        threading.Thread(target=proxy.serve_forever, daemon=True).start()
        try:
            yield f"http://127.0.0.1:{proxy.server_address[1]}", counts
        finally:
            proxy.shutdown()


def phone_context(browser: Browser) -> BrowserContext:
    """Open a fresh phone-sized context that marks when the app becomes usable."""
    context = browser.new_context(viewport=PHONE, device_scale_factor=2)
    context.add_init_script(MARKS_SCRIPT)
    return context


def wait_for_service_worker(page: Page) -> None:
    """Wait until the service worker controls the page (the shell is then kept offline)."""
    # Polled from here: the app's CSP forbids the eval that wait_for_function needs.
    for _ in range(300):
        if page.evaluate("() => !!navigator.serviceWorker?.controller"):
            return
        page.wait_for_timeout(100)
    raise RuntimeError("the service worker never took control of the page")


def shell_bytes(browser: Browser, server: Server, *, uncompressed: bool) -> WireCounts:
    """Load the shell through a counting proxy in a fresh context; return the counts."""
    with counting_proxy(server.port, uncompressed=uncompressed) as (url, counts):
        context = phone_context(browser)
        page = context.new_page()
        page.goto(f"{url}/app/")
        page.get_by_label("Username").wait_for()
        wait_for_service_worker(page)
        page.wait_for_load_state("networkidle")
        context.close()
    return counts


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
