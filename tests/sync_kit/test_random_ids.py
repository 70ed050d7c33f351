"""Visit and photo ids are random version-4 UUIDs: the kit makes them so and refuses others."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path

import pytest

from fieldobs_sync.cli import main
from fieldobs_sync.errors import OutboxError
from fieldobs_sync.outbox import Outbox
from fieldobs_sync.photos import attach_photos, describe_photo
from fieldobs_sync.records import check_random_id, new_id


def with_version(version: int, seed: int) -> str:
    """Return a UUID of the given version (RFC 4122 variant), made from a seeded random one."""
    raw = uuid.UUID(int=seed * 0x9E3779B97F4A7C15 % (1 << 128), version=4).hex
    return str(uuid.UUID(raw[:12] + f"{version:x}" + raw[13:]))


TIMED = [pytest.param(v, id=f"v{v}") for v in (1, 6, 7)] + [pytest.param(3, id="v3-hash")]


def test_new_ids_are_version_4_and_distinct() -> None:
    ids = [new_id() for _ in range(200)]
    assert {uuid.UUID(i).version for i in ids} == {4}
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("version", TIMED)
def test_ids_of_other_versions_are_refused(version: int) -> None:
    value = with_version(version, 7)
    assert uuid.UUID(value).version == version
    with pytest.raises(ValueError, match=f"version 4.*version {version}"):
        check_random_id(value, "visit id")


@pytest.mark.parametrize("version", TIMED)
def test_outbox_refuses_a_visit_id_that_is_not_random(tmp_path: Path, version: int) -> None:
    with Outbox(tmp_path / "kit.db") as box, pytest.raises(ValueError, match="visit id"):
        box.queue({"id": with_version(version, 1), "revision": 1})
    with Outbox(tmp_path / "kit.db") as box:
        assert box.entries() == []


@pytest.mark.parametrize("version", TIMED)
def test_outbox_refuses_a_photo_id_that_is_not_random(tmp_path: Path, version: int) -> None:
    path = tmp_path / "shelf.jpg"
    path.write_bytes(b"\xff\xd8 not really a jpeg")
    photo = describe_photo(path, with_version(version, 2))
    visit = attach_photos({"id": new_id(), "revision": 1}, [photo])
    with Outbox(tmp_path / "kit.db") as box, pytest.raises((ValueError, OutboxError)):
        box.queue(visit, [photo])


def test_photos_and_cli_visits_get_version_4_ids(tmp_path: Path) -> None:
    path = tmp_path / "shelf.jpg"
    path.write_bytes(b"\xff\xd8 bytes")
    visit_file = tmp_path / "visit.json"
    visit_file.write_text(json.dumps({"answers": []}))
    out = io.StringIO()
    code = main(["--home", str(tmp_path), "queue", str(visit_file), "--photo", str(path)], out=out)
    assert code == 0, out.getvalue()
    with Outbox(tmp_path / "outbox.sqlite3") as box:
        [entry] = box.entries()
        [photo_id] = entry.photo_ids
    assert uuid.UUID(entry.visit_id).version == 4
    assert uuid.UUID(photo_id).version == 4
