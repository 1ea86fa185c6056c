"""Small inline SVG charts for acceptance.html: a line plot, a horizontal bar chart and a state timeline.

Every chart has a ``viewBox`` and no fixed pixel size, so it scales with the page (and when printed). Text
is HTML-escaped here; numbers that are not finite never reach an attribute (a gap in the line instead).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any, TypeGuard

WIDTH = 640
HEIGHT = 180
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 64, 12, 10, 26
COLORS = ("#1f5fa8", "#c2541b", "#2e7d32", "#7b3fa0", "#a07a00", "#00838f")
#: How far past the last event a timeline goes, as a share of its span.
TAIL = 0.08
STATE_COLORS = {"inactive": "#b0bec5", "pending": "#f2a900", "firing": "#c62828"}


def _num(value: float) -> str:
    return f"{value:.1f}"


def short(value: float) -> str:
    """A compact label for an axis: 1.2k, 3.4M, 0.05."""
    magnitude = abs(value)
    for factor, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if magnitude >= factor:
            return f"{value / factor:.3g}{suffix}"
    return f"{value:.3g}"


def clock(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%H:%M:%S")


def _label(x: float, y: float, text: str, anchor: str = "start", css: str = "axis") -> str:
    return f'<text class="{css}" x="{_num(x)}" y="{_num(y)}" text-anchor="{anchor}">{escape(text)}</text>'


def _empty(text: str, label: str, height: int = 32) -> str:
    body = [_label(WIDTH / 2, min(20, height / 2), text, "middle", "empty")]
    return _frame(body, f"{label}: {text}", height)


def _frame(body: list[str], label: str, height: int = HEIGHT) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(label)}"'
        f' preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg">'
        + "".join(body) + "</svg>"
    )


def _segments(points: Sequence[Sequence[Any]]) -> list[list[tuple[float, float]]]:
    """Runs of finite (t, v) points; a missing or non-finite value ends a run."""
    runs: list[list[tuple[float, float]]] = [[]]
    for point in points:
        t, v = point[0], point[1] if len(point) > 1 else None
        if _finite(t) and _finite(v):
            runs[-1].append((float(t), float(v)))
        elif runs[-1]:
            runs.append([])
    return [run for run in runs if run]


def _finite(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def line_chart(series: Sequence[Mapping[str, Any]], start: float, end: float, label: str) -> str:
    """One polyline per series (``{"label": str, "points": [[t, v], ...]}``) over ``start..end``."""
    prepared = [(str(s.get("label", "")), _segments(s.get("points") or [])) for s in series]
    values = [v for _, runs in prepared for run in runs for _, v in run]
    if not values:
        return _empty("no data points", label, HEIGHT)
    low, high = min(values), max(values)
    if high == low:
        low, high = low - (abs(low) * 0.1 or 1.0), high + (abs(high) * 0.1 or 1.0)
    span_t = (end - start) or 1.0
    inner_w, inner_h = WIDTH - PAD_LEFT - PAD_RIGHT, HEIGHT - PAD_TOP - PAD_BOTTOM

    def x(t: float) -> float:
        return PAD_LEFT + (min(max(t, start), end) - start) / span_t * inner_w

    def y(v: float) -> float:
        return PAD_TOP + (high - v) / (high - low) * inner_h

    body = [
        f'<rect x="{PAD_LEFT}" y="{PAD_TOP}" width="{inner_w}" height="{inner_h}" class="plot-area"/>',
        _label(PAD_LEFT - 4, PAD_TOP + 10, short(high), "end"),
        _label(PAD_LEFT - 4, PAD_TOP + inner_h, short(low), "end"),
        _label(PAD_LEFT, HEIGHT - 8, clock(start)),
        _label(WIDTH - PAD_RIGHT, HEIGHT - 8, f"{clock(end)} UTC", "end"),
    ]
    for index, (name, runs) in enumerate(prepared):
        color = COLORS[index % len(COLORS)]
        count = sum(len(run) for run in runs)
        body.append(f'<g class="series" data-points="{count}"><title>{escape(name)}</title>')
        for run in runs:
            coords = " ".join(f"{_num(x(t))},{_num(y(v))}" for t, v in run)
            if len(run) == 1:
                t, v = run[0]
                body.append(f'<circle cx="{_num(x(t))}" cy="{_num(y(v))}" r="2" fill="{color}"/>')
            else:
                body.append(f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="1.5"/>')
        body.append("</g>")
    return _frame(body, label)


def bar_chart(items: Sequence[tuple[str, float]], unit: str, label: str) -> str:
    """Horizontal bars, one per (name, value); values that are not finite or negative get no bar."""
    rows = [(name, value if math.isfinite(value) and value >= 0 else None) for name, value in items]
    if not rows:
        return _empty("no timings", label)
    top = max((v for _, v in rows if v is not None), default=0.0) or 1.0
    left, bar_h, gap = 170, 16, 6
    height = PAD_TOP + len(rows) * (bar_h + gap) + 4
    usable = WIDTH - left - 90
    body = []
    for index, (name, value) in enumerate(rows):
        y = PAD_TOP + index * (bar_h + gap)
        body.append(_label(left - 6, y + bar_h - 4, name, "end"))
        if value is None:
            body.append(_label(left, y + bar_h - 4, "not measured"))
            continue
        width = value / top * usable
        body.append(f'<rect class="bar" x="{left}" y="{y}" width="{_num(width)}" height="{bar_h}"/>')
        body.append(_label(left + width + 4, y + bar_h - 4, f"{value:g} {unit}"))
    return _frame(body, label, height)


def timeline(events: Sequence[Mapping[str, Any]], label: str) -> str:
    """One lane per source; each state lasts from its event until the next event of that source."""
    lanes: dict[str, list[tuple[float, str]]] = {}
    for event in events:
        if not isinstance(event, Mapping):
            continue
        t = event.get("t")
        if not _finite(t):
            continue
        lanes.setdefault(str(event.get("source", "?")), []).append((float(t), str(event.get("state", "?"))))
    if not lanes:
        return _empty("no timeline", label)
    times = [t for lane in lanes.values() for t, _ in lane]
    start, last = min(times), max(times)
    end = last + ((last - start) * TAIL or 1.0)  # the last state shows as a stretch, not a sliver
    span = end - start
    left, lane_h, gap = 110, 18, 8
    usable = WIDTH - left - PAD_RIGHT
    height = PAD_TOP + len(lanes) * (lane_h + gap) + 38
    body = []
    for index, (source, lane) in enumerate(sorted(lanes.items())):
        lane.sort()
        y = PAD_TOP + index * (lane_h + gap)
        body.append(_label(left - 6, y + lane_h - 5, source, "end"))
        for number, (t, state) in enumerate(lane):
            stop = lane[number + 1][0] if number + 1 < len(lane) else end
            x0 = left + (t - start) / span * usable
            width = max((stop - t) / span * usable, 3.0)
            color = STATE_COLORS.get(state, "#607d8b")
            body.append(
                f'<rect class="state" data-state="{escape(state)}" x="{_num(x0)}" y="{y}"'
                f' width="{_num(width)}" height="{lane_h}" fill="{color}">'
                f'<title>{escape(source)} {escape(state)} at {clock(t)} (+{t - start:.1f}s)</title></rect>'
            )
            if width > 60:
                body.append(_label(x0 + 4, y + lane_h - 5, f"{state} +{t - start:.0f}s", css="axis on-state"))
    axis_y = height - 24
    body.append(_label(left, axis_y, clock(start)))
    body.append(_label(left + (last - start) / span * usable, axis_y, f"+{last - start:.1f}s", "middle"))
    for number, (state, color) in enumerate(STATE_COLORS.items()):
        x = left + number * 110
        body.append(f'<rect x="{x}" y="{height - 16}" width="12" height="12" fill="{color}"/>')
        body.append(_label(x + 16, height - 6, state))
    return _frame(body, label, height)
