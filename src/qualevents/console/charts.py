"""Charts as inline SVG, drawn on the server: no script, no library, nothing fetched.
Imports nothing of ours.

Text in the SVG is escaped here (``html.escape``); the caller marks the result safe.
"""

from __future__ import annotations

from datetime import date, timedelta
from html import escape
from typing import Any

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 16, 40


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    step = 10 ** (len(str(int(value))) - 1)
    for factor in (1, 2, 2.5, 5, 10):
        if value <= factor * step:
            return float(factor * step)
    return float(10 * step)


def fill_days(rows: list[dict[str, Any]], start: date, end: date) -> list[dict[str, Any]]:
    """``rows`` (``{"date", "events", "units"}``) with the days without events as zeros."""
    by_day = {row["date"]: row for row in rows}
    filled = []
    day = start
    while day <= end:
        key = day.isoformat()
        filled.append(by_day.get(key) or {"date": key, "events": 0, "units": {}})
        day += timedelta(days=1)
    return filled


def bar_chart(
    points: list[tuple[str, float]], title: str, unit: str = "events", label_from: int = 5
) -> str:
    """A bar per point (label, value) with a y axis from 0; accessible name ``title``; the
    x labels are the points' labels from character ``label_from`` (5: a date's month-day)."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = max(4.0, _nice_max(max((value for _, value in points), default=0)))
    n = max(1, len(points))
    slot = plot_w / n
    bar = max(1.0, slot * 0.8)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'class="chart" role="img" aria-labelledby="chart-title">',
        f'<title id="chart-title">{escape(title)}</title>',
    ]
    decimals = 0 if (top / 4).is_integer() else 1
    for i in range(5):
        value = top * i / 4
        y = TOP + plot_h - plot_h * i / 4
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">'
            f"{value:,.{decimals}f}</text>"
        )
    for i, (label, value) in enumerate(points):
        height = plot_h * value / top if top else 0
        x = LEFT + i * slot + (slot - bar) / 2
        y = TOP + plot_h - height
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{height:.1f}" class="bar">'
            f"<title>{escape(label)}: {value:,.0f} {escape(unit)}</title></rect>"
        )
    if points:
        step = max(1, len(points) // 6)
        for i in range(0, len(points), step):
            x = LEFT + i * slot + slot / 2
            parts.append(
                f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" '
                f'class="tick">{escape(points[i][0][label_from : label_from + 24])}</text>'
            )
    parts.append(
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}" '
        'class="axis"/></svg>'
    )
    return "".join(parts)


def daily_chart(rows: list[dict[str, Any]], start: date, end: date, name: str) -> str:
    filled = fill_days(rows, start, end)
    points = [(row["date"], float(row["events"])) for row in filled]
    return bar_chart(points, f"Events per day of {name}, {start} to {end}")
