"""Checks answered by Prometheus alone: scrape jobs up, named series present, request rate positive."""

from __future__ import annotations

from typing import Protocol

from monitoring_conformance.api.http import Endpoint
from monitoring_conformance.api.prometheus import Prometheus, count_each_expr
from monitoring_conformance.checks.base import Poll, expect
from monitoring_conformance.errors import EndpointError
from monitoring_conformance.profile import Spec
from monitoring_conformance.requirement import Record
from monitoring_conformance.wait import CONFIG, Clock

#: A follow-up traffic burst is sent at most this often while the request rate is still 0.
BURST_EVERY_S = 5.0


class TrafficSource(Protocol):
    """The Todo backend as the request-rate check uses it (api.app.TodoApp)."""

    endpoint: Endpoint

    def traffic(self, n: int) -> int: ...


def targets_hint(prometheus: Prometheus, jobs: list[str] | None = None) -> str:
    """One line about unhealthy scrape targets, for a failure's ``look next``. Costs one request."""
    try:
        targets = prometheus.targets()
    except Exception as exc:  # a hint must not replace the failure it explains
        return f"Prometheus targets could not be listed ({exc}); check Prometheus itself"
    down = [t for t in targets if not t.up and (jobs is None or t.job in jobs)]
    if not down:
        jobs_seen = sorted({t.job for t in targets})
        return (
            f"Prometheus targets: all {len(targets)} up (jobs: {', '.join(jobs_seen) or 'none'});"
            " is the job that exports these series missing from the scrape configuration?"
        )
    shown = "; ".join(
        f'job={t.job} is {t.health.upper()}: "{t.last_error or "no error text"}" ({t.scrape_url})'
        for t in down[:4]
    )
    more = f"; and {len(down) - 4} more" if len(down) > 4 else ""
    return f"Prometheus targets ({shown}{more}) in the diagnostics section"


def jobs_up(
    prometheus: Prometheus, spec: Spec, record: Record, *, clock: Clock | None = None
) -> dict[str, int]:
    """stack.prometheus_targets: Prometheus is ready and each required job has enough targets up."""
    jobs = spec.texts("jobs")
    need = int(spec.threshold or 1)
    record.threshold = len(jobs)
    seen: dict[str, int] = {}

    def probe() -> dict[str, int]:
        prometheus.ready()
        targets = prometheus.targets()
        seen.clear()
        seen.update({job: sum(1 for t in targets if t.job == job and t.up) for job in jobs})
        problems = []
        for job in jobs:
            if seen[job] >= need:
                continue
            mine = [t for t in targets if t.job == job]
            if not mine:
                problems.append(f"job={job}: no targets")
            else:
                errors = sorted({t.last_error for t in mine if not t.up and t.last_error})
                detail = f' (last error: "{errors[0]}")' if errors else ""
                problems.append(f"job={job}: {seen[job]} of {len(mine)} targets up{detail}")
        expect(not problems, "; ".join(problems))
        return dict(seen)

    poll = Poll(record, spec, clock=clock, endpoints=(prometheus.endpoint,))
    try:
        counts = poll.until(
            probe,
            what=f"scrape jobs {', '.join(jobs)} with at least {need} target(s) up each",
            look_next=lambda: targets_hint(prometheus, jobs),
        )
    finally:
        record.measured = sum(1 for job in jobs if seen.get(job, 0) >= need)
        record.add_evidence(
            f"GET /-/ready, GET /api/v1/targets ({prometheus.endpoint.describe()})",
            {"up_targets_per_job": dict(seen)},
        )
    shown = ", ".join(f"{job} {n}" for job, n in counts.items())
    record.message = f"Prometheus ready; targets up per required job: {shown}"
    return counts


def series_present(
    prometheus: Prometheus, spec: Spec, record: Record, *, clock: Clock | None = None
) -> dict[str, int]:
    """metrics.cpu / metrics.memory / metrics.pod_status: every named query has enough series.

    One HTTP request per attempt for all queries of the requirement (``count_each``).
    """
    queries = spec.mapping("queries")
    need = int(spec.threshold or 1)
    record.threshold = need
    counts: dict[str, int] = {}

    def probe() -> dict[str, int]:
        counts.clear()
        counts.update(prometheus.count_each(queries))
        short = [f"{counts[n]} series for {n}: {queries[n]}" for n in queries if counts[n] < need]
        expect(not short, "; ".join(short))
        return dict(counts)

    poll = Poll(record, spec, clock=clock, endpoints=(prometheus.endpoint,))
    try:
        found = poll.until(
            probe,
            what=f"expected at least {need} series for each of {', '.join(queries)}",
            look_next=lambda: targets_hint(prometheus),
        )
        record.message = "series per query: " + ", ".join(f"{name} {n}" for name, n in found.items())
        return found
    finally:
        record.measured = min(counts.values()) if counts else 0
        record.add_evidence(
            f"GET /api/v1/query?query={count_each_expr(queries)} ({prometheus.endpoint.describe()})",
            {"series_per_query": dict(counts), "queries": dict(queries)},
        )


def request_rate(
    prometheus: Prometheus,
    app: TrafficSource,
    spec: Spec,
    record: Record,
    *,
    clock: Clock | None = None,
) -> float:
    """metrics.request_rate: after generated traffic, the profile's rate query is above the threshold.

    One burst of ``traffic`` requests first; while the rate is not yet positive, one more burst at most
    every :data:`BURST_EVERY_S` seconds (``rate()`` needs the counter to grow between two scrapes, and a
    series born in the first burst shows no growth yet). Total traffic is bounded by the budget.
    """
    query = spec.text("query")
    burst = int(spec.number("traffic"))
    threshold = float(spec.threshold or 0.0)
    record.threshold = threshold
    clk = clock or CONFIG.clock
    state: dict[str, float] = {"sent": 0.0, "bursts": 0.0, "last_burst": 0.0, "value": 0.0}

    def probe() -> float:
        traffic_error = ""
        if state["bursts"] == 0 or clk.now() - state["last_burst"] >= BURST_EVERY_S:
            state["bursts"] += 1
            state["last_burst"] = clk.now()
            try:
                state["sent"] += app.traffic(burst)
            except EndpointError as exc:
                traffic_error = f"; traffic failed: {exc}"
        value = prometheus.scalar(query)
        state["value"] = value if value is not None else 0.0
        shown = "no series" if value is None else f"{value:g}"
        if value is None or value <= threshold:
            raise AssertionError(
                f"request rate is {shown} after {int(state['sent'])} requests: {query}{traffic_error}"
            )
        return value

    poll = Poll(record, spec, clock=clock, endpoints=(prometheus.endpoint, app.endpoint))
    try:
        rate = poll.until(
            probe,
            what=f"request rate above {threshold:g} req/s: {query}",
            look_next=lambda: targets_hint(prometheus),
        )
        record.message = f"{rate:g} req/s after {int(state['sent'])} generated requests"
        return rate
    finally:
        record.measured = round(state["value"], 6)
        record.add_evidence(
            f"GET /api/v1/query?query={query} ({prometheus.endpoint.describe()})",
            {"rate": state["value"], "requests_sent": int(state["sent"])},
        )

