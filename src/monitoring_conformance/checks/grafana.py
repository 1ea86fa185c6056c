"""Checks answered by Grafana: dashboards provisioned, panels return data, Grafana ready within 30 s."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from monitoring_conformance import dashboards
from monitoring_conformance.api.grafana import Grafana, panel_queries
from monitoring_conformance.checks import served, watched
from monitoring_conformance.checks.base import NotVerifiable, Poll, expect, fail, request_line
from monitoring_conformance.profile import Spec
from monitoring_conformance.requirement import Record
from monitoring_conformance.wait import Clock

T = TypeVar("T")
GRAFANA_HINT = "Grafana health and search in the diagnostics section, and the Grafana pod's log"


def overview_uid(directory: Path) -> str:
    """The overview dashboard: the one ``requirements.yaml`` maps most requirements to."""
    mapping = dashboards.load_requirements(directory)
    if not mapping:
        raise NotVerifiable(f"{directory / dashboards.REQUIREMENTS_FILE} maps no requirement to a dashboard")
    counts = Counter(uid for uid, _ in mapping.values())
    return counts.most_common(1)[0][0]


def _case(
    poll: Poll, probe: Callable[[], T], seen: dict[str, Any], *, case: str, what: str, look_next: str,
    request: str,
) -> T:
    """One case of a per-dashboard or per-panel requirement: poll, keep the evidence, count a pass."""
    try:
        value = poll.until(probe, what=what, look_next=look_next)
    finally:
        poll.record.add_evidence(request, seen, case=case)
    poll.record.measured = int(poll.record.measured or 0) + 1
    return value


def dashboard_provisioned(
    grafana: Grafana,
    dashboard: dashboards.Dashboard,
    spec: Spec,
    record: Record,
    *,
    total: int,
    clock: Clock | None = None,
) -> dict[str, Any]:
    """dashboards.provisioned (one case per dashboard file): found in search, loads by uid, same panels."""
    uid = dashboard.uid
    want_panels = len(list(dashboards.iter_panels(dashboard.data)))
    record.threshold = total
    seen: dict[str, Any] = {}

    def probe() -> dict[str, Any]:
        found = {str(item.get("uid")): str(item.get("title", "")) for item in grafana.search_dashboards()}
        seen["search"] = sorted(found)[:20]
        expect(uid in found, f"uid {uid} is not among the {len(found)} dashboards Grafana's search lists")
        model = grafana.dashboard(uid)
        got_panels = len(list(dashboards.iter_panels(model)))
        seen["loaded"] = {"uid": model.get("uid"), "title": model.get("title"), "panels": got_panels}
        expect(
            got_panels == want_panels,
            f"dashboard {uid} loads with {got_panels} panels, {dashboard.path.name} has {want_panels}",
        )
        changed = served.differences(dashboard.data, model)
        seen["differences"] = changed
        expect(not changed, f"dashboard {uid} differs from {dashboard.path.name}: {'; '.join(changed)}")
        return model

    return _case(
        Poll(record, spec, clock=clock, endpoints=(grafana.endpoint,)), probe, seen, case=uid,
        what=f"dashboard {uid} ({dashboard.path.name}) found in search and loaded by uid",
        look_next=f"the dashboard ConfigMaps and the Grafana sidecar's log; {GRAFANA_HINT}",
        request=f"GET /api/search, GET /api/dashboards/uid/{uid} ({grafana.endpoint.describe()})",
    )  # fmt: skip


def panel_has_data(
    grafana: Grafana,
    dashboard: dashboards.Dashboard,
    panel: Mapping[str, Any],
    spec: Spec,
    record: Record,
    *,
    total: int,
    clock: Clock | None = None,
) -> str:
    """dashboards.panels_have_data (one case per panel of the chart's file): every query of the panel, as
    the dashboard Grafana *serves* has it (matched by panel id, variables from the served model's templating
    and the profile), returns data without error. A panel the served model lacks fails, named."""
    name = f"{dashboard.uid}/{panel.get('id')} {panel.get('title', '')!r}"
    record.threshold = total
    range_from = spec.text("range")
    seen: dict[str, Any] = {"served": f"GET /api/dashboards/uid/{dashboard.uid}"}

    def probe() -> str:
        model = grafana.dashboard(dashboard.uid)
        found = dashboards.find_panel(model, panel.get("id"))
        expect(found is not None, f"panel {name} is missing from the dashboard Grafana serves")
        assert found is not None
        variables = {**dashboards.default_variables(model), **spec.mapping("variables")}
        queries = panel_queries(found, variables)
        if not queries:
            raise NotVerifiable(f"panel {name} has no visible query to run in the dashboard Grafana serves")
        seen["queries"] = {q["refId"]: q.get("expr") for q in queries}
        result = grafana.ds_query(queries, from_=range_from, to="now")
        seen["result"] = result.describe()
        seen["sample"] = {ref: r.sample for ref, r in result.results.items()}
        problems = [f"{ref}: error {error}" for ref, error in result.errors.items()]
        problems += [f"{ref}: no data" for ref, r in result.results.items() if r.ok and r.rows == 0]
        expect(not problems, f"{'; '.join(problems)} (queries: {seen['queries']})")
        return result.describe()

    return _case(
        Poll(record, spec, clock=clock, endpoints=(grafana.endpoint,)), probe, seen, case=name,
        what=f"panel {name} returns data for {range_from}..now",
        look_next="the query in Grafana's Explore; Prometheus targets and Loki labels in the diagnostics",
        request=f"POST /api/ds/query from={range_from} ({grafana.endpoint.describe()})",
    )  # fmt: skip


def ready_within(
    grafana: Grafana,
    t0: float | None,
    t0_source: str,
    dashboard_uid: str,
    spec: Spec,
    record: Record,
    *,
    clock: Clock | None = None,
    wall: Callable[[], float] = time.time,
    ready_at: float | None = None,
    observation: Mapping[str, Any] | None = None,
) -> float:
    """grafana.ready_within_30s: seconds from t0 until /api/health says database ok AND the overview loads.

    When this run installed the chart, ``observation`` (and ``ready_at``) come from the watch during the
    install (Stack.grafana_ready_evidence / grafana_ready_at): a real measurement, see checks/watched.py.
    Without a usable watch, Grafana is polled now only if the pods show that the Grafana running was
    created at or after t0 and none from before is left (``observation`` of the kubeconfig target, or a
    watch of another dashboard); else t0 need not precede Grafana's start: not_verified.
    Otherwise Grafana is polled now:

    How the figure is read, so that a pass is never false:

    * the success time is taken when the successful probe *ended* (readiness happened no later), so the
      figure is an upper bound, tight to one poll interval when earlier probes failed;
    * if the very first probe already succeeds, Grafana was ready at some unknown moment in [t0, first
      probe]: a bound <= threshold still proves the pass; a bound above it proves nothing, so the result is
      not_verified (never a pass, and not a fail the data cannot support);
    * t0 after the first probe means the clocks disagree: not_verified.
    """
    threshold = float(spec.threshold or 30.0)
    record.threshold = threshold
    if observation:  # the install-time watch, or (kube targets) one look at the Grafana pods against t0
        if watched.usable(observation, dashboard_uid):
            return watched.judge(grafana, observation, ready_at, threshold, record)
        if not watched.fresh(observation):
            # the Grafana polled now may predate t0: a first-probe bound would lie
            raise NotVerifiable(watched.not_fresh_reason(observation))
    if t0 is None:
        raise NotVerifiable("no deployment start time: pass --deployed-at")
    state: dict[str, Any] = {"attempts": 0, "first_probe": None}

    def probe() -> float:
        state["attempts"] += 1
        if state["first_probe"] is None:
            state["first_probe"] = wall()
        health = grafana.health()
        state["health"] = health
        model = grafana.dashboard(dashboard_uid)
        state["dashboard"] = {"uid": model.get("uid"), "title": model.get("title")}
        return wall()

    poll = Poll(record, spec, clock=clock, endpoints=(grafana.endpoint,))
    try:
        done = poll.until(
            probe,
            what=f"Grafana healthy (database ok) and dashboard {dashboard_uid} loading",
            look_next=GRAFANA_HINT,
        )
    finally:
        record.add_evidence(
            f"GET /api/health, GET /api/dashboards/uid/{dashboard_uid} ({grafana.endpoint.describe()})",
            {k: state.get(k) for k in ("health", "dashboard")},
            t0=t0,
            t0_source=t0_source,
        )
    first = float(state["first_probe"])
    if first < t0:
        record.measured = round(first - t0, 3)
        raise NotVerifiable(
            f"t0 ({t0_source}) is {t0 - first:.1f}s after the first probe: clocks disagree; fix --deployed-at"
        )
    measured = round(done - t0, 3)
    record.measured = measured
    record.note(
        "how it is measured: the end of the first successful probe minus t0, an upper bound on the real"
        " ready time (so a pass is never a false pass); already ready at the first probe with a bound above"
        " the threshold proves nothing either way and is not_verified"
    )
    if state["attempts"] == 1:
        record.note(
            f"Grafana was already ready at the first probe, {measured:.1f}s after t0 ({t0_source}):"
            f" the real figure is at most {measured:.1f}s"
        )
        if measured > threshold:
            raise NotVerifiable(
                f"Grafana was already ready at the first probe, {measured:.1f}s after t0 ({t0_source});"
                f" the ready time lies somewhere in [0, {measured:.1f}]s, so {threshold:g}s can be neither"
                " proven nor refuted: run the suite as the deployment starts, or pass its real --deployed-at;"
                " on a cluster, --install-chart (kubeconfig target) or the kind target measures it live"
            )
        record.message = f"ready at most {measured:.1f}s after t0 (upper bound from the first probe)"
        return measured
    if measured > threshold:
        raise fail(
            record,
            f"Grafana became ready {measured:.1f}s after t0 ({t0_source}), more than {threshold:g}s",
            f"first success after {state['attempts']} attempts: {state.get('health')}",
            request=request_line(grafana.endpoint),
            look_next=f"the Grafana pod's events and log (image pull, plugins, database); {GRAFANA_HINT}",
        )
    record.message = f"ready {measured:.1f}s after t0 ({t0_source}), within one poll interval"
    return measured
