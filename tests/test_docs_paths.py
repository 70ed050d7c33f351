"""Every path and module the docs, comments and docstrings name is one that exists."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import io
import re
import subprocess
import tokenize
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# A path from the top of the repository, not part of a URL (/api/v1/sync/changes) or a longer
# name; patterns (migrations/NNNN_*.sql, tests/<domain>/) are left out.
NAMED_PATH = re.compile(
    r"(?<![\w./@-])((?:fieldobs|tests|sync|bench|checklists|deploy|\.ci)/[\w./-]*\w)(?![\w*<{])"
)

# A dotted name in the server's package: a module, or a module and one of its attributes.
NAMED_MODULE = re.compile(r"(?<![\w./-])(fieldobs(?:_sync)?(?:\.[A-Za-z_]\w*)+)")
# Installed from checklists/ by setup.py: a package only in a built wheel.
NOT_MODULES = {"fieldobs.bundled_checklists"}


def tracked(suffixes: tuple[str, ...]) -> list[Path]:
    """Return the files git tracks with one of these endings."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.decode()
    return [REPO / name for name in listed.split("\0") if name.endswith(suffixes)]


def prose_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield (line, text) of a file's prose: all of a Markdown file, a Python file's comments
    and docstrings."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".md":
        yield from enumerate(text.splitlines(), start=1)
        return
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type == tokenize.COMMENT:
            yield token.start[0], token.string
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            docstring = ast.get_docstring(node, clean=False)
            if docstring and node.body:
                yield node.body[0].lineno, docstring


def missing_paths(path: Path) -> list[str]:
    """Return `file:line names path` for every named path that does not exist."""
    return [
        f"{path.relative_to(REPO)}:{line} names {named}"
        for line, text in prose_lines(path)
        for named in NAMED_PATH.findall(text)
        if not (REPO / named).exists() and not (REPO / f"{named}.py").exists()
    ]


def resolves(dotted: str) -> bool:
    """Say whether a dotted name is a module, or a module's attribute (one level down)."""
    parts = dotted.split(".")
    for cut in range(1, len(parts) + 1):
        module = ".".join(parts[:cut])
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:  # the part before is a module, not a package
            found = False
        if not found:
            rest = parts[cut - 1 :]
            parent = ".".join(parts[: cut - 1])
            return len(rest) == 1 and hasattr(importlib.import_module(parent), rest[0])
    return True


def unknown_modules(path: Path) -> list[str]:
    """Return `file:line names module` for every named module or attribute that is not there."""
    return [
        f"{path.relative_to(REPO)}:{line} names {named}"
        for line, text in prose_lines(path)
        for named in NAMED_MODULE.findall(text)
        if named not in NOT_MODULES and not resolves(named.rstrip("."))
    ]


@pytest.mark.parametrize("kind", [".md", ".py"])
def test_every_path_named_in_prose_exists(kind: str) -> None:
    offences = [offence for path in tracked((kind,)) for offence in missing_paths(path)]
    assert offences == [], "\n".join(offences)


@pytest.mark.parametrize("kind", [".md", ".py"])
def test_every_module_named_in_prose_exists(kind: str) -> None:
    offences = [offence for path in tracked((kind,)) for offence in unknown_modules(path)]
    assert offences == [], "\n".join(offences)
