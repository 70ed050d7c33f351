"""The client kit is its own distribution: a wheel with no dependency that imports on its own."""

from __future__ import annotations

import ast
import email
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import fieldobs_sync

ROOT = Path(__file__).resolve().parents[2]
KIT = ROOT / "sync"
PACKAGE = Path(fieldobs_sync.__file__).parent

# Run in the fresh venv: every module of the kit imports, and nothing outside the standard
# library (nor the server) is loaded or even importable there.
PROBE = """
import importlib, pkgutil, sys
import fieldobs_sync
for info in pkgutil.walk_packages(fieldobs_sync.__path__, "fieldobs_sync."):
    if not info.name.endswith("__main__"):
        importlib.import_module(info.name)
foreign = sorted(
    name for name in sys.modules
    if name.split(".")[0] not in {*sys.stdlib_module_names, "__main__", "fieldobs_sync"}
)
assert not foreign, foreign
for absent in ("flask", "PIL", "fieldobs"):
    assert importlib.util.find_spec(absent) is None, absent
print(fieldobs_sync.__file__)
"""


def imported_roots(path: Path) -> set[str]:
    """Return the top-level names a module imports (absolute imports only)."""
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_kit_imports_only_the_standard_library_and_itself() -> None:
    modules = sorted(PACKAGE.rglob("*.py"))
    assert PACKAGE.parent == KIT, "the kit's package lives in sync/"
    assert len(modules) > 5
    allowed = set(sys.stdlib_module_names) | {"fieldobs_sync", "__future__"}
    outside = {str(m.relative_to(PACKAGE)): sorted(imported_roots(m) - allowed) for m in modules}
    assert {name: found for name, found in outside.items() if found} == {}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the kit's wheel from a copy of sync/ (the source tree stays clean)."""
    work = tmp_path_factory.mktemp("kit-wheel")
    source = work / "sync"
    skip = shutil.ignore_patterns("*.egg-info", "build", "__pycache__")
    shutil.copytree(KIT, source, ignore=skip)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--no-build-isolation",
            "--wheel-dir",
            str(work / "dist"),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    [built] = (work / "dist").glob("fieldobs_sync-*.whl")
    return built


@pytest.mark.slow
def test_wheel_declares_no_dependency_and_ships_only_the_kit(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        [metadata_name] = [n for n in names if n.endswith(".dist-info/METADATA")]
        metadata = email.message_from_bytes(archive.read(metadata_name))
        [entry_points_name] = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        entry_points = archive.read(entry_points_name).decode()
    assert metadata["Name"] == "fieldobs-sync"
    assert metadata.get_all("Requires-Dist") is None
    packages = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert packages == {"fieldobs_sync"}
    assert "fieldobs_sync/cli/__init__.py" in names
    assert "fieldobs_sync/py.typed" in names
    assert "fieldobs-sync = fieldobs_sync.cli:main" in entry_points


@pytest.mark.slow
def test_wheel_installs_and_runs_without_the_server(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)],
        check=True,
        timeout=120,
    )
    python = venv / "bin" / "python"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    probe = subprocess.run(
        [str(python), "-c", PROBE],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr
    assert Path(probe.stdout.strip()).is_relative_to(venv)
    status = subprocess.run(
        [str(venv / "bin" / "fieldobs-sync"), "--home", str(tmp_path / "home"), "status"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert status.returncode == 0, status.stderr
    assert "outbox is empty" in status.stdout
