"""Who may open which console page: 403 for a role, 404 outside scope, sign-in for nobody."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.helpers.console_world import World

ADMIN_PAGES = [
    "/admin/review",
    "/admin/assignments",
    "/admin/stores",
    "/admin/people",
    "/admin/calibration",
    "/admin/webhooks",
    "/admin/jobs",
]


def _pages(world: World) -> dict[str, str]:
    org = world.org
    return {
        "all_areas": "/areas",
        "area_north": f"/areas/{org.areas['north']}",
        "area_south": f"/areas/{org.areas['south']}",
        "stores": "/stores",
        "store_leeds": f"/stores/{org.locations['leeds']}",
        "store_brighton": f"/stores/{org.locations['brighton']}",
        "released_leeds": f"/visits/{world.released_with_photos}",
        "unreleased_leeds": f"/visits/{world.unreleased}",
        "walkthrough_leeds": f"/visits/{world.walkthrough}",
        "photo_released": f"/photos/{world.released_photos[0]}/thumb",
        "photo_unreleased": f"/photos/{world.unreleased_photos[0]}/thumb",
        "export_visits": "/exports/visits.csv",
        "account": "/account",
        **{name.strip("/").replace("/", "_"): name for name in ADMIN_PAGES},
    }


ADMIN_ONLY = {page.strip("/").replace("/", "_"): 403 for page in ADMIN_PAGES}
# user -> page -> expected status (anything unlisted: 200)
MATRIX: dict[str, dict[str, int]] = {
    "admin": {},
    "lead": {
        **ADMIN_ONLY,
        "area_south": 404,
        "store_brighton": 404,
        "unreleased_leeds": 404,
        "photo_unreleased": 404,
    },
    "manager": {
        **ADMIN_ONLY,
        "all_areas": 403,
        "area_north": 403,
        "area_south": 403,
        "store_brighton": 404,
        "unreleased_leeds": 404,
        "photo_unreleased": 404,
    },
    "shopper": {
        **ADMIN_ONLY,
        "all_areas": 403,
        "area_north": 403,
        "area_south": 403,
        "stores": 403,
        "store_leeds": 403,
        "store_brighton": 403,
        "export_visits": 403,
        "walkthrough_leeds": 404,
    },
    "shopper2": {
        **ADMIN_ONLY,
        "all_areas": 403,
        "area_north": 403,
        "area_south": 403,
        "stores": 403,
        "store_leeds": 403,
        "store_brighton": 403,
        "export_visits": 403,
        "released_leeds": 404,
        "unreleased_leeds": 404,
        "walkthrough_leeds": 404,
        "photo_released": 404,
        "photo_unreleased": 404,
    },
}


@pytest.mark.parametrize("user", sorted(MATRIX))
def test_role_by_page_matrix(
    user: str, world: World, signed_in: Callable[[str], FlaskClient]
) -> None:
    client = signed_in(user)
    seen = {}
    for name, path in _pages(world).items():
        response = client.get(path)
        seen[name] = response.status_code
        response.close()  # a photo is a file: close it, as a server would
    expected = {name: MATRIX[user].get(name, 200) for name in seen}
    assert seen == expected


@pytest.mark.parametrize("path", ["/areas", "/stores/1", "/admin/people", "/exports/visits.csv"])
def test_pages_send_strangers_to_sign_in(path: str, web_app: Flask) -> None:
    response = web_app.test_client().get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/?next=")


def test_forbidden_page_is_html_naming_the_role(signed_in: Callable[[str], FlaskClient]) -> None:
    response = signed_in("manager").get("/admin/people")
    assert response.status_code == 403
    assert response.mimetype == "text/html"
    assert "manager may not open this page" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("user", "home"), [("admin", "/areas"), ("lead", "/areas/1"), ("manager", "/stores/1")]
)
def test_home_sends_each_role_to_their_work(
    user: str, home: str, signed_in: Callable[[str], FlaskClient]
) -> None:
    response = signed_in(user).get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == home


def test_manager_never_sees_the_shopper(
    world: World, signed_in: Callable[[str], FlaskClient]
) -> None:
    page = signed_in("manager").get(f"/visits/{world.released_with_photos}")
    html = page.get_data(as_text=True)
    assert "Observer-" in html
    assert "shopper" not in html.replace("Comment for the shopper", "")
    assert "(to the hour)" in html
