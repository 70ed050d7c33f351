"""SVG charts drawn on the server: pure functions from numbers to markup (no Flask, no JS).

Every chart carries role="img" and a <title>; pages put the same numbers in a table beside it.
Text is escaped here, so callers may mark the result safe.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

INK = "#1f2933"
MUTED = "#616e7c"
GRID = "#d9dee3"
ACCENT = "#1d5fa8"
BAND = "#c5d9f0"
ALERT = "#b45309"
ALARM = "#b42318"
PALETTE = ("#1d5fa8", "#b45309", "#2f7d32", "#7b3fa0", "#b42318", "#0f766e", "#6b7280")


def _f(value: float) -> str:
    return f"{value:.1f}"


def _svg(width: float, height: float, title: str, body: str, css_class: str = "chart") -> str:
    return (
        f'<svg class="{css_class}" viewBox="0 0 {_f(width)} {_f(height)}" role="img"'
        f' aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg"'
        f' preserveAspectRatio="xMinYMin meet"><title>{escape(title)}</title>{body}</svg>'
    )


def interval_bar(
    value: float | None,
    low: float | None,
    high: float | None,
    *,
    scale: tuple[float, float] = (0.0, 100.0),
    width: float = 140,
    height: float = 18,
    title: str = "",
) -> str:
    """Draw a score as a dot on a 0-100 track with its interval as a bar."""
    if value is None:
        return ""
    lo, hi = scale
    span = (hi - lo) or 1.0

    def x(v: float) -> float:
        return 4 + (min(max(v, lo), hi) - lo) / span * (width - 8)

    mid = height / 2
    body = f'<line x1="4" x2="{_f(width - 4)}" y1="{_f(mid)}" y2="{_f(mid)}" stroke="{GRID}"/>'
    if low is not None and high is not None:
        body += (
            f'<rect x="{_f(x(low))}" y="{_f(mid - 4)}" width="{_f(max(1.5, x(high) - x(low)))}"'
            f' height="8" rx="2" fill="{BAND}"/>'
        )
    body += f'<circle cx="{_f(x(value))}" cy="{_f(mid)}" r="4" fill="{ACCENT}"/>'
    label = title or (
        f"{value:.1f}" + (f" (90 % interval {low:.1f} to {high:.1f})" if low is not None else "")
    )
    return _svg(width, height, label, body, "chart chart-bar")


def sparkline(
    values: Sequence[float | None], *, width: float = 100, height: float = 24, title: str = ""
) -> str:
    """Draw a small line of values on a 0-100 scale; gaps where a value is missing."""
    if not any(v is not None for v in values):
        return ""
    step = (width - 4) / max(1, len(values) - 1)
    segments: list[list[str]] = [[]]
    last_point = ""
    for index, value in enumerate(values):
        if value is None:
            if segments[-1]:
                segments.append([])
            continue
        point = f"{_f(2 + index * step)},{_f(height - 2 - value / 100 * (height - 4))}"
        segments[-1].append(point)
        last_point = point
    body = "".join(
        f'<polyline points="{" ".join(seg)}" fill="none" stroke="{ACCENT}" stroke-width="1.5"/>'
        for seg in segments
        if len(seg) > 1
    )
    cx, cy = last_point.split(",")
    body += f'<circle cx="{cx}" cy="{cy}" r="2" fill="{ACCENT}"/>'
    label = title or "Monthly means: " + ", ".join("–" if v is None else f"{v:.0f}" for v in values)
    return _svg(width, height, label, body, "chart chart-spark")


def _y_axis(
    left: float, top: float, plot_w: float, plot_h: float, lo: float, hi: float, ticks: int = 5
) -> str:
    out = []
    for k in range(ticks + 1):
        value = lo + (hi - lo) * k / ticks
        y = top + plot_h - (value - lo) / (hi - lo) * plot_h
        out.append(
            f'<line x1="{_f(left)}" x2="{_f(left + plot_w)}" y1="{_f(y)}" y2="{_f(y)}"'
            f' stroke="{GRID}"/><text x="{_f(left - 6)}" y="{_f(y + 4)}" text-anchor="end"'
            f' font-size="11" fill="{MUTED}">{value:.0f}</text>'
        )
    return "".join(out)


def line_chart(
    periods: Sequence[str],
    means: Sequence[float | None],
    lows: Sequence[float | None],
    highs: Sequence[float | None],
    *,
    extra: dict[str, Sequence[float | None]] | None = None,
    title: str,
    width: float = 640,
    height: float = 260,
) -> str:
    """Draw a score over time with its 90 % band, and optional extra lines (sections)."""
    left, top, right, bottom = 40.0, 12.0, 32.0, 44.0
    plot_w, plot_h = width - left - right, height - top - bottom
    count = max(1, len(periods))
    step = plot_w / max(1, count - 1)

    def x(i: int) -> float:
        return left + (i * step if count > 1 else plot_w / 2)

    def y(v: float) -> float:
        return top + plot_h - v / 100 * plot_h

    body = _y_axis(left, top, plot_w, plot_h, 0, 100)
    label_every = max(1, count // 6)
    for i, period in enumerate(periods):
        near_end = count - 1 - i < label_every and i != count - 1
        if (i % label_every == 0 and not near_end) or i == count - 1:
            body += (
                f'<text x="{_f(x(i))}" y="{_f(height - bottom + 16)}" text-anchor="middle"'
                f' font-size="11" fill="{MUTED}">{escape(period)}</text>'
            )
    upper = [(x(i), y(h)) for i, h in enumerate(highs) if h is not None and lows[i] is not None]
    lower = [(x(i), y(lo)) for i, lo in enumerate(lows) if lo is not None and highs[i] is not None]
    if len(upper) > 1:
        path = " ".join(f"{_f(a)},{_f(b)}" for a, b in upper + lower[::-1])
        body += f'<polygon points="{path}" fill="{BAND}" opacity="0.8"/>'
    for index, values in enumerate((extra or {}).values()):
        colour = PALETTE[(index + 1) % len(PALETTE)]
        body += _polyline([(x(i), y(v)) for i, v in enumerate(values) if v is not None], colour)
    body += _polyline([(x(i), y(v)) for i, v in enumerate(means) if v is not None], ACCENT, 2.5)
    for i, v in enumerate(means):
        if v is not None:
            if lows[i] is not None and highs[i] is not None:
                # Each period's own interval as a whisker too: a lone period has no band.
                body += (
                    f'<line x1="{_f(x(i))}" x2="{_f(x(i))}" y1="{_f(y(lows[i] or 0))}"'
                    f' y2="{_f(y(highs[i] or 0))}" stroke="{ACCENT}" stroke-opacity="0.5"/>'
                )
            body += f'<circle cx="{_f(x(i))}" cy="{_f(y(v))}" r="3" fill="{ACCENT}"/>'
    legend_y = height - 10
    body += (
        f'<rect x="{_f(left)}" y="{_f(legend_y - 9)}" width="14" height="10" fill="{BAND}"/>'
        f'<text x="{_f(left + 18)}" y="{_f(legend_y)}" font-size="11" fill="{INK}">'
        "mean and 90 % interval</text>"
    )
    offset, row_y = left + 170, legend_y
    for index, name in enumerate((extra or {}).keys()):
        colour = PALETTE[(index + 1) % len(PALETTE)]
        needed = 30 + 6.5 * min(18, len(name))
        if offset + needed > width:
            # Wrap the legend onto another line below, and make the picture taller for it.
            offset, row_y, height = left, row_y + 16, height + 16
        body += (
            f'<line x1="{_f(offset)}" x2="{_f(offset + 14)}" y1="{_f(row_y - 4)}"'
            f' y2="{_f(row_y - 4)}" stroke="{colour}" stroke-width="2"/>'
            f'<text x="{_f(offset + 18)}" y="{_f(row_y)}" font-size="11" fill="{INK}">'
            f"{escape(name[:18])}</text>"
        )
        offset += needed
    return _svg(width, height, title, body)


def _polyline(points: Sequence[tuple[float, float]], colour: str, stroke: float = 1.5) -> str:
    if len(points) < 2:
        return ""
    joined = " ".join(f"{_f(a)},{_f(b)}" for a, b in points)
    return (
        f'<polyline points="{joined}" fill="none" stroke="{colour}"'
        f' stroke-width="{stroke}" stroke-linejoin="round"/>'
    )


def funnel_plot(
    points: Sequence[tuple[str, int, float]],
    limits: dict[str, object] | None,
    *,
    title: str,
    width: float = 640,
    height: float = 320,
) -> str:
    """Draw each store's mean against its visits with control limits around the area mean.

    `limits` is fieldobs.dashboards.area.funnel_limits' result: a mean and bands of
    (n, low, high) points at 95 % and 99.8 %.
    """
    left, top, right, bottom = 40.0, 12.0, 16.0, 46.0
    plot_w, plot_h = width - left - right, height - top - bottom
    max_n = _nice_ceiling(max([n for _, n, _ in points] + [2]) * 1.1)

    def x(n: float) -> float:
        return left + n / max_n * plot_w

    def y(v: float) -> float:
        return top + plot_h - v / 100 * plot_h

    body = _y_axis(left, top, plot_w, plot_h, 0, 100)
    for n in _ticks(max_n):
        body += (
            f'<text x="{_f(x(n))}" y="{_f(top + plot_h + 16)}" text-anchor="middle"'
            f' font-size="11" fill="{MUTED}">{n:.0f}</text>'
        )
    body += (
        f'<text x="{_f(left + plot_w / 2)}" y="{_f(height - 14)}" text-anchor="middle"'
        f' font-size="11" fill="{INK}">visits in the period</text>'
    )
    if limits:
        mean = float(limits["mean"])  # type: ignore[arg-type]
        body += (
            f'<line x1="{_f(left)}" x2="{_f(left + plot_w)}" y1="{_f(y(mean))}"'
            f' y2="{_f(y(mean))}" stroke="{INK}" stroke-dasharray="4 3"/>'
        )
        for band in limits["bands"]:  # type: ignore[attr-defined]
            colour = ALERT if band["level"] < 0.99 else ALARM
            for side in (1, 2):
                shown = [(x(p[0]), y(p[side])) for p in band["points"] if p[0] <= max_n]
                body += _polyline(shown, colour, 1.2)
    for name, n, value in points:
        body += (
            f'<circle cx="{_f(x(n))}" cy="{_f(y(value))}" r="4" fill="{ACCENT}"'
            f' fill-opacity="0.75"><title>{escape(name)}: {value:.1f} from {n} visits'
            "</title></circle>"
        )
    legend = height - 4
    body += (
        f'<line x1="{_f(left)}" x2="{_f(left + 14)}" y1="{_f(legend - 4)}" y2="{_f(legend - 4)}"'
        f' stroke="{ALERT}" stroke-width="2"/><text x="{_f(left + 18)}" y="{_f(legend)}"'
        f' font-size="11" fill="{INK}">95 %</text>'
        f'<line x1="{_f(left + 60)}" x2="{_f(left + 74)}" y1="{_f(legend - 4)}"'
        f' y2="{_f(legend - 4)}" stroke="{ALARM}" stroke-width="2"/>'
        f'<text x="{_f(left + 78)}" y="{_f(legend)}" font-size="11" fill="{INK}">99.8 %</text>'
        f'<line x1="{_f(left + 130)}" x2="{_f(left + 144)}" y1="{_f(legend - 4)}"'
        f' y2="{_f(legend - 4)}" stroke="{INK}" stroke-dasharray="4 3"/>'
        f'<text x="{_f(left + 148)}" y="{_f(legend)}" font-size="11" fill="{INK}">'
        "area mean</text>"
    )
    return _svg(width, height, title, body)


def _nice_ceiling(value: float) -> int:
    """Round up to 1, 2 or 5 times a power of ten (an axis end a reader can count in)."""
    magnitude = 1
    while magnitude * 10 <= value:
        magnitude *= 10
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def _ticks(maximum: int) -> list[int]:
    """Return about five whole-number ticks from 0 to maximum."""
    step = max(1, _nice_ceiling(maximum / 5))
    return list(range(0, maximum + 1, step))


def heat_colour(value: float | None) -> str:
    """Return a background for a 0-100 score that dark text stays readable on (AA contrast)."""
    if value is None:
        return "#f3f4f6"
    # From a light red (low) through light yellow to light green (high): all pale enough
    # that #1f2933 text keeps a contrast above 7:1.
    v = max(0.0, min(100.0, value)) / 100
    if v < 0.5:
        t = v / 0.5
        r, g, b = 248, int(196 + (236 - 196) * t), int(190 + (170 - 190) * t)
    else:
        t = (v - 0.5) / 0.5
        r, g, b = int(248 - (248 - 190) * t), int(236 + (232 - 236) * t), int(170 + (190 - 170) * t)
    return f"#{r:02x}{g:02x}{b:02x}"


def hbar(value: float, maximum: float, *, width: float = 160, height: float = 14) -> str:
    """Draw a horizontal bar of value out of maximum (for "what to fix first")."""
    share = 0.0 if maximum <= 0 else max(0.0, min(1.0, value / maximum))
    body = (
        f'<rect x="0" y="2" width="{_f(width)}" height="{_f(height - 4)}" fill="{GRID}"/>'
        f'<rect x="0" y="2" width="{_f(width * share)}" height="{_f(height - 4)}"'
        f' fill="{ALERT}"/>'
    )
    return _svg(width, height, f"{value:.2f} points per visit", body, "chart chart-hbar")
