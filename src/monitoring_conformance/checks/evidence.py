"""Whose and how old: ties the series a requirement counts to the app under test and to fresh samples.

Two rules the metric requirements share:

* **freshness**: a series counts only while its newest sample is younger than :data:`FRESH_INTERVALS`
  scrape intervals of the target that scrapes it (``scrapeInterval`` from ``/api/v1/targets``). Prometheus
  keeps returning a series for up to five minutes after its last sample when it could not mark it stale
  (an exporter that died before a restart of Prometheus on the same data, a job removed by a reload);
  such a series has an old sample and, for a removed job, no active target at all.
* **identity** (hosts): the app's own ``process_start_time_seconds`` (read from its ``/metrics``) must
  equal the value Prometheus scraped from one target of the app's job. That binds the process the suite
  sends traffic to to the instance whose series are counted. Reads that disagree with each other mean
  several processes answer behind one address, each with its own metrics registry.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from monitoring_conformance.api.prometheus import KEY_LABEL, Prometheus, Target
from monitoring_conformance.checks.base import one_line
from monitoring_conformance.errors import ConformanceError, EndpointError
from monitoring_conformance.identity import AppEndpoints

#: A series is fresh while its newest sample is younger than this many scrape intervals of its target.
FRESH_INTERVALS = 3.0
#: The interval assumed for a series whose target reports none (Prometheus < 2.30 or no job label).
DEFAULT_SCRAPE_INTERVAL_S = 15.0
#: How often the app's /metrics is read (each on a new connection) to see whether one process answers.
IDENTITY_READS = 4


@runtime_checkable
class Fingerprinted(Protocol):
    """An app whose process can be told apart: api.app.TodoApp."""

    def process_start_time(self, *, fresh_connection: bool = False) -> float | None: ...

    def describe(self) -> str: ...


@dataclass(frozen=True)
class Age:
    """One series with the age of its newest sample and what it is judged against."""

    labels: dict[str, str]
    age: float
    interval: float
    target: str  # "job=x instance=y", or why no target was found

    @property
    def fresh(self) -> bool:
        return self.target_found and math.isfinite(self.age) and self.age <= FRESH_INTERVALS * self.interval

    @property
    def target_found(self) -> bool:
        return not self.target.startswith("no active target")

    def describe(self) -> str:
        where = ", ".join(f"{k}={v}" for k, v in sorted(self.labels.items()) if k in ("job", "instance"))
        age = f"newest sample {self.age:.1f}s old"
        return f"{where or 'series'} {age} (interval {self.interval:g}s, {self.target})"


def age_expr(expr: str) -> str:
    """The query giving each series of ``expr`` the age of its newest sample in seconds."""
    return f"time() - timestamp({expr})"


def intervals(targets: Sequence[Target]) -> dict[tuple[str, str], float]:
    """``(job, instance) -> scrape interval`` of the active targets (default when not reported)."""
    return {
        (t.job, t.labels.get("instance", "")): t.scrape_interval or DEFAULT_SCRAPE_INTERVAL_S for t in targets
    }


def judge(labels: Mapping[str, str], age: float, known: Mapping[tuple[str, str], float]) -> Age:
    """The age of one series judged against the interval of the target that scrapes it.

    A series whose job no active target has is not fresh whatever its age (its job was removed). A series
    of a known job on an instance no target has (``honor_labels``) is judged by the job's longest interval;
    a series without a job label (an aggregation) by the longest interval of all targets.
    """
    job, instance = labels.get("job"), labels.get("instance", "")
    if job is None:
        interval = max(known.values(), default=DEFAULT_SCRAPE_INTERVAL_S)
        return Age(dict(labels), age, interval, "no job label: longest interval of all targets")
    if (job, instance) in known:
        return Age(dict(labels), age, known[(job, instance)], f"target job={job} instance={instance}")
    same_job = [v for (j, _), v in known.items() if j == job]
    if not same_job:
        return Age(dict(labels), age, DEFAULT_SCRAPE_INTERVAL_S, f"no active target of job={job}: removed?")
    return Age(dict(labels), age, max(same_job), f"job={job}, instance not among its targets")


def ages_each_expr(exprs: Mapping[str, str]) -> str:
    """The one query :func:`ages_each` sends: every series of every expression with its age and its key."""
    if not exprs:
        raise ValueError("ages_each needs at least one expression")
    return " or ".join(
        f'label_replace({age_expr(expr)}, "{KEY_LABEL}", {json.dumps(key)}, "", "")'
        for key, expr in exprs.items()
    )


def ages_each(
    prometheus: Prometheus, exprs: Mapping[str, str], known: Mapping[tuple[str, str], float]
) -> dict[str, list[Age]]:
    """Every series of each expression with the age of its newest sample, judged; ONE request.

    Each expression must be an instant vector selector whose series stay apart without their metric name
    (``timestamp()`` drops it); an aggregation has no sample timestamp (its age reads as 0).
    """
    found: dict[str, list[Age]] = {key: [] for key in exprs}
    for sample in prometheus.query(ages_each_expr(exprs)):
        labels = dict(sample.metric)
        key = labels.pop(KEY_LABEL, None)
        if key in found:
            found[key].append(judge(labels, sample.value, known))
    return found


@dataclass
class Identity:
    """The app the suite reached and the targets of its job Prometheus scrapes, told apart by start time."""

    app: str
    job: str
    reads: list[float | None] = field(default_factory=list)
    scraped: dict[str, float] = field(default_factory=dict)  # instance -> process_start_time_seconds
    #: every read of this check so far, in order: a start time that comes back after another one means
    #: several processes (a restart only ever moves on)
    history: list[float | None] = field(default_factory=list)
    error: str = ""  # why the app's /metrics could not be read

    @property
    def own(self) -> float | None:
        """The app's start time when every read agreed, else None."""
        values = {v for v in self.reads if v is not None}
        return values.pop() if len(values) == 1 and None not in self.reads else None

    @property
    def several_processes(self) -> bool:
        """True when a start time came back after another one (A, B, A): not a restart."""
        seen: list[float] = []
        for value in self.history or self.reads:
            if value is None:
                continue
            if value in seen and seen[-1] != value:
                return True
            if not seen or seen[-1] != value:
                seen.append(value)
        return False

    @property
    def matched(self) -> list[str]:
        own = self.own
        return sorted(i for i, v in self.scraped.items() if own is not None and v == own)

    def problem(self) -> str:
        """Empty when the identity holds, else one line naming both sides."""
        if self.several_processes:
            shown = ", ".join(_epoch(v) for v in (self.history or self.reads)[-8:])
            return (
                f"the app at {self.app} answered with different process_start_time_seconds ({shown}):"
                " several processes serve it, each with its own metrics registry, so its metrics do not"
                " account for its own traffic (run one process, or use prometheus_client multiprocess mode"
                " with a store shared by the workers)"
            )
        if self.error:
            return f"the app at {self.app} did not answer /metrics ({self.error}): identity unknown"
        if None in self.reads:
            return (
                f"the app at {self.app} exposes no process_start_time_seconds on /metrics: identity unknown"
            )
        if self.own is None:
            return f"the app at {self.app} changed its process_start_time_seconds while read: restarting?"
        if self.matched:
            return ""
        scraped = ", ".join(f"instance={i} started {_epoch(v)}" for i, v in sorted(self.scraped.items()))
        return (
            f"Prometheus scrapes job={self.job} at {scraped or 'no instance with process_start_time_seconds'}"
            f", but the app the suite reached ({self.app}) started {_epoch(self.own)}: the counted series"
            " are another process's"
        )

    def evidence(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "job": self.job,
            "app_process_start_time_reads": list(self.reads),
            "scraped_process_start_time": dict(self.scraped),
            "matched_instances": self.matched,
            "error": self.error or None,
        }


def read_start_times(found: Identity, app: Fingerprinted, reads: int = IDENTITY_READS) -> Identity:
    """The app's start time ``reads`` times, each on a new connection (so that several processes behind
    the address show), into ``found.reads`` and ``found.history``; a failed read ends them in ``error``."""
    for _ in range(reads):
        try:
            value = app.process_start_time(fresh_connection=True)
        except EndpointError as exc:
            found.error = one_line(exc)
            break
        found.reads.append(value)
        found.history.append(value)
    return found


def identify(
    prometheus: Prometheus,
    app: Fingerprinted,
    job: str,
    *,
    history: list[float | None] | None = None,
    reads: int = IDENTITY_READS,
) -> Identity:
    """Read the app's start time ``reads`` times (new connection each) and the scraped ones of ``job``.

    ``history`` (kept by the caller across attempts) receives every read.
    """
    found = read_start_times(
        Identity(app.describe(), job, history=history if history is not None else []), app, reads
    )
    selector = f'process_start_time_seconds{{job="{job}"}}'
    for sample in prometheus.query(selector):
        found.scraped[sample.metric.get("instance", "")] = sample.value
    return found


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


@dataclass
class PodIdentity:
    """Kube targets: the app job's scraped targets against the ready endpoints of the app Service.

    A target counts when its ``pod`` label, or the host of its ``instance``, is one of the endpoints; the
    suite's traffic goes through that Service, so it lands on one of them.
    """

    app: str
    job: str
    endpoints: AppEndpoints | None = None
    scraped: list[dict[str, str]] = field(default_factory=list)
    error: str = ""
    own: float | None = None  # no start time: restarts are told by the counter alone

    @property
    def matched(self) -> list[str]:
        if self.endpoints is None:
            return []
        return sorted(t.get("instance", "") for t in self.scraped if self.endpoints.holds(t))

    def problem(self) -> str:
        if self.error:
            return f"the endpoints of the app Service could not be read ({self.error}): identity unknown"
        if self.matched:
            return ""
        shown = ", ".join(f"pod={t.get('pod', '?')} instance={t.get('instance', '?')}" for t in self.scraped)
        where = self.endpoints.describe() if self.endpoints is not None else "no endpoints"
        return (
            f"Prometheus scrapes job={self.job} at {shown or 'no target'}, but the suite reaches {self.app}"
            f" ({where}): the counted series are another process's"
        )

    def evidence(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "job": self.job,
            "service_endpoints": dict(self.endpoints.pods) if self.endpoints is not None else None,
            "scraped_targets": list(self.scraped),
            "matched_instances": self.matched,
            "error": self.error or None,
        }


def identify_pods(
    prometheus: Prometheus, app: str, job: str, endpoints: Callable[[], AppEndpoints]
) -> PodIdentity:
    """The app job's targets (``up{job=...}``) and the app Service's endpoints, side by side."""
    found = PodIdentity(app, job)
    try:
        found.endpoints = endpoints()
    except ConformanceError as exc:
        found.error = one_line(exc)
        return found
    found.scraped = [dict(s.metric) for s in prometheus.query(f'up{{job="{job}"}}')]
    return found


def identity_of(
    prometheus: Prometheus,
    app: Any,
    job: str | None,
    history: list[float | None],
    pods: Callable[[], AppEndpoints] | None = None,
) -> Identity | PodIdentity | None:
    """The app job's identity for this attempt, or None when there is no app_job or no app.

    ``pods`` (kube targets): the app Service's endpoints; else the app's process_start_time_seconds.
    """
    if not job or app is None:
        return None
    if pods is not None:
        return identify_pods(prometheus, app.describe(), job, pods)
    if not isinstance(app, Fingerprinted):
        return None
    return identify(prometheus, app, job, history=history)


def _epoch(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.2f}"
