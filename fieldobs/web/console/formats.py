"""Small formatters the templates use in hot loops (filters: cheaper than Jinja macros)."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from fieldobs.web import charts


def number(value: float | None, digits: int = 1) -> str:
    """Format a figure for a table: a dash when there is none."""
    return "–" if value is None else f"{value:.{digits}f}"


def heat_cell(cell: dict[str, Any] | None) -> Markup:
    """Return a heat-map cell: the section mean on its colour."""
    mean = None if cell is None else cell["mean"]
    # Both parts are made here from a number (nothing to escape): Markup.format costs 10x.
    return Markup(  # noqa: S704
        f'<td class="num" style="background: {charts.heat_colour(mean)}">{number(mean, 0)}</td>'
    )


def svg(markup: str) -> Markup:
    """Mark a chart from fieldobs.web.charts safe: the charts escape every text they draw."""
    return Markup(markup)  # noqa: S704
