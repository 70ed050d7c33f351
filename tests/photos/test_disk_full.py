"""A full disk while a photo or a tus chunk is written: 507 with Retry-After, nothing lost."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.helpers.app import Org
from tests.helpers.photo_factory import create, head, jpeg, new_id, one_shot, patch

Full = Callable[[str | None], None]


@pytest.fixture
def disk_full(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> Full:
    """Make writes to files under a folder of the data dir fail with ENOSPC (None: stop)."""
    real_write = os.write
    full: list[Path] = []

    def write(fd: int, data: bytes | memoryview) -> int:
        target = os.readlink(f"/proc/self/fd/{fd}")
        if any(target.startswith(str(folder)) for folder in full):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    def switch(folder: str | None) -> None:
        full[:] = [] if folder is None else [data_dir / folder]

    monkeypatch.setattr(os, "write", write)
    return switch


def assert_storage_full(response: TestResponse) -> None:
    assert response.status_code == 507, response.get_data(as_text=True)
    assert int(response.headers["Retry-After"]) > 0
    assert response.get_json()["error"]["code"] == "storage_full"


def leftovers(data_dir: Path) -> list[Path]:
    """Return temp files a failed write left behind."""
    return [*data_dir.glob("uploads/*.tmp"), *data_dir.glob("photos/*/.tmp-*")]


@pytest.mark.parametrize("folder", ["uploads", "photos"], ids=["spooling", "storing"])
def test_a_one_shot_photo_on_a_full_disk_is_507_then_goes_through(
    client: FlaskClient, org: Org, data_dir: Path, disk_full: Full, folder: str
) -> None:
    data, visit_id, photo_id = jpeg(seed=101), new_id(), new_id()
    disk_full(folder)
    assert_storage_full(one_shot(client, org, data, visit_id=visit_id, photo_id=photo_id))
    assert leftovers(data_dir) == []
    disk_full(None)
    assert one_shot(client, org, data, visit_id=visit_id, photo_id=photo_id).status_code == 201


def test_a_tus_chunk_on_a_full_disk_is_507_at_the_old_offset_and_resumes(
    client: FlaskClient, org: Org, data_dir: Path, disk_full: Full
) -> None:
    data, half = jpeg(seed=102), 4096
    created = create(client, org, len(data))
    url = created.headers["Location"]
    assert patch(client, org, url, 0, data[:half]).status_code == 204
    disk_full("uploads")
    response = patch(client, org, url, half, data[half:])
    assert_storage_full(response)
    assert response.headers["Upload-Offset"] == str(half)
    part = data_dir / "uploads" / f"{url.rsplit('/', 1)[1]}.part"
    assert part.stat().st_size == half  # no unacknowledged tail left behind
    disk_full(None)
    assert head(client, org, url).headers["Upload-Offset"] == str(half)
    assert patch(client, org, url, half, data[half:]).status_code == 204


def test_a_full_disk_when_the_last_chunk_is_processed_keeps_every_byte(
    client: FlaskClient, org: Org, data_dir: Path, disk_full: Full
) -> None:
    data, visit_id, photo_id = jpeg(seed=103), new_id(), new_id()
    created = create(client, org, len(data), visit_id=visit_id, photo_id=photo_id)
    url = created.headers["Location"]
    disk_full("photos")  # the part file takes the bytes; the processed copy finds no room
    response = patch(client, org, url, 0, data)
    assert_storage_full(response)
    assert response.headers["Upload-Offset"] == str(len(data))
    assert leftovers(data_dir) == []
    disk_full(None)
    # The client sees every byte held; asking again finishes the photo.
    assert head(client, org, url).headers["Upload-Offset"] == str(len(data))
    again = one_shot(client, org, data, visit_id=visit_id, photo_id=photo_id)
    assert again.status_code == 200  # already recorded by the HEAD: a replay
