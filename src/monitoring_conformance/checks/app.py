"""app.unchanged: the Todo backend stays healthy while monitoring runs next to it.

Three facts: ``/healthz`` answers, a create/read/delete round trip works, and the backend did not restart.
Restarts come from the profile's ``restarts`` entry: ``mode: total`` reads a counter (kube-state-metrics'
``kube_pod_container_status_restarts_total``) that must stay at or below the threshold; ``mode: unchanged``
compares the query's values (``process_start_time_seconds``) at session start and at the check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from monitoring_conformance.api.http import Endpoint
from monitoring_conformance.api.prometheus import Prometheus
from monitoring_conformance.checks.base import NotVerifiable, Poll, request_line
from monitoring_conformance.errors import Unrecoverable, WaitTimeout
from monitoring_conformance.profile import Spec
from monitoring_conformance.requirement import Record
from monitoring_conformance.wait import Clock, eventually


class TodoBackend(Protocol):
    """The Todo backend as app.unchanged uses it (api.app.TodoApp)."""

    endpoint: Endpoint

    def health(self) -> Any: ...

    def roundtrip(self, user_id: str) -> Mapping[str, Any]: ...


@dataclass
class Baseline:
    """The restarts query's values at session start (``mode: unchanged``), or why there are none."""

    query: str
    values: dict[str, float] | None = None
    error: str = ""
    series: list[str] = field(default_factory=list)


def series_key(labels: Mapping[str, str]) -> str:
    """A stable text for a label set: ``{instance="...", job="..."}``."""
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def take_baseline(prometheus: Prometheus, spec: Spec, *, clock: Clock | None = None) -> Baseline:
    """Read the restarts query at session start; never raises (a failure is kept in ``error``)."""
    query = spec.mapping("restarts")["query"]

    def probe() -> dict[str, float]:
        samples = prometheus.query(query)
        assert samples, f"no series for {query}"
        return {series_key(s.metric): s.value for s in samples}

    try:
        values = eventually(
            probe, timeout=spec.timeout, interval=spec.interval, what="restart baseline", clock=clock
        )
    except (WaitTimeout, Unrecoverable) as exc:
        return Baseline(query=query, error=" ".join(str(exc).split()))
    return Baseline(query=query, values=values, series=sorted(values))


def unchanged(
    prometheus: Prometheus,
    app: TodoBackend,
    spec: Spec,
    record: Record,
    *,
    baseline: Baseline | None = None,
    clock: Clock | None = None,
) -> int:
    """Health, round trip and restarts; returns the restarts seen. Restarts above threshold fail at once."""
    restarts = spec.mapping("restarts")
    mode, query = restarts["mode"], restarts["query"]
    user_id = spec.text("user_id")
    allowed = float(spec.threshold or 0.0)
    record.threshold = allowed
    if mode == "unchanged" and (baseline is None or baseline.values is None):
        reason = baseline.error if baseline is not None else "no baseline was taken at session start"
        record.message = f"restarts not verifiable: no baseline of {query} at session start ({reason})"
        raise NotVerifiable(record.message)
    before = baseline.values if baseline is not None and baseline.values is not None else {}
    seen: dict[str, Any] = {}

    def probe() -> int:
        seen["health"] = app.health()
        seen["roundtrip"] = dict(app.roundtrip(user_id))
        if mode == "total":
            value = prometheus.scalar(query)
            assert value is not None, f"no series for {query}"
            count = int(value)
            seen["restarts"] = {"query": query, "value": value}
        else:
            count = _changed(prometheus, query, before, seen)
        if count > allowed:
            raise Unrecoverable(f"{count} restart(s) of the Todo backend ({mode}: {query}), max {allowed:g}")
        return count

    poll = Poll(record, spec, clock=clock, endpoints=(app.endpoint, prometheus.endpoint))
    try:
        count = poll.until(
            probe,
            what=f"Todo backend healthy, round trip for user {user_id!r} works, at most {allowed:g} restarts",
            look_next="the Todo backend's logs and `kubectl describe pod` (or its process) for crashes",
        )
    finally:
        record.add_evidence(f"GET /healthz, CRUD /api/{user_id}/tasks ({request_line(app.endpoint)})", seen)
        if "restarts" in seen:
            record.measured = seen["restarts"].get("count", seen["restarts"].get("value"))
    record.measured = count
    return count


def _changed(prometheus: Prometheus, query: str, before: Mapping[str, float], seen: dict[str, Any]) -> int:
    now = {series_key(s.metric): s.value for s in prometheus.query(query)}
    gone = [key for key in before if key not in now]
    changed = [key for key in before if key in now and now[key] != before[key]]
    seen["restarts"] = {"query": query, "before": dict(before), "now": now, "count": len(changed)}
    assert not gone, f"series gone since session start: {', '.join(gone)} ({query})"
    return len(changed)
