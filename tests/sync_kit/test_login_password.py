"""`fieldobs-sync login` never takes the password as an argument: prompt, environment or stdin."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fieldobs_sync.cli import main
from fieldobs_sync.cli.login import PASSWORD_ENV
from tests.helpers.sync_fake_server import FakeHTTPServer, running_server


@pytest.fixture
def server() -> Iterator[FakeHTTPServer]:
    """Run the fake server (user `shopper`, password `pw`)."""
    with running_server() as srv:
        yield srv


def no_prompt(text: str) -> str:
    """Fail the test: nothing should prompt."""
    raise AssertionError(f"unexpected prompt {text!r}")


def run(
    home: Path, *args: str, stdin: str = "", prompt: Callable[[str], str] = no_prompt
) -> tuple[int, str]:
    """Run the CLI in-process with the given standard input and prompt."""
    out = io.StringIO()
    code = main(["--home", str(home), *args], out=out, stdin=io.StringIO(stdin), prompt=prompt)
    return code, out.getvalue()


def assert_logged_in(home: Path, server: FakeHTTPServer) -> None:
    """The token is saved, and nothing of the password is."""
    saved = (home / "config.json").read_text()
    assert json.loads(saved)["token"] in server.state.tokens
    assert '"pw"' not in saved
    assert "password" not in saved


def test_login_prompts_for_the_password_without_echo(
    server: FakeHTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    asked: list[str] = []

    def prompt(text: str) -> str:
        asked.append(text)
        return "pw"

    code, out = run(tmp_path, "login", server.url, "shopper", prompt=prompt)
    assert code == 0, out
    assert len(asked) == 1
    assert "shopper" in asked[0]
    assert_logged_in(tmp_path, server)


def test_login_reads_the_password_from_the_environment(
    server: FakeHTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "pw")
    code, out = run(tmp_path, "login", server.url, "shopper")
    assert code == 0, out
    assert_logged_in(tmp_path, server)


def test_login_reads_the_password_from_stdin(
    server: FakeHTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # --password-stdin wins over the environment: it was asked for explicitly.
    monkeypatch.setenv(PASSWORD_ENV, "wrong")
    code, out = run(tmp_path, "login", server.url, "shopper", "--password-stdin", stdin="pw\n")
    assert code == 0, out
    assert_logged_in(tmp_path, server)


def test_login_with_empty_stdin_fails(server: FakeHTTPServer, tmp_path: Path) -> None:
    code, out = run(tmp_path, "login", server.url, "shopper", "--password-stdin", stdin="")
    assert code == 2
    assert "no password" in out
    assert not server.state.tokens


def test_password_as_an_argument_is_refused_before_any_request(
    server: FakeHTTPServer, tmp_path: Path
) -> None:
    code, out = run(tmp_path, "login", server.url, "shopper", "pw")
    assert code == 2
    assert "shell history" in out
    assert PASSWORD_ENV in out
    assert not server.state.tokens
    assert server.state.log == []
    assert not (tmp_path / "config.json").exists()


@pytest.mark.parametrize("how", ["stdin", "environment"])
def test_login_as_a_process_keeps_the_password_out_of_its_arguments(
    server: FakeHTTPServer, tmp_path: Path, how: str
) -> None:
    env = {k: v for k, v in os.environ.items() if k != PASSWORD_ENV}
    argv = [sys.executable, "-m", "fieldobs_sync", "--home", str(tmp_path), "login"]
    argv += [server.url, "shopper"]
    if how == "stdin":
        argv.append("--password-stdin")
    else:
        env[PASSWORD_ENV] = "pw"
    done = subprocess.run(
        argv,
        input="pw\n" if how == "stdin" else "",
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "pw" not in argv
    assert_logged_in(tmp_path, server)
