"""Checks answered by Prometheus: scrape jobs up, named series present and fresh, request rate positive.

With ``app_job`` in the profile entry and an app endpoint, the app job's targets and series must be the
process the suite reaches (:mod:`checks.evidence`); the request rate lives in :mod:`checks.rate`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from monitoring_conformance.api.prometheus import Prometheus
from monitoring_conformance.checks.base import Poll, expect
from monitoring_conformance.checks.evidence import (
    Age,
    Identity,
    PodIdentity,
    ages_each,
    ages_each_expr,
    identity_of,
    intervals,
    targets_hint,
)
from monitoring_conformance.checks.rate import (
    BURST_EVERY_S,
    MIN_BURST_GAP_S,
    CounterBaseline,
    above,
    request_rate,
)
from monitoring_conformance.identity import AppEndpoints
from monitoring_conformance.profile import Spec
from monitoring_conformance.requirement import Record
from monitoring_conformance.wait import Clock

__all__ = [
    "BURST_EVERY_S",
    "MIN_BURST_GAP_S",
    "CounterBaseline",
    "above",
    "jobs_up",
    "request_rate",
    "series_present",
    "targets_hint",
]


def jobs_up(
    prometheus: Prometheus,
    spec: Spec,
    record: Record,
    *,
    app: Any = None,
    pods: Callable[[], AppEndpoints] | None = None,
    clock: Clock | None = None,
) -> dict[str, int]:
    """stack.prometheus_targets: Prometheus is ready, and for each required job every active target is up
    and there are at least ``threshold`` of them; with ``app_job``, one target of that job is the process
    the suite reaches. Returns the healthy targets per job."""
    jobs = spec.texts("jobs")
    history: list[float | None] = []
    found: dict[str, Identity | PodIdentity | None] = {"identity": None}
    need = int(spec.threshold or 1)
    record.threshold = len(jobs)
    seen: dict[str, tuple[int, int]] = {}
    down: list[dict[str, str]] = []

    def probe() -> dict[str, int]:
        prometheus.ready()
        targets = prometheus.targets()
        seen.clear()
        down.clear()
        problems = []
        for job in jobs:
            mine = [t for t in targets if t.job == job]
            up = sum(1 for t in mine if t.up)
            seen[job] = (up, len(mine))
            sick = [t for t in mine if not t.up]
            down.extend(
                {"job": job, "scrape_url": t.scrape_url, "health": t.health, "last_error": t.last_error}
                for t in sick
            )
            if not mine:
                problems.append(f"job={job}: no targets")
            elif sick or up < need:
                first = next((t for t in sick if t.last_error), sick[0] if sick else None)
                detail = ""
                if first is not None:
                    detail = f'; down: {first.scrape_url} (last error: "{first.last_error or "none"}")'
                    detail += f" and {len(sick) - 1} more" if len(sick) > 1 else ""
                problems.append(
                    f"job={job}: {up} of {len(mine)} targets up, need all and at least {need}{detail}"
                )
        identity = found["identity"] = identity_of(prometheus, app, _job(spec), history, pods)
        if identity is not None and identity.problem():
            problems.append(f"job={identity.job}: {identity.problem()}")
        expect(not problems, "; ".join(problems))
        return {job: up for job, (up, _) in seen.items()}

    poll = Poll(record, spec, clock=clock, endpoints=(prometheus.endpoint,))
    try:
        counts = poll.until(
            probe,
            what=f"scrape jobs {', '.join(jobs)}: every target up, at least {need} per job",
            look_next=lambda: targets_hint(prometheus, jobs),
        )
    finally:
        record.measured = sum(1 for up, total in seen.values() if up == total and up >= need)
        record.add_evidence(
            f"GET /-/ready, GET /api/v1/targets ({prometheus.endpoint.describe()})",
            {
                "targets_up_per_job": {job: f"{up}/{total}" for job, (up, total) in seen.items()},
                "down_targets": list(down),
                "identity": _identity_evidence(found["identity"], spec),
            },
        )
    shown = ", ".join(f"{job} {up}/{seen[job][1]}" for job, up in counts.items())
    record.message = f"Prometheus ready; targets up per required job: {shown}{_same(found['identity'])}"
    return counts


def series_present(
    prometheus: Prometheus,
    spec: Spec,
    record: Record,
    *,
    app: Any = None,
    pods: Callable[[], AppEndpoints] | None = None,
    clock: Clock | None = None,
) -> dict[str, int]:
    """metrics.cpu / metrics.memory / metrics.pod_status: every named query has enough fresh series.

    A series counts only while its newest sample is younger than a few scrape intervals of its own target
    (:func:`checks.evidence.judge`); with ``app_job``, a series of that job counts only when it comes from
    the instance whose ``process_start_time_seconds`` equals the app's (the process the suite reaches).
    Two requests per attempt (targets, one combined query), plus the identity reads.
    """
    queries = spec.mapping("queries")
    need = int(spec.threshold or 1)
    app_job = spec.options.get("app_job")
    record.threshold = need
    counts: dict[str, int] = {}
    seen: dict[str, list[Age]] = {}
    history: list[float | None] = []
    found: dict[str, Identity | PodIdentity | None] = {"identity": None}

    def probe() -> dict[str, int]:
        counts.clear()
        seen.clear()
        known = intervals(prometheus.targets())
        identity = found["identity"] = identity_of(prometheus, app, _job(spec), history, pods)
        short = []
        seen.update(ages_each(prometheus, queries, known))
        for name, expr in queries.items():
            aged = seen[name]
            fresh = [a for a in aged if a.fresh]
            other = []
            if identity is not None:
                other = [
                    a
                    for a in fresh
                    if a.labels.get("job") == app_job and a.labels.get("instance", "") not in identity.matched
                ]
                fresh = [a for a in fresh if a not in other]
            counts[name] = len(fresh)
            if counts[name] >= need:
                continue
            why = [f"{len(aged)} series, {counts[name]} fresh for {name}: {expr}"]
            stale = [a for a in aged if not a.fresh]
            if stale:
                oldest = max(stale, key=lambda a: a.age)
                why.append(f"stale: {len(stale)} series, oldest: {oldest.describe()}")
            if other and identity is not None:
                why.append(identity.problem() or "series of another instance of job=" + str(app_job))
            short.append(" (".join(why[:1]) + (" (" + "; ".join(why[1:]) + ")" if why[1:] else ""))
        expect(not short, "; ".join(short))
        return dict(counts)

    poll = Poll(record, spec, clock=clock, endpoints=(prometheus.endpoint,))
    try:
        result = poll.until(
            probe,
            what=f"expected at least {need} fresh series for each of {', '.join(queries)}",
            look_next=lambda: targets_hint(prometheus),
        )
        record.message = (
            "fresh series per query: "
            + ", ".join(f"{name} {n}" for name, n in result.items())
            + f"; newest sample age at most {_oldest(seen):.1f}s{_same(found['identity'])}"
        )
        return result
    finally:
        record.measured = min(counts.values()) if counts else 0
        record.add_evidence(
            f"GET /api/v1/targets, GET /api/v1/query?query={ages_each_expr(queries)}"
            f" ({prometheus.endpoint.describe()})",
            {
                "series_per_query": dict(counts),
                "queries": dict(queries),
                "sample_age_s": {name: [a.describe() for a in aged[:5]] for name, aged in seen.items()},
                "identity": _identity_evidence(found["identity"], spec),
            },
        )


def _job(spec: Spec) -> str | None:
    return str(spec.options.get("app_job") or "") or None


def _oldest(seen: dict[str, list[Age]]) -> float:
    return max((a.age for aged in seen.values() for a in aged if a.fresh), default=0.0)


def _same(identity: Identity | PodIdentity | None) -> str:
    if identity is None or not identity.matched:
        return ""
    return f"; job={identity.job} instance {', '.join(identity.matched)} is the app the suite reaches"


def _identity_evidence(identity: Identity | PodIdentity | None, spec: Spec) -> dict[str, Any] | str:
    if identity is not None:
        return identity.evidence()
    if spec.options.get("app_job"):
        return "not checked: no app endpoint with process_start_time_seconds"
    return "not checked: the profile entry names no app_job"
