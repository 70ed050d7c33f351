"""PROTOCOL.md tells app developers what the server really takes and refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from fieldobs_sync.photos import content_type_for

PROTOCOL = (Path(__file__).resolve().parents[2] / "sync" / "PROTOCOL.md").read_text()

# The formats the contract says the server accepts, with a file name a phone would use.
ACCEPTED = {
    "image/jpeg": "IMG_0001.JPG",
    "image/png": "shelf.png",
    "image/heic": "IMG_0002.HEIC",
    "image/heif": "burst.heif",
    "image/webp": "shelf.webp",
    "image/avif": "shelf.avif",
}


@pytest.mark.parametrize(("content_type", "filename"), ACCEPTED.items())
def test_every_accepted_photo_format_is_documented_and_typed(
    content_type: str, filename: str
) -> None:
    assert f"`{content_type}`" in PROTOCOL
    assert content_type_for(filename) == content_type


def test_ids_are_documented_as_random_version_4() -> None:
    assert "random (version 4) UUIDs" in PROTOCOL
    assert "Versions 1, 6 and 7" in PROTOCOL


def test_returned_visit_correction_is_documented() -> None:
    for needed in ("returned_visits", "next_revision", "item_comments", "notifications"):
        assert needed in PROTOCOL
    assert "against the same checklist `slug` and `version`" in PROTOCOL
    assert "correction accepted" in PROTOCOL
