"""Diagnostics gathered when the verdict fails: what each system says about itself, plus the target's own.

Every collector is best effort: a system that does not answer gets a one-line note instead of data.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from monitoring_conformance.api.grafana import Grafana
from monitoring_conformance.api.loki import Loki
from monitoring_conformance.api.prometheus import Prometheus
from monitoring_conformance.checks.base import one_line
from monitoring_conformance.stack import Target

#: At most this many scrape targets are listed (unhealthy ones first).
MAX_TARGETS = 60


def _note(exc: BaseException) -> str:
    return "could not collect: " + one_line(exc)[:300]


def prometheus_targets(prometheus: Prometheus) -> list[dict[str, str]] | str:
    try:
        targets = prometheus.targets()
    except Exception as exc:
        return _note(exc)
    ordered = sorted(targets, key=lambda t: (t.up, t.job, t.scrape_url))
    return [
        {"job": t.job, "health": t.health, "scrape_url": t.scrape_url, "last_error": t.last_error}
        for t in ordered[:MAX_TARGETS]
    ]


def grafana_state(grafana: Grafana) -> dict[str, Any] | str:
    state: dict[str, Any] = {}
    try:
        state["health"] = grafana.health()
    except Exception as exc:
        state["health"] = _note(exc)
    try:
        state["search"] = [
            {"uid": d.get("uid"), "title": d.get("title"), "folder": d.get("folderTitle")}
            for d in grafana.search_dashboards()
        ]
    except Exception as exc:
        state["search"] = _note(exc)
    return state


def loki_labels(loki: Loki) -> list[str] | str:
    try:
        end_ns = time.time_ns()
        return loki.labels(start_ns=end_ns - 3600 * 10**9, end_ns=end_ns)
    except Exception as exc:
        return _note(exc)


def collect(
    *,
    prometheus: Prometheus | None,
    grafana: Grafana | None,
    loki: Loki | None,
    target: Target | None,
    directory: Path,
) -> dict[str, Any]:
    """Everything a reviewer needs to see why requirements failed, as report-ready data."""
    found: dict[str, Any] = {}
    if prometheus is not None:
        found["prometheus_targets"] = prometheus_targets(prometheus)
    if grafana is not None:
        found["grafana"] = grafana_state(grafana)
    if loki is not None:
        found["loki_labels"] = loki_labels(loki)
    if target is not None:
        try:
            found["target"] = target.diagnostics(directory)
        except Exception as exc:
            found["target"] = _note(exc)
    return found
