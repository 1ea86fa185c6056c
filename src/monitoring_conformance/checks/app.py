"""app.unchanged: the Todo backend stays healthy while monitoring runs next to it.

Three facts: ``/healthz`` answers, a create/read/delete round trip works, and the backend did not restart.
Restarts come from the profile's ``restarts`` entry:

* ``mode: total``: a counter from Prometheus (``kube_pod_container_status_restarts_total`` of
  kube-state-metrics) that must stay at or below the threshold;
* ``mode: unchanged``: the values of a Prometheus query at session start and at the check must match;
* ``mode: process``: ``process_start_time_seconds`` from the backend's own ``/metrics`` at session start
  and at the check must match (no dependency on scraping).

Health and round trip are checked first: a backend that is down fails, whatever the restart data says.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from monitoring_conformance.api.http import Endpoint
from monitoring_conformance.api.prometheus import Prometheus
from monitoring_conformance.checks.base import NotVerifiable, Poll, expect, label_set, one_line
from monitoring_conformance.checks.evidence import Identity, read_start_times
from monitoring_conformance.errors import EndpointError, Unrecoverable, WaitTimeout
from monitoring_conformance.profile import Spec
from monitoring_conformance.requirement import Record
from monitoring_conformance.wait import CONFIG, Clock, budget, eventually

#: Seconds a baseline taken from Prometheus may wait for its first series at session start.
BASELINE_BUDGET_S = 30.0


class TodoBackend(Protocol):
    """The Todo backend as app.unchanged uses it (api.app.TodoApp)."""

    endpoint: Endpoint

    def describe(self) -> str: ...

    def health(self, *, time_left: Callable[[], float] | None = None) -> Any: ...

    def roundtrip(
        self, user_id: str, *, time_left: Callable[[], float] | None = None
    ) -> Mapping[str, Any]: ...

    def process_start_time(
        self, *, fresh_connection: bool = False, time_left: Callable[[], float] | None = None
    ) -> float | None: ...


@dataclass
class Baseline:
    """Restart data at session start (modes ``unchanged`` and ``process``), or why there is none."""

    source: str
    values: dict[str, float] | None = None
    error: str = ""
    series: list[str] = field(default_factory=list)


def take_baseline(
    prometheus: Prometheus | None, app: TodoBackend | None, spec: Spec, *, clock: Clock | None = None
) -> Baseline | None:
    """Read the restart data at session start. Never raises: a failure is kept in ``error``."""
    restarts = spec.mapping("restarts")
    mode, query = restarts["mode"], restarts["query"]
    if mode == "process":
        source = f"process_start_time_seconds from {app.endpoint.describe()}/metrics" if app else "the app"
        if app is None:
            return Baseline(source, error="no Todo backend endpoint")
        try:  # on new connections: several processes behind the port answer with different values
            found = read_start_times(Identity(app.describe(), ""), app)
        except Exception as exc:
            return Baseline(source, error=one_line(exc))
        if found.error:
            return Baseline(source, error=found.error)
        if None in found.reads:
            return Baseline(source, error="the backend's /metrics has no process_start_time_seconds")
        if found.own is None:
            return Baseline(source, error=found.problem())
        return Baseline(source, values={"process": found.own}, series=["process"])
    if mode != "unchanged":
        return None
    if prometheus is None:
        return Baseline(query, error="no Prometheus endpoint")

    def probe() -> dict[str, float]:
        samples = prometheus.query(query)
        expect(bool(samples), f"no series for {query}")
        return {label_set(s.metric): s.value for s in samples}

    wait_s = min(spec.timeout, BASELINE_BUDGET_S)
    try:
        values = eventually(
            probe, timeout=wait_s, interval=spec.interval, what="restart baseline", clock=clock
        )
    except (WaitTimeout, Unrecoverable) as exc:
        return Baseline(query, error=one_line(exc))
    return Baseline(query, values=values, series=sorted(values))


def unchanged(
    prometheus: Prometheus | None,
    app: TodoBackend,
    spec: Spec,
    record: Record,
    *,
    baseline: Baseline | None = None,
    clock: Clock | None = None,
) -> int | None:
    """Health, round trip and restarts; returns the restarts seen (None: restarts not verifiable).

    Restarts above the threshold fail at once. Without a baseline (modes unchanged/process) the health
    part is still checked, and then the requirement is not_verified. Every request to the app has its
    timeout capped by what is left of the budget (as the request-rate traffic has), so an app too slow for
    its round trip fails within the budget, naming the step, instead of outrunning it.
    """
    restarts = spec.mapping("restarts")
    mode, query = restarts["mode"], restarts["query"]
    user_id = spec.text("user_id")
    allowed = float(spec.threshold or 0.0)
    record.threshold = allowed
    before = baseline.values if baseline is not None and baseline.values is not None else None
    seen: dict[str, Any] = {"mode": mode}
    if baseline is not None:
        seen["baseline"] = {"source": baseline.source, "values": baseline.values, "error": baseline.error}

    clk = clock or CONFIG.clock
    deadline = clk.now() + budget(spec.timeout)

    def left() -> float:
        return deadline - clk.now()

    observed: list[AssertionError | EndpointError] = []

    def probe() -> int | None:
        if observed and left() <= 0:
            raise observed[-1]  # the budget is spent: no attempt without time, the last observation stands
        try:
            seen["health"] = app.health(time_left=left)
            seen["roundtrip"] = dict(app.roundtrip(user_id, time_left=left))
            count = _restarts(prometheus, app, mode, query, before, seen, left)
        except (AssertionError, EndpointError) as exc:
            observed[:] = [exc]
            raise
        if count is not None and count > allowed:
            raise Unrecoverable(f"{count} restart(s) of the Todo backend ({mode}: {query}), max {allowed:g}")
        return count

    endpoints = (app.endpoint, prometheus.endpoint if prometheus else None)
    poll = Poll(record, spec, clock=clock, endpoints=endpoints)
    try:
        count = poll.until(
            probe,
            what=f"Todo backend healthy (/healthz), round trip for {user_id!r}, at most {allowed:g} restarts",
            look_next="the Todo backend's log and `kubectl describe pod` (or its process) for crashes",
        )
    finally:
        record.add_evidence(f"GET /healthz, CRUD /api/{user_id}/tasks ({app.endpoint.describe()})", seen)
    if count is None:
        reason = baseline.error if baseline is not None else "no baseline was taken at session start"
        record.measured = None
        raise NotVerifiable(
            f"health and round trip pass, but restarts cannot be told: no baseline of {query} ({reason})"
        )
    record.measured = count
    record.message = f"/healthz ok, CRUD round trip ok, {count} restart(s) ({mode})"
    return count


def _restarts(
    prometheus: Prometheus | None,
    app: TodoBackend,
    mode: str,
    query: str,
    before: Mapping[str, float] | None,
    seen: dict[str, Any],
    time_left: Callable[[], float],
) -> int | None:
    if mode == "total":
        if prometheus is None:
            return None
        value = prometheus.scalar(query)
        if value is None:
            raise AssertionError(f"no series for {query}")
        seen["restarts"] = {"query": query, "value": value if math.isfinite(value) else str(value)}
        expect(math.isfinite(value), f"the restart counter is {value}, not a finite number: {query}")
        return int(value)
    if before is None:
        return None
    if mode == "process":
        now = app.process_start_time(time_left=time_left)
        seen["restarts"] = {"before": before["process"], "now": now}
        if now is None:
            raise AssertionError("the backend's /metrics has no process_start_time_seconds")
        expect(math.isfinite(now), f"the backend's process_start_time_seconds is {now}, not a finite number")
        return 0 if now == before["process"] else 1
    if prometheus is None:
        return None
    current = {label_set(s.metric): s.value for s in prometheus.query(query)}
    gone = [key for key in before if key not in current]
    changed = [key for key in before if key in current and current[key] != before[key]]
    seen["restarts"] = {"query": query, "before": dict(before), "now": current, "changed": changed}
    expect(not gone, f"series gone since session start: {', '.join(gone)} ({query})")
    return len(changed)
