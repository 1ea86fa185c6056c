"""metrics.request_rate: the suite's own traffic is counted by Prometheus, on the app the suite reaches.

The rate window follows the scrape interval of the app's job (``${rate_window}`` in the profile's query is
:data:`RATE_WINDOW_INTERVALS` intervals); an interval too long for the budget fails at once, naming it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from monitoring_conformance.api.app import Traffic
from monitoring_conformance.api.http import Endpoint
from monitoring_conformance.api.prometheus import Prometheus, parse_duration
from monitoring_conformance.checks.base import Poll, expect
from monitoring_conformance.checks.evidence import (
    DEFAULT_SCRAPE_INTERVAL_S,
    Identity,
    PodIdentity,
    identity_of,
    targets_hint,
)
from monitoring_conformance.errors import Unrecoverable
from monitoring_conformance.identity import AppEndpoints
from monitoring_conformance.profile import Spec
from monitoring_conformance.requirement import Record
from monitoring_conformance.wait import CONFIG, Clock, budget

#: While the request rate is not positive yet, a follow-up burst goes out as soon as Prometheus has
#: counted the previous one (the counter caught up: one scrape later), but not more often than this...
MIN_BURST_GAP_S = 1.0
#: ...and at the latest this long after the previous burst (a counter that never catches up).
BURST_EVERY_S = 5.0
#: The rate window is this many scrape intervals of the app's job (``${rate_window}``); a fixed window in
#: the query must be at least this long.
RATE_WINDOW_INTERVALS = 4
#: Scrape intervals the check needs within its budget: the series is born, scraped, grows, scraped again.
INTERVALS_NEEDED = 3
_WINDOW = re.compile(r"\[([0-9][0-9smhdwy.]*)\]")


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

    def restart(self, value: float | None, acked: int) -> None:
        """The app's process changed (its start time did): measure from ``value`` and only POSTs from now.

        A restart right after the baseline can leave the sum above its old value (the new process counted
        the burst again), so the counter alone would not show it.
        """
        start = value if value is not None and math.isfinite(value) else 0.0
        self.before, self.acked_before, self.last, self.peak = start, acked, start, start
        self.saved = None
        self.resets += 1


class TrafficSource(Protocol):
    """The Todo backend as the request-rate check uses it (api.app.TodoApp)."""

    endpoint: Endpoint

    def describe(self) -> str: ...

    def traffic(self, n: int, *, time_left: Callable[[], float] | None = None) -> Traffic: ...


def rate_window(prometheus: Prometheus, spec: Spec, app_job: str | None) -> tuple[str, float, str]:
    """The query with its window filled in, the scrape interval it follows, and where that came from.

    Raises Unrecoverable when the interval makes the requirement unmeasurable within the budget, or when a
    fixed window in the query is shorter than :data:`RATE_WINDOW_INTERVALS` intervals.
    """
    query = spec.text("query")
    targets = prometheus.targets()
    mine = [t for t in targets if app_job is None or t.job == app_job]
    reported = [t.scrape_interval for t in mine if t.scrape_interval]
    if not reported:  # Prometheus < 2.30: the interval is not known, so it cannot rule the run out
        source = f"no scrapeInterval reported: {DEFAULT_SCRAPE_INTERVAL_S:g}s assumed"
        window = DEFAULT_SCRAPE_INTERVAL_S * RATE_WINDOW_INTERVALS
        filled = query.replace("${rate_window}", f"{math.ceil(window):d}s")
        return filled, DEFAULT_SCRAPE_INTERVAL_S, source
    interval = max(reported)
    source = f"scrapeInterval of job={app_job}" if app_job else "longest scrapeInterval of all targets"
    if interval * INTERVALS_NEEDED > spec.timeout:
        raise Unrecoverable(
            f"the scrape interval {interval:g}s ({source}) makes the request rate unmeasurable within the"
            f" {spec.timeout:g}s budget: rate() needs the counter scraped after it grew, at least"
            f" {INTERVALS_NEEDED} intervals ({interval * INTERVALS_NEEDED:g}s); shorten the interval or"
            " raise the timeout"
        )
    window = interval * RATE_WINDOW_INTERVALS
    if "${rate_window}" in query:
        return query.replace("${rate_window}", f"{math.ceil(window):d}s"), interval, source
    for text in _WINDOW.findall(query):
        seconds = parse_duration(text)
        if seconds is not None and seconds < window:
            raise Unrecoverable(
                f"the rate window [{text}] holds fewer than {RATE_WINDOW_INTERVALS} scrapes at the"
                f" {interval:g}s scrape interval ({source}); use ${{rate_window}} in the query"
            )
    return query, interval, source


def request_rate(
    prometheus: Prometheus,
    app: TrafficSource,
    spec: Spec,
    record: Record,
    *,
    pods: Callable[[], AppEndpoints] | None = None,
    clock: Clock | None = None,
) -> float:
    """metrics.request_rate: the suite's own traffic is counted, and the rate query is above the threshold.

    A positive rate alone proves little (liveness probes and other clients keep it up), so the check reads
    the profile's ``counter`` (a sum of ``http_requests_total`` that only the suite's POSTs move) before the
    first burst, and requires:

    * at least one POST of the suite acknowledged (2xx) by the backend;
    * the counter grown by at least the number of acknowledged POSTs;
    * with ``app_job``: Prometheus scrapes the very process the suite sends traffic to (identity, see
      :mod:`checks.evidence`); another backend's growing counter does not count;
    * the rate query finite and above the threshold.

    One burst of ``traffic`` requests first. A series born in that burst shows no growth yet (``rate()``
    needs the counter to grow between two scrapes), so while the rate is not above the threshold, one more
    burst goes out as soon as the counter shows that Prometheus scraped the previous one (at most one per
    :data:`MIN_BURST_GAP_S`), else every :data:`BURST_EVERY_S` seconds. Every request's timeout is capped
    by what is left of the budget.

    A counter that goes *down*, or an app whose start time changed (a restart the sum may hide), is
    measured again from the new value: only POSTs acknowledged after it count, and one more burst goes out
    at once; see :class:`CounterBaseline` for a series that was only missing.
    """
    probe = RateProbe(prometheus, app, spec, pods, clock or CONFIG.clock)
    poll = Poll(record, spec, clock=clock, endpoints=(prometheus.endpoint, app.endpoint))
    record.threshold = probe.threshold
    try:
        rate = poll.until(
            probe,
            what=(
                f"the suite's acknowledged POSTs counted by {probe.counter}, and request rate above"
                f" {probe.threshold:g} req/s: {probe.query}"
            ),
            look_next=lambda: targets_hint(prometheus),
        )
        record.message = probe.message(rate)
        return rate
    finally:
        probe.fill(record)


@dataclass
class RateProbe:
    """One request-rate check: each call is an attempt (a burst when due, then the readings); between
    attempts it keeps the baseline, the bursts sent and the last readings, for the message and evidence."""

    prometheus: Prometheus
    app: TrafficSource
    spec: Spec
    pods: Callable[[], AppEndpoints] | None
    clock: Clock
    sent: Traffic = field(default_factory=Traffic)
    base: CounterBaseline = field(default_factory=CounterBaseline)
    bursts: int = 0
    last_burst: float = 0.0
    rate: float | None = None
    after: float | None = None
    growth: float = 0.0
    burst_now: bool = False
    interval: float | None = None
    interval_source: str | None = None
    started: float | None = None  # the app process's start time when the baseline was taken
    identity: Identity | PodIdentity | None = None
    history: list[float | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.counter = self.spec.text("counter")
        self.burst = int(self.spec.number("traffic"))
        self.app_job = str(self.spec.options.get("app_job") or "") or None
        self.threshold = float(self.spec.threshold or 0.0)
        self.query = self.spec.text("query")
        self.deadline = self.clock.now() + budget(self.spec.timeout)

    def who(self) -> Identity | PodIdentity | None:
        found = identity_of(self.prometheus, self.app, self.app_job, self.history, self.pods)
        if found is not None:
            self.identity = found
        return found

    def __call__(self) -> float:
        prometheus, base, clk = self.prometheus, self.base, self.clock
        if self.interval is None:
            self.query, self.interval, self.interval_source = rate_window(prometheus, self.spec, self.app_job)
        if self.bursts == 0:
            base = self.base = CounterBaseline.first(prometheus.scalar(self.counter))
            first = self.who()
            self.started = first.own if first is not None else None
        required = self.sent.posts_ok - base.acked_before  # acknowledged since the baseline
        rate_low = self.rate is None or not above(self.rate, self.threshold)
        since = clk.now() - self.last_burst
        scraped = 0 < required <= self.growth  # Prometheus has counted every burst so far
        if (
            self.bursts == 0
            or self.burst_now
            or (rate_low and (since >= BURST_EVERY_S or (scraped and since >= MIN_BURST_GAP_S)))
        ):
            self.bursts += 1
            self.burst_now = False
            self.last_burst = clk.now()
            self.sent.add(self.app.traffic(self.burst, time_left=lambda: self.deadline - clk.now()))
        value = self.rate = prometheus.scalar(self.query)
        after = self.after = prometheus.scalar(self.counter)
        identity = self.who()
        problems = []
        if identity is not None:
            issue = identity.problem()
            if issue:
                problems.append(issue)
            own = identity.own
            if own is not None and self.started is not None and own != self.started:
                base.restart(after, self.sent.posts_ok)  # a new process: its counter started again
                self.started, self.burst_now = own, True
            elif own is not None and self.started is None:
                self.started = own
        if base.observe(after, self.sent.posts_ok):
            self.burst_now = True  # POSTs from before the drop may be in the lower value: send new ones
        required = self.sent.posts_ok - base.acked_before
        growth = (after or 0.0) - base.before
        self.growth = growth if math.isfinite(growth) else 0.0
        since_what = "the counter's reset" if base.resets else "the first burst"
        if self.sent.posts_ok == 0:
            problems.append(f"no POST of the suite was acknowledged ({self.sent.describe()})")
        elif required <= 0:
            problems.append(
                f"{self.counter} went down or the app restarted ({base.resets} so far): no POST of"
                " the suite acknowledged since, one more burst goes out"
            )
        elif not (math.isfinite(growth) and growth >= required):
            problems.append(
                f"{self.counter} grew by {_shown(growth if after is not None else None)} since {since_what},"
                f" expected at least {required} (the acknowledged POSTs)"
            )
        if value is None or not above(value, self.threshold):
            problems.append(f"request rate is {_shown(value)} after {self.sent.describe()}: {self.query}")
        expect(not problems, "; ".join(problems))
        assert value is not None
        return value

    def message(self, rate: float) -> str:
        base, sent = self.base, self.sent
        growth = float(self.after or 0.0) - base.before
        reset = f", measured from the last of {base.resets} counter reset(s)" if base.resets else ""
        return (
            f"{rate:g} req/s; {self.counter} grew by {growth:g} for {sent.posts_ok - base.acked_before}"
            f" acknowledged POSTs{reset} ({sent.answered} generated requests)"
        )

    def fill(self, record: Record) -> None:
        """The measured rate and the evidence, whether the check passed or not."""
        rate, sent, identity = self.rate, self.sent, self.identity
        record.measured = round(rate, 6) if rate is not None and math.isfinite(rate) else None
        if rate is not None and not math.isfinite(rate):
            record.note(f"the rate query returned {rate}, not a finite number")
        record.add_evidence(
            f"GET /api/v1/query?query={self.query}, GET /api/v1/query?query={self.counter}"
            f" ({self.prometheus.endpoint.describe()})",
            {
                "rate": _json_number(rate),
                "counter_before": _json_number(self.base.before if self.bursts else None),
                "counter_after": _json_number(self.after),
                "requests_answered": sent.answered,
                "requests_5xx": sent.server_errors,
                "requests_without_answer": sent.failed,
                "posts": sent.posts,
                "posts_acknowledged": sent.posts_ok,
                "counter_resets": self.base.resets,
                "traffic_error": sent.error or None,
                "scrape_interval_s": self.interval,
                "scrape_interval_source": self.interval_source,
                "identity": identity.evidence() if identity is not None else "not checked (no app_job)",
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
