"""The series behind the metric requirements, read once at the end of a session for acceptance.html.

For every ``metrics.*`` requirement of the profile, each of its PromQL expressions (``queries`` or ``query``)
is read with ``query_range`` over the session window, with a step that gives about :data:`POINTS` points.
This is decoration for the report: it has a time budget, and an error becomes a note, never a verdict.
``${rate_window}`` in a query becomes :data:`RATE_WINDOW_INTERVALS` plot steps: the plot's resolution, not
the check's window (which follows the scrape interval, see :mod:`checks.rate`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from monitoring_conformance.checks.rate import RATE_WINDOW_INTERVALS
from monitoring_conformance.profile import Profile
from monitoring_conformance.requirement import first_line

#: Points per series the step aims at.
POINTS = 200
#: Series kept per expression (the rest is counted in a note).
MAX_SERIES = 6
#: Seconds the whole collection may take.
BUDGET_S = 20.0


def step_for(start: float, end: float, points: int = POINTS) -> float:
    """A whole number of seconds (at least 1) that splits ``start..end`` into at most ~``points`` steps."""
    return float(max(1, math.ceil(max(end - start, 0.0) / points)))


def expressions(profile: Profile) -> dict[str, dict[str, str]]:
    """``{requirement id: {name: PromQL}}`` for the metric requirements of ``profile``."""
    found: dict[str, dict[str, str]] = {}
    for rid in profile.ids():
        spec = profile.spec(rid)
        if spec is None or not rid.startswith("metrics."):
            continue
        exprs = spec.mapping("queries") if "queries" in spec.options else {}
        if "query" in spec.options:
            exprs["query"] = spec.text("query")
        if exprs:
            found[rid] = exprs
    return found


def collect(
    prometheus: Any,
    profile: Profile,
    start: float,
    end: float,
    *,
    budget_s: float = BUDGET_S,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """The ``series`` section of acceptance.json: window, step, per requirement the plotted series, notes."""
    step = step_for(start, end)
    section: dict[str, Any] = {
        "start": round(start, 3), "end": round(end, 3), "step": step, "requirements": {}, "notes": [],
    }
    wanted = expressions(profile)
    if prometheus is None:
        if wanted:
            section["notes"].append("no plots: no Prometheus in this session, or the session was interrupted")
        return section
    deadline = clock() + budget_s
    for rid, exprs in wanted.items():
        plots = section["requirements"].setdefault(rid, [])
        for name, expr in exprs.items():
            if clock() > deadline:
                section["notes"].append(f"{rid} {name}: not read, the {budget_s:g}s for plots were spent")
                continue
            expr = expr.replace("${rate_window}", f"{RATE_WINDOW_INTERVALS * step:g}s")
            try:
                found = prometheus.query_range(expr, start, end, step)
            except Exception as exc:
                section["notes"].append(f"{rid} {name}: query_range failed: {first_line(str(exc))}")
                continue
            kept = found[:MAX_SERIES]
            if len(found) > MAX_SERIES:
                section["notes"].append(f"{rid} {name}: {len(found)} series, the first {MAX_SERIES} plotted")
            plots.append({
                "name": name,
                "query": expr,
                "series": [
                    {"metric": dict(s.metric), "points": [[t, _finite(v)] for t, v in s.points]} for s in kept
                ],
            })
    return section


def _finite(value: float) -> float | None:
    return round(value, 6) if math.isfinite(value) else None
