"""The production recipe: the wheel installed elsewhere runs init-db, users create and a server."""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.helpers.app import REPO
from tests.helpers.server_process import free_port, wait_until_healthy

pytestmark = pytest.mark.slow
PASSWORD = "a long passphrase for alice"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the wheel and install it alone into a fresh venv; return the venv's bin folder."""
    root = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(root / "dist"),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    [wheel] = (root / "dist").glob("fieldobs-*.whl")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    purelib = next((venv / "lib").glob("python*/site-packages"))
    # The wheel goes in alone; its dependencies come from this test run's environment
    # (a path line, not a site dir: the source checkout's editable finder stays out).
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-index",
            "-q",
            "--target",
            str(purelib),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    (purelib / "test-dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return venv / "bin"


def run(bin_dir: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the installed package's python in `cwd` with a relative data folder."""
    env = {"PATH": os.environ["PATH"], "FIELDOBS_DATA_DIR": "./var", "HOME": str(cwd)}
    return subprocess.run(
        [str(bin_dir / "python"), *args], cwd=cwd, env=env, capture_output=True, text=True
    )


def test_the_installed_package_is_the_wheel_not_the_checkout(
    installed: Path, tmp_path: Path
) -> None:
    found = run(installed, tmp_path, "-c", "import fieldobs; print(fieldobs.__file__)")
    assert found.returncode == 0, found.stderr
    assert str(installed.parent) in found.stdout


def test_init_db_users_create_and_the_server_work_from_another_folder(
    installed: Path, tmp_path: Path
) -> None:
    cli = ("-c", "from fieldobs.cli.commands import main; main()")
    init = run(installed, tmp_path, *cli, "init-db")
    assert init.returncode == 0, init.stdout + init.stderr
    assert "checklist mystery-shop v1: published now" in init.stdout
    assert "not published" not in init.stderr
    user = run(
        installed,
        tmp_path,
        *cli,
        "users",
        "create",
        "alice",
        "--role",
        "admin",
        "--password",
        "a long passphrase for alice",
    )
    assert user.returncode == 0, user.stdout + user.stderr
    port = free_port()
    env = {"PATH": os.environ["PATH"], "FIELDOBS_DATA_DIR": "./var", "HOME": str(tmp_path)}
    server = subprocess.Popen(
        [
            str(installed / "python"),
            "-m",
            "gunicorn",
            "--bind",
            f"127.0.0.1:{port}",
            "fieldobs:create_app()",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_healthy(url)
        login = urllib.request.Request(
            f"{url}/api/v1/auth/token",
            data=json.dumps(
                {"username": "alice", "password": "a long passphrase for alice"}
            ).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(login, timeout=10) as response:
            token = json.load(response)["token"]
        listing = urllib.request.Request(
            f"{url}/api/v1/checklists", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(listing, timeout=10) as response:
            slugs = {c["slug"] for c in json.load(response)["checklists"]}
        assert slugs == {"mystery-shop", "back-to-the-floor"}
        assert (tmp_path / "var" / "fieldobs.db").exists()
    finally:
        server.terminate()
        server.wait(timeout=10)
