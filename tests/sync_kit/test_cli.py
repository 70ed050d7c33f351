"""The `fieldobs-sync` command line against the fake server."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fieldobs_sync.cli import main
from tests.helpers.sync_fake_server import FakeHTTPServer, running_server


@pytest.fixture
def server() -> Iterator[FakeHTTPServer]:
    """Run the fake server."""
    with running_server() as srv:
        yield srv


def run(home: Path, *args: str, stdin: str = "") -> tuple[int, str]:
    """Run the CLI in-process and return its exit status and output."""
    out = io.StringIO()
    code = main(["--home", str(home), *args], out=out, stdin=io.StringIO(stdin))
    return code, out.getvalue()


def login(home: Path, url: str, user: str, password: str) -> tuple[int, str]:
    """Log in with the password on standard input."""
    return run(home, "login", url, user, "--password-stdin", stdin=f"{password}\n")


def write_visit(tmp_path: Path, **fields: Any) -> Path:
    """Write a visit JSON file."""
    path = tmp_path / f"visit-{uuid.uuid4().hex[:6]}.json"
    path.write_text(json.dumps({"answers": [], **fields}))
    return path


def test_login_saves_a_private_config(server: FakeHTTPServer, tmp_path: Path) -> None:
    home = tmp_path / "home"
    code, out = login(home, server.url, "shopper", "pw")
    assert code == 0, out
    assert "logged in" in out
    config = json.loads((home / "config.json").read_text())
    assert config["base_url"] == server.url
    assert config["token"] in server.state.tokens
    assert stat.S_IMODE((home / "config.json").stat().st_mode) == 0o600


def test_login_with_wrong_password_fails(server: FakeHTTPServer, tmp_path: Path) -> None:
    code, out = login(tmp_path, server.url, "shopper", "nope")
    assert code == 2
    assert "error" in out


def test_sync_before_login_fails(tmp_path: Path) -> None:
    code, out = run(tmp_path, "sync")
    assert code == 2
    assert "login" in out


def test_queue_sync_status_round_trip(server: FakeHTTPServer, tmp_path: Path) -> None:
    home = tmp_path / "home"
    login(home, server.url, "shopper", "pw")
    named, bare = tmp_path / "a.jpg", tmp_path / "b.heic"
    named.write_bytes(os.urandom(5000))
    bare.write_bytes(os.urandom(3000))
    pid = str(uuid.uuid4())
    visit_file = write_visit(tmp_path)
    code, out = run(
        home, "queue", str(visit_file), "--photo", f"{pid}={named}", "--photo", str(bare)
    )
    assert code == 0, out
    assert "2 photo(s)" in out
    code, out = run(home, "status")
    assert "pending (1)" in out
    assert "2 photo(s) to upload" in out
    code, out = run(home, "sync")
    assert code == 0, out
    assert "pushed 1 visit(s)" in out
    assert "uploaded 2 photo(s)" in out
    assert server.state.photos[pid] == named.read_bytes()
    [stored] = server.state.visits.values()
    types = sorted(p["content_type"] for p in stored["body"]["photos"])
    assert types == ["image/heic", "image/jpeg"]
    code, out = run(home, "status", "--json")
    [row] = json.loads(out)
    assert row["state"] == "done"


def test_invalid_visit_is_shown_requeued_and_sent(server: FakeHTTPServer, tmp_path: Path) -> None:
    home = tmp_path / "home"
    login(home, server.url, "shopper", "pw")
    vid = str(uuid.uuid4())
    run(home, "queue", str(write_visit(tmp_path, id=vid, revision=1, notes="INVALID")))
    code, out = run(home, "sync")
    assert code == 1
    assert "1 need attention" in out
    code, out = run(home, "status")
    assert "needs_attention (1)" in out
    assert "HTTP 422 invalid" in out
    assert "notes: must not be INVALID" in out
    fixed = write_visit(tmp_path, id=vid, revision=1, notes="fine")
    code, out = run(home, "requeue", vid, "--file", str(fixed))
    assert code == 0, out
    assert "revision 1" in out
    code, out = run(home, "sync")
    assert code == 0, out
    assert server.state.visits[vid]["body"]["notes"] == "fine"


def test_discard_is_explicit(server: FakeHTTPServer, tmp_path: Path) -> None:
    home = tmp_path / "home"
    vid = str(uuid.uuid4())
    run(home, "queue", str(write_visit(tmp_path, id=vid, revision=1)))
    code, out = run(home, "discard", vid)
    assert code == 0
    assert "discarded 1 entry" in out
    code, out = run(home, "status", "--all")
    assert "discarded (1)" in out
    code, out = run(home, "discard", vid)
    assert code == 2


def test_requeue_without_attention_fails(tmp_path: Path) -> None:
    vid = str(uuid.uuid4())
    run(tmp_path, "queue", str(write_visit(tmp_path, id=vid, revision=1)))
    code, out = run(tmp_path, "requeue", vid)
    assert code == 2
    assert "needs attention" in out


@pytest.mark.parametrize("content", ["[1, 2]", "{not json", '{"id": "nope", "revision": 1}'])
def test_queue_refuses_bad_files(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    code, out = run(tmp_path, "queue", str(path))
    assert code == 2
    assert out.startswith("error:")


def test_module_entry_point_runs(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "fieldobs_sync", "--home", str(tmp_path), "status"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "outbox is empty" in done.stdout
