"""The SVG charts: plain functions, escaped text, numbers a reader can check."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from fieldobs.dashboards.area import funnel_limits
from fieldobs.web import charts

SVG = "{http://www.w3.org/2000/svg}"


def _parse(markup: str) -> ET.Element:
    return ET.fromstring(markup)  # noqa: S314  (markup we made ourselves)


def test_charts_escape_names() -> None:
    markup = charts.funnel_plot([("<script>alert(1)</script>", 4, 70.0)], None, title="A & B")
    root = _parse(markup)
    assert root.get("aria-label") == "A & B"
    assert "<script>" not in markup


@pytest.mark.parametrize("values", [[None, None], []])
def test_sparkline_of_nothing_is_empty(values: list[float | None]) -> None:
    assert charts.sparkline(values) == ""


def test_sparkline_breaks_at_gaps() -> None:
    root = _parse(charts.sparkline([50, 60, None, 70, 80]))
    assert len(root.findall(f"{SVG}polyline")) == 2


def test_line_chart_draws_the_band_and_a_line_per_section() -> None:
    markup = charts.line_chart(
        ["2026-01", "2026-02", "2026-03"],
        [70, 75, 80],
        [60, 65, 70],
        [80, 85, 90],
        extra={"Greeting": [50, None, 60]},
        title="t",
    )
    root = _parse(markup)
    assert len(root.findall(f"{SVG}polygon")) == 1
    assert "Greeting" in markup


def test_funnel_limits_narrow_as_visits_grow() -> None:
    limits = funnel_limits(75.0, 15.0, 0.0, 40)
    assert limits is not None
    alert = limits["bands"][0]["points"]
    widths = [high - low for _, low, high in alert]
    assert widths == sorted(widths, reverse=True)
    _, _, high = next(p for p in alert if p[0] == 25)
    assert high - 75.0 == pytest.approx(1.959964 * 15 / 5, abs=0.01)


def test_funnel_limits_widen_for_overdispersion() -> None:
    plain = funnel_limits(75.0, 15.0, 0.0, 40)
    wide = funnel_limits(75.0, 15.0, 6.0, 40)
    assert plain is not None
    assert wide is not None
    assert wide["bands"][1]["points"][-1][2] > plain["bands"][1]["points"][-1][2]


def test_no_funnel_without_a_spread() -> None:
    assert funnel_limits(None, None, None, 5) is None


@pytest.mark.parametrize("value", [0, 25, 50, 75, 100, None])
def test_heat_colours_keep_dark_text_readable(value: float | None) -> None:
    colour = charts.heat_colour(value)
    r, g, b = (int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5))

    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    background = 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)
    ink = 0.2126 * linear(0x1F / 255) + 0.7152 * linear(0x29 / 255) + 0.0722 * linear(0x33 / 255)
    assert (background + 0.05) / (ink + 0.05) >= 7
