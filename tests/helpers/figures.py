"""Figures that tests measure and the run prints at its end (printed, never asserted as timings).

Each figure travels as a user property of its test's report, so the figures measured in
pytest-xdist workers reach the process that prints the summary.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

PREFIX = "figure: "
_MEASURED: dict[str, float] = {}


class Figures:
    """Where a test puts the figures it measured."""

    def __init__(self, record: Callable[[str, object], None]) -> None:
        self._record = record

    def __setitem__(self, name: str, value: float) -> None:
        self._record(PREFIX + name, value)


@pytest.fixture
def figures(record_property: Callable[[str, object], None]) -> Figures:
    """Return where the test puts the figures printed at the end of the run."""
    return Figures(record_property)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Keep the figures a finished test recorded, wherever it ran."""
    for name, value in report.user_properties:
        if name.startswith(PREFIX) and isinstance(value, int | float):
            _MEASURED[name.removeprefix(PREFIX)] = value


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the figures the tests measured on this machine."""
    if _MEASURED:
        terminalreporter.write_sep("-", "figures measured by the tests (this machine)")
        for name, value in _MEASURED.items():
            terminalreporter.write_line(f"{name}: {value:,.0f}")
