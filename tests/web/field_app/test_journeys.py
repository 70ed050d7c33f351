"""The field app's journeys in a real browser, each checked on the server afterwards."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import requests

from tests.helpers.browser import CHROMIUM_ARGS, PHONE, chromium_path
from tests.helpers.fault_proxy import always
from tests.helpers.field_app_journey import (
    Api,
    CountingProxy,
    add_photos,
    answer_all,
    finish_visit,
    item,
    shot,
    sign_in,
    wait_controlled,
    wait_submitted,
    wait_until,
)
from tests.helpers.figures import Figures
from tests.helpers.photo_factory import jpeg
from tests.helpers.server_process import stored_bodies
from tests.helpers.visit_factory import make_visit

UPLOADS = b"PATCH /api/v1/uploads/"


def test_first_load_of_the_shell_is_small(phone: Any, server: Any, figures: Figures) -> None:
    with CountingProxy(server.port, always("forward")) as proxy:
        context, console = phone()
        page = context.new_page()
        page.goto(f"{proxy.url}/app/")
        page.get_by_label("Username").wait_for()
        wait_controlled(page)
        page.wait_for_load_state("networkidle")
        shot(page, "01-sign-in")
        transferred = proxy.response_bytes
    figures["first load of the app shell (bytes on the wire, gzip)"] = transferred
    assert transferred < 150_000
    assert console.errors == []


def test_cut_photo_upload_resumes_from_the_servers_offset(
    phone: Any, server: Any, api: Api, org: Any, tmp_path: Path, figures: Figures
) -> None:
    api.assign(org.locations["york"])
    checklist = api.json("checklists/mystery-shop")
    big = tmp_path / "IMG_0042.jpg"
    big.write_bytes(jpeg(4032, 3024, seed=6, quality=95))
    cut: list[bytes] = []

    def cut_first_photo_chunk(request: bytes) -> str:
        body = request.partition(b"\r\n\r\n")[2]
        if request.startswith(UPLOADS) and body and not cut:
            cut.append(request)
            return "cut_request"
        return "forward"

    with CountingProxy(server.port, cut_first_photo_chunk) as proxy:
        context, _console = phone()
        page = context.new_page()
        sign_in(page, proxy.url, "shopper")
        page.get_by_role("button", name="Start visit").click()
        answer_all(page, checklist)
        add_photos(page, "notes.queue_photo", [big])
        finish_visit(page)
        wait_submitted(page)
        patched = sum(n for line, n in proxy.sent_bodies if line.startswith(UPLOADS[:-1]))
        offsets = proxy.head_offsets
    assert cut, "no upload was cut"
    [visit] = api.visits()
    [photo] = visit["photos"]
    assert photo["state"] == "received"
    assert visit["status"] == "submitted"
    size = next(p["size"] for p in stored_bodies(server.data_dir)[visit["id"]][0]["photos"])
    figures["12 MP photo (noisy worst case): bytes picked"] = big.stat().st_size
    figures["12 MP photo: bytes the app sends (2048 px JPEG copy)"] = size
    figures["12 MP photo: PATCH body bytes the server got, with one cut"] = patched
    # The server kept what arrived before the cut; the app asked where (HEAD) and went on.
    assert any(0 < offset < size for offset in offsets), offsets
    assert patched < 1.5 * size
    assert size < 0.5 * big.stat().st_size  # the phone sent a shrunk copy, not 12 MP


def test_draft_survives_reload_and_two_finishes_send_one_visit(
    phone: Any, server: Any, api: Api, org: Any, photo_files: list[Path]
) -> None:
    api.assign(org.locations["leeds"])
    checklist = api.json("checklists/mystery-shop")
    context, _console = phone()
    page = context.new_page()
    sign_in(page, server.url, "shopper")
    page.get_by_role("button", name="Start visit").click()
    box = item(page, "greeting.eye_contact_and_welcome")
    box.get_by_text("Only one of the two").click()
    item(page, "greeting.acknowledged_in_time").get_by_label("Seconds").fill("95")
    item(page, "notes.summary").locator("textarea").first.fill("Queue of four at the till.")
    page.reload()
    page.get_by_role("button", name="Finish visit").wait_for()
    assert box.get_by_label("Only one of the two").is_checked()
    assert item(page, "greeting.acknowledged_in_time").get_by_label("Seconds").input_value() == "95"
    shot(page, "03-form-draft-restored", full_page=False)

    # Finish with nothing else answered: the error summary takes focus and links to the items.
    page.get_by_role("button", name="Finish visit").click()
    summary = page.locator(".error-summary")
    summary.wait_for()
    shot(page, "07-form-error-summary", full_page=False)
    assert page.evaluate("document.activeElement.classList.contains('error-summary')")
    summary.get_by_role("link").first.click()
    assert page.evaluate("document.activeElement.closest('fieldset').id") == (
        "item-greeting.returning_customer_recognised"
    )
    shot(page, "07-form-error-jump", full_page=False)

    item(page, "greeting.returning_customer_recognised").get_by_label("Not applicable").check()
    # A photo taken by mistake is deleted: it is neither in the manifest nor on the server.
    add_photos(page, "notes.queue_photo", photo_files[1:])
    item(page, "notes.queue_photo").get_by_role("button", name="Delete photo 1").click()
    item(page, "notes.queue_photo").locator("figure").wait_for(state="detached")
    wait = item(page, "policy_friction.system_wait")
    wait.get_by_role("button", name="Start timer").click()
    page.wait_for_timeout(1100)
    wait.get_by_role("button", name="Stop timer").click()
    owner = item(page, "ownership.took_ownership")
    owner.get_by_text("Comment", exact=True).click()
    owner.get_by_label("Comment on this item").fill("Walked me to the right desk.")
    answer_all(
        page,
        checklist,
        skip=(
            "greeting.eye_contact_and_welcome",
            "greeting.acknowledged_in_time",
            "greeting.returning_customer_recognised",
            "policy_friction.system_wait",
        ),
    )
    # A second tab on the same draft, and two taps: both try to finish at once.
    url = page.url
    other = context.new_page()
    other.goto(url)
    other.get_by_role("button", name="Finish visit").wait_for()
    page.evaluate(
        "() => { const f = document.querySelector('form'); f.requestSubmit(); f.requestSubmit(); }"
    )
    other.evaluate("document.querySelector('form').requestSubmit()")
    page.locator("#outbox-h, #recent-h").first.wait_for()
    wait_submitted(page)
    stored = stored_bodies(server.data_dir)
    assert len(stored) == 1
    [bodies] = stored.values()
    assert len(bodies) == 1
    answers = {a["item"]: a.get("value") for a in bodies[0]["answers"]}
    assert answers["greeting.eye_contact_and_welcome"] == "one"
    assert answers["greeting.acknowledged_in_time"] == 95
    assert answers["notes.summary"] == "Helpful and calm."
    [recognised] = [a for a in bodies[0]["answers"] if a["item"].endswith("customer_recognised")]
    assert recognised == {"item": recognised["item"], "value": None, "na": True}
    assert 1 <= answers["policy_friction.system_wait"] <= 3  # timed with start/stop
    assert bodies[0]["photos"] == []
    assert "notes.queue_photo" not in answers
    [took] = [a for a in bodies[0]["answers"] if a["item"] == "ownership.took_ownership"]
    assert took["comment"] == "Walked me to the right desk."


def test_returned_visit_is_corrected_as_revision_two(
    phone: Any, server: Any, api: Api, org: Any
) -> None:
    checklist = api.json("checklists/mystery-shop")
    sent = make_visit(checklist, org.locations["leeds"])
    assert api.call("PUT", f"visits/{sent['id']}", "shopper", json=sent).status_code == 201
    review = api.call(
        "POST",
        f"visits/{sent['id']}/review",
        json={
            "action": "return",
            "note": "Please check the tone score against the guidance.",
            "item_comments": {"tone.courteous_under_pressure": "Was it really a 5?"},
        },
    )
    assert review.status_code == 200, review.text
    context, _console = phone()
    page = context.new_page()
    sign_in(page, server.url, "shopper")
    page.get_by_text("Please check the tone score").wait_for()
    shot(page, "08-home-returned")
    page.get_by_role("button", name="Correct visit").click()
    tone = item(page, "tone.courteous_under_pressure")
    tone.get_by_text("Was it really a 5?").wait_for()
    tone.scroll_into_view_if_needed()
    shot(page, "09-form-correction", full_page=False)
    tone.get_by_text("3 – Polite but strained").click()
    finish_visit(page)
    wait_submitted(page)
    visit = api.json(f"visits/{sent['id']}")
    assert visit["revision"] == 2
    assert visit["status"] == "submitted"
    tone_answer = next(a for a in visit["answers"] if a["item"] == "tone.courteous_under_pressure")
    assert tone_answer["value"] == 3
    assert visit["checklist"] == sent["checklist"]


def test_manager_walkthrough_counts_for_their_store(
    phone: Any, server: Any, api: Api, org: Any
) -> None:
    checklist = api.json("checklists/back-to-the-floor")
    context, _console = phone()
    page = context.new_page()
    sign_in(page, server.url, "manager")
    page.get_by_role("button", name="Start a walk-through").click()
    answer_all(page, checklist)
    finish_visit(page)
    wait_submitted(page)
    shot(page, "10-home-manager")
    leeds = org.locations["leeds"]
    series = api.json(f"locations/{leeds}/scores?period=month&kind=walkthrough", "manager")
    assert sum(p["n"] for p in series["series"]) == 1
    [visit] = api.visits("manager")
    assert visit["kind"] == "walkthrough"
    assert visit["location_id"] == leeds


def test_expired_token_mid_outbox_signs_in_again_and_loses_nothing(
    phone: Any, server: Any, api: Api, org: Any
) -> None:
    api.assign(org.locations["leeds"])
    checklist = api.json("checklists/mystery-shop")
    context, _console = phone()
    page = context.new_page()
    sign_in(page, server.url, "shopper")
    page.get_by_role("button", name="Start visit").wait_for()  # the first pull is in
    wait_controlled(page)
    context.set_offline(True)
    page.get_by_role("button", name="Start visit").click()
    answer_all(page, checklist)
    finish_visit(page)
    # Two days without a connection: home says so plainly.
    page.evaluate(
        """() => new Promise((resolve) => {
          indexedDB.open("fieldobs-app").onsuccess = (e) => {
            const store = e.target.result.transaction("outbox", "readwrite").objectStore("outbox");
            store.getAll().onsuccess = (r) => {
              for (const entry of r.target.result) {
                entry.created_at -= 2 * 86400000;
                store.put(entry);
              }
              store.transaction.oncomplete = resolve;
            };
          };
        })"""
    )
    page.reload()
    page.get_by_text("Visits have waited 2 days to be sent").wait_for()
    shot(page, "12-home-long-wait")
    token = page.evaluate(
        """() => new Promise((resolve) => {
          indexedDB.open("fieldobs-app").onsuccess = (e) => {
            const r = e.target.result.transaction("meta").objectStore("meta").get("session");
            r.onsuccess = () => resolve(r.result.value.token);
          };
        })"""
    )
    revoked = requests.delete(
        f"{server.url}/api/v1/auth/token", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert revoked.status_code in (200, 204)
    context.set_offline(False)
    page.get_by_text("Your session has ended").wait_for()
    shot(page, "11-sign-in-again")
    assert stored_bodies(server.data_dir) == {}

    # Someone else on the same phone neither sees nor sends the first person's visit.
    page.get_by_label("Username").fill("shopper2")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Signed in as shopper2").wait_for()
    page.get_by_text("Someone else has unsent visits").wait_for()
    assert page.locator("#outbox-h").count() == 0
    page.wait_for_timeout(500)
    assert stored_bodies(server.data_dir) == {}
    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("Password").wait_for()

    sign_in(page, server.url, "shopper")
    wait_submitted(page)
    [visit] = api.visits("shopper")
    assert visit["status"] == "submitted"
    assert api.visits("shopper2") == []


def test_new_version_waits_until_the_visit_is_left(
    phone: Any, server: Any, api: Api, org: Any
) -> None:
    api.assign(org.locations["leeds"])
    context, _console = phone()
    page = context.new_page()
    sign_in(page, server.url, "shopper")
    wait_controlled(page)
    page.get_by_role("button", name="Start visit").click()
    box = item(page, "greeting.eye_contact_and_welcome")
    box.get_by_text("Neither", exact=True).click()
    page.evaluate("window.stillHere = true")
    old = page.evaluate("caches.keys()")

    server.settings["FIELD_APP_BUILD"] = "2"
    server.restart()
    page.evaluate("navigator.serviceWorker.getRegistration().then((r) => r.update())")
    page.get_by_text("A new version of the app is ready").wait_for()
    shot(page, "13-form-update-waiting", full_page=False)
    # Mid-form: the same page, the same answers, the old version still in charge.
    assert page.evaluate("window.stillHere") is True
    assert box.get_by_label("Neither").is_checked()

    page.get_by_role("link", name="← Home").click()
    try:
        page.get_by_role("button", name="Continue visit").wait_for(timeout=10_000)
    except Exception as error:
        state = page.evaluate(
            "navigator.serviceWorker.getRegistration()"
            ".then(r => [r.active?.state, r.waiting?.state, r.installing?.state])"
        )
        raise AssertionError(page.inner_text("main") + str(state)) from error
    assert page.evaluate("window.stillHere === undefined")
    # Once the new worker has taken over, only its copy of the shell is left.
    new = wait_until(
        lambda: (keys := page.evaluate("caches.keys()")) and len(keys) == 1 and keys,
        what="the new version to take over",
    )
    assert new != old


def test_insecure_address_is_said_plainly(browser: Any, server: Any) -> None:
    # A name that is not localhost, resolved to 127.0.0.1 inside the browser: plain HTTP
    # there is not a secure context, as on a phone opening http://<server's address>.
    launched = browser.browser_type.launch(
        executable_path=chromium_path(),
        args=[*CHROMIUM_ARGS, "--host-resolver-rules=MAP fieldobs.test 127.0.0.1"],
    )
    try:
        page = launched.new_page(viewport=PHONE)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"http://fieldobs.test:{server.port}/app/")
        page.get_by_role("heading", name="This connection is not secure").wait_for()
        assert page.get_by_label("Username").count() == 0
        shot(page, "00-not-secure")
        assert errors == []
    finally:
        launched.close()


def test_refused_visit_waits_for_the_person_then_can_be_discarded(
    phone: Any, server: Any, api: Api, org: Any
) -> None:
    checklist = api.json("checklists/back-to-the-floor")
    context, _console = phone()
    page = context.new_page()
    sign_in(page, server.url, "manager")
    page.get_by_role("button", name="Start a walk-through").wait_for()
    wait_controlled(page)
    context.set_offline(True)
    page.get_by_role("button", name="Start a walk-through").click()
    answer_all(page, checklist)
    finish_visit(page)
    # Meanwhile the manager moved on: Leeds is no longer theirs, so the server refuses it.
    with sqlite3.connect(server.data_dir / "fieldobs.db") as conn:
        conn.execute("DELETE FROM user_locations WHERE user_id = ?", [org.users["manager"]])
    conn.close()
    context.set_offline(False)
    page.get_by_text("Needs attention").wait_for()
    shot(page, "14-home-needs-attention")
    assert stored_bodies(server.data_dir) == {}
    # Their old cursor is foreign to the new scope (410): the feed starts over, Leeds goes.
    page.get_by_text("No stores are assigned to you.").wait_for()

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Discard").click()
    page.locator("#outbox-h").wait_for(state="detached")
    assert stored_bodies(server.data_dir) == {}
