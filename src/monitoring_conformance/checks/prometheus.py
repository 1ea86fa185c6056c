"""Checks answered by Prometheus alone: scrape jobs up, named series present, request rate positive."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

from monitoring_conformance.api.app import Traffic
from monitoring_conformance.api.http import Endpoint
from monitoring_conformance.api.prometheus import Prometheus, count_each_expr
from monitoring_conformance.checks.base import Poll, expect
from monitoring_conformance.profile import Spec
from monitoring_conformance.requirement import Record
from monitoring_conformance.wait import CONFIG, Clock

#: While the request rate is not positive yet, a follow-up burst goes out as soon as Prometheus has
#: counted the previous one (the counter caught up: one scrape later), but not more often than this...
MIN_BURST_GAP_S = 1.0
#: ...and at the latest this long after the previous burst (a counter that never catches up).
BURST_EVERY_S = 5.0


@dataclass
class CounterBaseline:
    """Where the request-rate check measures the profile's ``counter`` from, across drops of the sum.

    ``counter`` is a sum over series. It drops when the backend restarts (its series starts again from 0)
    and also while one series is missing for a scrape or two. A drop moves the baseline down to the
    dropped value, and only POSTs acknowledged from then on must show (``acked_before``); if the sum comes
    back to its peak before the drop, a series was only missing, and the earlier baseline is restored (else
    that series' return would pass for growth the suite's POSTs made).
    """

    before: float = 0.0  # the value growth is measured from
    acked_before: int = 0  # POSTs acknowledged before ``before`` was taken: not required to show
    last: float = 0.0
    peak: float = 0.0
    resets: int = 0  # drops that still stand
    saved: tuple[float, int, float] | None = None  # (before, acked_before, peak) from before the first drop

    @classmethod
    def first(cls, value: float | None) -> CounterBaseline:
        """The baseline before the first burst: no series yet counts as 0 (born with the first POST)."""
        start = value if value is not None and math.isfinite(value) else 0.0
        return cls(start, 0, start, start)

    def observe(self, value: float | None, acked: int) -> bool:
        """Take one reading; True when it is a drop (the caller sends one more burst at once)."""
        if value is None or not math.isfinite(value):
            return False
        dropped = value < self.last
        if dropped:
            if self.saved is None:
                self.saved = (self.before, self.acked_before, self.peak)
            self.before, self.acked_before = value, acked
            self.resets += 1
        elif self.saved is not None and value >= self.saved[2]:
            self.before, self.acked_before, _ = self.saved  # back at the old peak: a gap, not a restart
            self.saved, self.resets = None, 0
        self.last = value
        self.peak = max(self.peak, value)
        return dropped


class TrafficSource(Protocol):
    """The Todo backend as the request-rate check uses it (api.app.TodoApp)."""

    endpoint: Endpoint

    def traffic(self, n: int) -> Traffic: ...


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
    """stack.prometheus_targets: Prometheus is ready, and for each required job every active target is up
    and there are at least ``threshold`` of them. Returns the healthy targets per job."""
    jobs = spec.texts("jobs")
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
            },
        )
    shown = ", ".join(f"{job} {up}/{seen[job][1]}" for job, up in counts.items())
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
    """metrics.request_rate: the suite's own traffic is counted, and the rate query is above the threshold.

    A positive rate alone proves little (liveness probes and other clients keep it up), so the check reads
    the profile's ``counter`` (a sum of ``http_requests_total`` that only the suite's POSTs move) before the
    first burst, and requires:

    * at least one POST of the suite acknowledged (2xx) by the backend;
    * the counter grown by at least the number of acknowledged POSTs;
    * the rate query finite and above the threshold.

    One burst of ``traffic`` requests first. A series born in that burst shows no growth yet (``rate()``
    needs the counter to grow between two scrapes), so while the rate is not above the threshold, one more
    burst goes out as soon as the counter shows that Prometheus scraped the previous one (at most one per
    :data:`MIN_BURST_GAP_S`), else every :data:`BURST_EVERY_S` seconds. That adapts to any scrape
    interval, and on a fresh stack the rate shows one scrape after the second burst. Total traffic is
    bounded by the budget.

    A counter without a series before the first burst counts as 0 (the series is born with the first
    POST). A counter that goes *down* (the backend restarted) is measured again from the lower value: only
    POSTs acknowledged after it count, and one more burst goes out at once (the POSTs before it may or may
    not be in the lower value); see :class:`CounterBaseline` for a series that was only missing.
    """
    query = spec.text("query")
    counter = spec.text("counter")
    burst = int(spec.number("traffic"))
    threshold = float(spec.threshold or 0.0)
    record.threshold = threshold
    clk = clock or CONFIG.clock
    sent = Traffic()
    state: dict[str, Any] = {
        "bursts": 0, "last_burst": 0.0, "rate": None, "after": None, "growth": 0.0, "burst_now": False,
        "base": CounterBaseline(),
    }  # fmt: skip

    def probe() -> float:
        if state["bursts"] == 0:
            state["base"] = CounterBaseline.first(prometheus.scalar(counter))
        base: CounterBaseline = state["base"]
        required = sent.posts_ok - base.acked_before  # acknowledged since the baseline
        rate_low = state["rate"] is None or not above(state["rate"], threshold)
        since = clk.now() - state["last_burst"]
        scraped = 0 < required <= state["growth"]  # Prometheus has counted every burst so far
        if state["bursts"] == 0 or state["burst_now"] or (
            rate_low and (since >= BURST_EVERY_S or (scraped and since >= MIN_BURST_GAP_S))
        ):
            state["bursts"] += 1
            state["burst_now"] = False
            state["last_burst"] = clk.now()
            sent.add(app.traffic(burst))
        value = prometheus.scalar(query)
        state["rate"] = value
        after = prometheus.scalar(counter)
        state["after"] = after
        if base.observe(after, sent.posts_ok):
            state["burst_now"] = True  # POSTs from before the drop may be in the lower value: send new ones
        required = sent.posts_ok - base.acked_before
        growth = (after or 0.0) - base.before
        state["growth"] = growth if math.isfinite(growth) else 0.0
        since_what = "the counter's reset" if base.resets else "the first burst"
        problems = []
        if sent.posts_ok == 0:
            problems.append(f"no POST of the suite was acknowledged ({sent.describe()})")
        elif required <= 0:
            problems.append(f"{counter} went down (a reset, {base.resets} so far): no POST of the suite "
                            "acknowledged since, one more burst goes out")
        elif not (math.isfinite(growth) and growth >= required):
            problems.append(
                f"{counter} grew by {_shown(growth if after is not None else None)} since {since_what},"
                f" expected at least {required} (the acknowledged POSTs)"
            )
        if value is None or not above(value, threshold):
            problems.append(f"request rate is {_shown(value)} after {sent.describe()}: {query}")
        expect(not problems, "; ".join(problems))
        assert value is not None
        return value

    poll = Poll(record, spec, clock=clock, endpoints=(prometheus.endpoint, app.endpoint))
    try:
        rate = poll.until(
            probe,
            what=(
                f"the suite's acknowledged POSTs counted by {counter}, and request rate above"
                f" {threshold:g} req/s: {query}"
            ),
            look_next=lambda: targets_hint(prometheus),
        )
        base = state["base"]
        growth = float(state["after"] or 0.0) - base.before
        counted = sent.posts_ok - base.acked_before
        reset = f", measured from the last of {base.resets} counter reset(s)" if base.resets else ""
        record.message = (
            f"{rate:g} req/s; {counter} grew by {growth:g} for {counted} acknowledged POSTs{reset}"
            f" ({sent.answered} generated requests)"
        )
        return rate
    finally:
        rate_seen = state["rate"]
        record.measured = round(rate_seen, 6) if rate_seen is not None and math.isfinite(rate_seen) else None
        if rate_seen is not None and not math.isfinite(rate_seen):
            record.note(f"the rate query returned {rate_seen}, not a finite number")
        record.add_evidence(
            f"GET /api/v1/query?query={query}, GET /api/v1/query?query={counter}"
            f" ({prometheus.endpoint.describe()})",
            {
                "rate": _json_number(rate_seen),
                "counter_before": _json_number(state["base"].before if state["bursts"] else None),
                "counter_after": _json_number(state["after"]),
                "requests_answered": sent.answered,
                "posts": sent.posts,
                "posts_acknowledged": sent.posts_ok,
                "counter_resets": state["base"].resets,
                "traffic_error": sent.error or None,
            },
        )


def above(value: float, threshold: float) -> bool:
    """``value > threshold`` for a finite ``value`` only: NaN or infinity never passes a threshold."""
    return math.isfinite(value) and value > threshold


def _shown(value: float | None) -> str:
    return "no series" if value is None else f"{value:g}"


def _json_number(value: float | None) -> float | str | None:
    """A figure for evidence: finite numbers as they are, NaN/Inf as text (JSON has no NaN)."""
    if value is None or math.isfinite(value):
        return value
    return str(value)
