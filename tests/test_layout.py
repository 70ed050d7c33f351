"""The test suite's own layout: what tests share lives in tests/helpers, never in a test module."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def module_name(path: Path) -> str:
    """Return the dotted module name of a file under tests/ (tests.scoring.test_scoring)."""
    parts = path.relative_to(TESTS.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_test_module(name: str) -> bool:
    """Say whether a dotted name is a test module or a conftest under tests/."""
    last = name.rsplit(".", 1)[-1]
    return name.split(".", 1)[0] == "tests" and (last.startswith("test_") or last == "conftest")


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Return (line, module) for every module a file imports, relative imports resolved."""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found.append((node.lineno, module))
            # `from tests.scoring import test_scoring` imports a module by its last name.
            found += [
                (node.lineno, f"{module}.{alias.name}")
                for alias in node.names
                if TESTS.parent.joinpath(*module.split("."), f"{alias.name}.py").is_file()
            ]
    return found


def test_no_test_module_imports_another() -> None:
    offences = [
        f"{path.relative_to(TESTS.parent)}:{line} imports {module}"
        for path in sorted(TESTS.rglob("*.py"))
        for line, module in imported_modules(path)
        if is_test_module(module)
    ]
    assert offences == [], "move what tests share into tests/helpers/:\n" + "\n".join(offences)
