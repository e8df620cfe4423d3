"""Server-side SVG line charts for QoS over time: pure Python, no JavaScript, accessible.

Each chart is one inline `<svg role="img">` with a `<title>` and a `<desc>` (which also states
each series' min/avg/max, so a screen reader gets the numbers), labelled axes, and a legend.
Series differ by colour (Okabe-Ito, safe for colour-blind readers) *and* by dash pattern, so
the chart reads in greyscale print too. A `None` value breaks the line (Zoom sent no number).
Every piece of text is escaped; the result is safe to insert into a template.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# Okabe-Ito palette, then dash patterns, cycled together.
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
DASHES = ("", "6 3", "2 3", "8 3 2 3", "4 4", "1 2", "10 4")

Number = float | int
XValue = dt.datetime | Number


@dataclass(frozen=True)
class ChartSeries:
    name: str
    points: Sequence[tuple[XValue, Number | None]]


@dataclass(frozen=True)
class Threshold:
    """A horizontal reference line, e.g. the limit a classification rule uses."""

    value: Number
    label: str


# Zoom's numbers are milliseconds, percentages and kbps; anything beyond this is a bad value
# that would otherwise blow up the scale arithmetic (e.g. -1e308 overflows to -inf).
CHART_VALUE_LIMIT = 1e6


def _sane(value: Number | None) -> float | None:
    """None for a missing or non-finite number (a gap), else clamped to ±CHART_VALUE_LIMIT."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    if not math.isfinite(number):
        return None
    return max(-CHART_VALUE_LIMIT, min(CHART_VALUE_LIMIT, number))


def _sane_points(points) -> list[tuple[XValue, float | None]]:
    return [(x, _sane(v)) for x, v in points
            if isinstance(x, dt.datetime) or _sane(x) is not None]


def _x_number(x: XValue) -> float:
    return x.timestamp() if isinstance(x, dt.datetime) else float(x)


def _nice_step(span: float, target_ticks: int = 5) -> float:
    if span <= 0:
        return 1.0
    raw = span / target_ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def _fmt_number(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 100 or float(value).is_integer():
        return f"{value:.0f}"
    return f"{value:.2f}".rstrip("0").rstrip(".") if abs(value) < 10 else f"{value:.1f}"


def _fmt_x(x: float, is_time: bool, span: float) -> str:
    if not is_time:
        return _fmt_number(x)
    moment = timezone.localtime(dt.datetime.fromtimestamp(x, tz=dt.UTC))
    return moment.strftime("%H:%M" if span < 86400 else "%m-%d %H:%M")


def _summary(series: ChartSeries, unit: str) -> str:
    values = [float(v) for _, v in series.points if v is not None]
    if not values:
        return f"{series.name}: no data"
    avg = sum(values) / len(values)
    return (f"{series.name}: min {_fmt_number(min(values))}, avg {_fmt_number(avg)}, "
            f"max {_fmt_number(max(values))} {unit}".rstrip())


def line_chart_svg(*, chart_id: str, title: str, series: Sequence[ChartSeries],
                   x_label: str = "Time", y_label: str = "", unit: str = "",
                   thresholds: Sequence[Threshold] = (), width: int = 640, height: int = 260,
                   description: str = "") -> SafeString:
    """One line chart as inline SVG. `chart_id` must be unique in the page (ids for ARIA)."""
    series = [ChartSeries(s.name, _sane_points(s.points)) for s in series]
    series = [s for s in series if any(v is not None for _, v in s.points)]
    thresholds = [t for t in thresholds if _sane(t.value) == t.value]
    cid = escape(chart_id)
    legend_rows = math.ceil(len(series) / 3) if series else 0
    margin_left, margin_right, margin_top = 60, 16, 30
    margin_bottom = 48 + 18 * legend_rows
    plot_w = width - margin_left - margin_right
    plot_h = height - margin_top - margin_bottom
    if plot_h < 60:
        height += 60 - plot_h
        plot_h = 60

    summaries = "; ".join(_summary(s, unit) for s in series) or "No data."
    desc = f"{description} {summaries}".strip()
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="qos-chart" id="{cid}" role="img" '
        f'viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMinYMin meet" '
        f'aria-labelledby="{cid}-title {cid}-desc" data-series="'
        f'{escape("|".join(s.name for s in series))}">',
        f'<title id="{cid}-title">{escape(title)}</title>',
        f'<desc id="{cid}-desc">{escape(desc)}</desc>',
        f'<text x="{margin_left}" y="18" class="qos-chart-title" font-size="13" '
        f'font-weight="bold">{escape(title)}</text>',
    ]
    if not series:
        out.append(f'<text x="{width / 2}" y="{margin_top + plot_h / 2}" text-anchor="middle" '
                   f'font-size="12">No data</text></svg>')
        return mark_safe("".join(out))  # noqa: S308 - every interpolated text is escaped

    xs = [_x_number(x) for s in series for x, v in s.points if v is not None]
    ys = [float(v) for s in series for _, v in s.points if v is not None]
    ys += [float(t.value) for t in thresholds]
    is_time = any(isinstance(x, dt.datetime) for s in series for x, _ in s.points)
    x_min, x_max = min(xs), max(xs)
    if x_max == x_min:
        x_min, x_max = x_min - 30, x_max + 30
    y_min = min(0.0, min(ys))
    y_step = _nice_step(max(ys) - y_min or 1.0)
    y_max = math.ceil(max(ys) / y_step) * y_step if max(ys) > 0 else y_step
    if y_max <= y_min:
        y_max = y_min + y_step

    def px(x: float) -> float:
        return margin_left + (x - x_min) / (x_max - x_min) * plot_w

    def py(y: float) -> float:
        return margin_top + plot_h - (y - y_min) / (y_max - y_min) * plot_h

    # Axes, grid and tick labels.
    out.append('<g class="axes" font-size="11" fill="#333" stroke="none">')
    tick = y_min
    while tick <= y_max + y_step / 1000:
        y = py(tick)
        out.append(f'<line x1="{margin_left}" y1="{y:.1f}" x2="{margin_left + plot_w}" '
                   f'y2="{y:.1f}" stroke="#ddd" stroke-width="1"/>')
        out.append(f'<text x="{margin_left - 6}" y="{y + 4:.1f}" text-anchor="end">'
                   f'{escape(_fmt_number(tick))}</text>')
        tick += y_step
    x_ticks = 5
    for i in range(x_ticks + 1):
        xv = x_min + (x_max - x_min) * i / x_ticks
        x = px(xv)
        out.append(f'<line x1="{x:.1f}" y1="{margin_top + plot_h}" x2="{x:.1f}" '
                   f'y2="{margin_top + plot_h + 4}" stroke="#333"/>')
        anchor = "start" if i == 0 else "end" if i == x_ticks else "middle"
        out.append(f'<text x="{x:.1f}" y="{margin_top + plot_h + 16}" text-anchor="{anchor}">'
                   f'{escape(_fmt_x(xv, is_time, x_max - x_min))}</text>')
    out.append(f'<line x1="{margin_left}" y1="{margin_top}" x2="{margin_left}" '
               f'y2="{margin_top + plot_h}" stroke="#333"/>')
    out.append(f'<line x1="{margin_left}" y1="{margin_top + plot_h}" '
               f'x2="{margin_left + plot_w}" y2="{margin_top + plot_h}" stroke="#333"/>')
    y_title = f"{y_label} ({unit})" if unit and y_label else (y_label or unit)
    out.append(f'<text class="axis-label" x="14" y="{margin_top + plot_h / 2:.1f}" '
               f'text-anchor="middle" transform="rotate(-90 14 {margin_top + plot_h / 2:.1f})">'
               f'{escape(y_title)}</text>')
    x_title = x_label
    if is_time:
        x_title = f"{x_label} ({timezone.localtime().tzname()})"
    out.append(f'<text class="axis-label" x="{margin_left + plot_w / 2:.1f}" '
               f'y="{margin_top + plot_h + 32}" text-anchor="middle">{escape(x_title)}</text>')
    out.append("</g>")

    for threshold in thresholds:
        y = py(float(threshold.value))
        out.append(f'<g class="threshold"><line x1="{margin_left}" y1="{y:.1f}" '
                   f'x2="{margin_left + plot_w}" y2="{y:.1f}" stroke="#b00" stroke-width="1" '
                   f'stroke-dasharray="3 3"/><text x="{margin_left + plot_w - 2}" '
                   f'y="{y - 3:.1f}" text-anchor="end" font-size="10" fill="#b00">'
                   f'{escape(threshold.label)}</text></g>')

    # Lines: one <path> per series, a gap wherever the value is None.
    for index, s in enumerate(series):
        colour, dash = COLOURS[index % len(COLOURS)], DASHES[index % len(DASHES)]
        commands, pen_down, dots = [], False, []
        for x, v in sorted(s.points, key=lambda p: _x_number(p[0])):
            if v is None:
                pen_down = False
                continue
            cx, cy = px(_x_number(x)), py(float(v))
            commands.append(f"{'L' if pen_down else 'M'}{cx:.1f},{cy:.1f}")
            dots.append((cx, cy))
            pen_down = True
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(f'<g class="series" data-name="{escape(s.name)}">'
                   f'<path d="{" ".join(commands)}" fill="none" stroke="{colour}" '
                   f'stroke-width="2"{dash_attr}><title>{escape(_summary(s, unit))}</title>'
                   f'</path>')
        if len(dots) <= 90:  # markers help single samples and short series stay visible
            out.extend(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="2.2" fill="{colour}"/>'
                       for cx, cy in dots)
        out.append("</g>")

    # Legend, three entries a row, under the x axis title.
    out.append('<g class="legend" font-size="11">')
    legend_top = margin_top + plot_h + 44
    column_w = plot_w / 3
    for index, s in enumerate(series):
        colour, dash = COLOURS[index % len(COLOURS)], DASHES[index % len(DASHES)]
        lx = margin_left + (index % 3) * column_w
        ly = legend_top + (index // 3) * 18
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(f'<line x1="{lx:.1f}" y1="{ly:.1f}" x2="{lx + 22:.1f}" y2="{ly:.1f}" '
                   f'stroke="{colour}" stroke-width="2"{dash_attr}/>'
                   f'<text x="{lx + 28:.1f}" y="{ly + 4:.1f}">{escape(s.name)}</text>')
    out.append("</g></svg>")
    return mark_safe("".join(out))  # noqa: S308 - every interpolated text is escaped
