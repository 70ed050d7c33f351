"""A phone whose clock runs days ahead still sends its visits and sees them confirmed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from tests.helpers.field_app_journey import (
    Api,
    answer_all,
    finish_visit,
    sign_in,
    wait_submitted,
)


def test_a_visit_from_a_phone_three_days_ahead_is_confirmed_on_its_own(
    phone: Any, server: Any, api: Api
) -> None:
    checklist = api.json("checklists/back-to-the-floor")
    context, console = phone()
    page = context.new_page()
    asked: list[str] = []
    page.on("request", lambda request: asked.append(urlsplit(request.url).path))
    # The outbox lists what changed since a day before its oldest visit, by the phone's clock:
    # three days ahead, that listing misses the visit, which is then asked for by its id.
    page.clock.set_system_time(datetime.now(UTC) + timedelta(days=3))
    sign_in(page, server.url, "manager")
    page.get_by_role("button", name="Start a walk-through").click()
    answer_all(page, checklist)
    finish_visit(page)
    wait_submitted(page)
    [visit] = api.visits("manager")
    assert f"/api/v1/visits/{visit['id']}" in asked
    assert visit["status"] == "submitted"
    assert console.app_errors() == []
