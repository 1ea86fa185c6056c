"""grafana.ready_within_30s from the watch a kube target ran while it installed the chart.

When this run installed the chart (kind, or kubeconfig with ``--install-chart``), Grafana was polled from
right before ``helm upgrade --install`` started (t0) every half second
(:mod:`monitoring_conformance.install_watch`). That is a real measurement, unlike polling a Grafana that is
already up: the ready time is the end of the first successful probe, an upper bound by at most one poll
interval, so a pass is never false and a figure above the threshold is a real FAIL. A watch that saw
Grafana not ready for longer than the threshold is a FAIL too (the figure is then a lower bound).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from monitoring_conformance.api.grafana import Grafana
from monitoring_conformance.checks.base import fail
from monitoring_conformance.requirement import Record

LOOK_NEXT = ("the Grafana pod's events and log (image pull, plugins, database), and the install phase's "
             "timing; Grafana health and search in the diagnostics section")


def usable(observation: Mapping[str, Any] | None, dashboard_uid: str) -> bool:
    """Whether the watch measured what this check asks (the same dashboard, a start and an end)."""
    if not observation or observation.get("dashboard_uid") != dashboard_uid:
        return False
    return observation.get("t0") is not None and observation.get("watched_until") is not None


def judge(
    grafana: Grafana,
    observation: Mapping[str, Any],
    ready_at: float | None,
    threshold: float,
    record: Record,
) -> float | None:
    """The measured seconds (pass), a CheckFailed (above ``threshold``), or None: the watch proves nothing
    (it ended before the threshold without seeing Grafana ready), so the caller polls itself."""
    t0 = float(observation["t0"])
    source = str(observation.get("t0_source", "the watch's t0"))
    interval = observation.get("interval", "?")
    via = observation.get("via", "the API-server proxy")
    record.add_evidence(
        f"GET /api/health, GET /api/dashboards/uid/{observation.get('dashboard_uid')} every {interval}s"
        f" while the chart was installed ({via})",
        dict(observation), t0=t0, t0_source=source,
    )
    record.note(
        "how it is measured: Grafana was polled from the start of `helm upgrade --install` (t0); the figure"
        " is the end of the first successful probe minus t0, an upper bound by at most one poll interval"
    )
    if ready_at is not None:
        measured = round(ready_at - t0, 3)
        record.measured = measured
        if measured > threshold:
            raise fail(
                record,
                f"Grafana became ready {measured:.1f}s after t0 ({source}), more than {threshold:g}s",
                f"first success after {observation.get('attempts')} probes during the install: "
                f"{observation.get('health')}",
                request=f"the install-time watch ({via})",
                look_next=LOOK_NEXT,
            )
        record.message = f"ready {measured:.1f}s after t0 ({source}), measured live during the install"
        return measured
    watched = round(float(observation["watched_until"]) - t0, 3)
    if watched <= threshold:
        return None
    record.measured = watched
    raise fail(
        record,
        f"Grafana was still not ready {watched:.1f}s after t0 ({source}), more than {threshold:g}s",
        f"{observation.get('last')} (the watch stopped: {observation.get('stopped')})",
        request=f"the install-time watch ({via}); {grafana.endpoint.describe()} for the checks",
        look_next=LOOK_NEXT,
    )
