"""grafana.ready_within_30s from the watch a kube target ran while it installed the chart.

When this run installed the chart (kind, or kubeconfig with ``--install-chart``), Grafana was polled from
right before ``helm upgrade --install`` started (t0) every half second
(:mod:`monitoring_conformance.install_watch`). That is a real measurement, unlike polling a Grafana that is
already up, as long as the Grafana that answered is one this install deployed: the watch counts an answer
only once no Grafana pod from before t0 is left. The ready time is then the end of the first such
successful probe, an upper bound, so a pass is never false and a figure above the threshold is a real FAIL.

What the watch's evidence supports, and nothing more:

* ready seen: the figure (pass, or FAIL above the threshold);
* no Grafana pod created at or after t0 (``helm upgrade`` of a kept cluster left Grafana alone), or the
  pods could not be listed: not_verified, with the reason (nothing fresh was measured);
* answers seen only while a pod from before t0 was still alive: not_verified (which pod answered is
  unknown);
* never an answer, for longer than the threshold after t0: FAIL (the figure is then a lower bound);
* the watch ended sooner without an answer: not_verified, with the reason it stopped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from monitoring_conformance.api.grafana import Grafana
from monitoring_conformance.checks.base import NotVerifiable, fail
from monitoring_conformance.requirement import Record

LOOK_NEXT = (
    "the Grafana pod's events and log (image pull, plugins, database), and the install phase's "
    "timing; Grafana health and search in the diagnostics section"
)
#: How to get a measurement when the install did not deploy a fresh Grafana.
FRESH_FIX = (
    "to measure it, install where the release is not: `helm uninstall <release> -n <namespace>` "
    "first, or (kind) `kind delete cluster --name <cluster>` and run again"
)


def usable(observation: Mapping[str, Any] | None, dashboard_uid: str) -> bool:
    """Whether the watch measured what this check asks (the same dashboard, a start and an end)."""
    if not observation or observation.get("dashboard_uid") != dashboard_uid:
        return False
    return observation.get("t0") is not None and observation.get("watched_until") is not None


def fresh(observation: Mapping[str, Any]) -> bool:
    """Whether the watch saw the moment from which only Grafana pods of this install could answer: then
    Grafana was not ready before t0, and a poll made now bounds its ready time from above."""
    return observation.get("fresh") is True


def not_fresh_reason(observation: Mapping[str, Any]) -> str:
    """Why the watch's answers (or a poll now) cannot stand for a fresh deployment's ready time."""
    pods = observation.get("grafana_pods") or []
    shown = ", ".join(f"{p.get('name')} (created {p.get('created') or '?'})" for p in pods[:3]) or "none"
    deployment = observation.get("deployment", "this install")
    redeployed = observation.get("redeployed")
    if redeployed is False and not pods:
        selector = observation.get("selector") or "app.kubernetes.io/name=grafana"
        answered = " (yet a Grafana answered: one outside this release, or with other labels)" if (
            observation.get("answered")) else ""
        return (f"no Grafana pod exists: listing the pods with the selector {selector} found none{answered},"
                f" so {deployment} runs no Grafana whose ready time could be measured;"
                " check that the release "
                "deploys Grafana (the chart's Grafana values, `kubectl get pods -A -l "
                f"{selector}`) and the namespace given to the run")
    if redeployed is False:
        return (
            f"{deployment} did not redeploy Grafana: no Grafana pod was created after t0 (pods: {shown});"
            " the Grafana that answers was already running, so its ready time was not measured; " + FRESH_FIX
        )
    stopped = f"{observation.get('stopped')}; last: {observation.get('last')}"
    if redeployed is None:
        return (
            f"the Grafana pods could not be listed, so whether {deployment} deployed Grafana is unknown"
            f" ({stopped})"
        )
    if observation.get("answered"):
        return (
            f"Grafana answered only while a pod from before t0 was still alive (pods: {shown}), so "
            f"whether the new deployment answered is unknown (the watch stopped: {stopped})"
        )
    return (
        f"a Grafana pod from before t0 was still alive (pods: {shown}), so Grafana may have been ready "
        f"before t0 and a poll now cannot bound its ready time; {FRESH_FIX}"
    )


def judge(
    grafana: Grafana,
    observation: Mapping[str, Any],
    ready_at: float | None,
    threshold: float,
    record: Record,
) -> float:
    """The measured seconds (pass), a CheckFailed (above ``threshold``, or never ready for longer than it),
    or NotVerifiable: the watch proves neither (see the module docstring)."""
    t0 = float(observation["t0"])
    source = str(observation.get("t0_source", "the watch's t0"))
    interval = observation.get("interval", "?")
    via = observation.get("via", "the API-server proxy")
    record.add_evidence(
        f"GET /api/health, GET /api/dashboards/uid/{observation.get('dashboard_uid')} every {interval}s"
        f" while the chart was installed ({via}); {observation.get('pods_source', 'Grafana pods')}",
        dict(observation),
        t0=t0,
        t0_source=source,
    )
    record.note(
        "how it is measured: Grafana was polled from the start of `helm upgrade --install` (t0); the figure"
        " is the end of the first successful probe made once no Grafana pod from before t0 was left, minus"
        " t0: an upper bound by at most one poll interval and one look at the pods"
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
    if observation.get("redeployed") is not True or (observation.get("answered") and not fresh(observation)):
        raise NotVerifiable(not_fresh_reason(observation))
    watched = round(float(observation["watched_until"]) - t0, 3)
    if watched <= threshold:
        raise NotVerifiable(
            f"the install-time watch stopped {watched:.1f}s after t0, before {threshold:g}s, without seeing "
            f"Grafana ready ({observation.get('stopped')}; last: {observation.get('last')})"
        )
    record.measured = watched
    raise fail(
        record,
        f"Grafana was still not ready {watched:.1f}s after t0 ({source}), more than {threshold:g}s",
        f"{observation.get('last')} (the watch stopped: {observation.get('stopped')})",
        request=f"the install-time watch ({via}); {grafana.endpoint.describe()} for the checks",
        look_next=LOOK_NEXT,
    )
