"""The requirement catalogue, the ``@requirement`` marker, and the :class:`Record` each check fills in.

A new requirement is its :data:`CATALOGUE` entry (with the keys its profile entry may have: profile.py
validates from it), its check (``checks/``) with a conformance test (``tests/conformance/``; an entry with
the ``SERIES`` schema needs neither: ``test_series_exist`` finds it here), and its entry in the profiles
(``fixtures/profiles/``: kind and managed list every requirement).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest

PASS = "pass"  # noqa: S105 - a status, not a password
FAIL = "fail"
NOT_VERIFIED = "not_verified"
STATUSES = (PASS, FAIL, NOT_VERIFIED)

#: How much of a response an evidence item keeps.
SAMPLE_CHARS = 1500


@dataclass(frozen=True)
class Field:
    """One key of a requirement's profile entry: its kind, whether it is required, and its default."""

    kind: str
    required: bool = False
    default: Any = None
    hint: str = ""


#: The scrape job of the app under test: its targets must be the process (host) the suite reaches.
_APP_JOB = Field("text", hint="app_job: todo-backend")
#: The entry of every "series exist" requirement (one check, one conformance test: checks.prometheus).
SERIES: Mapping[str, Field] = {
    "queries": Field("queries", required=True, hint="queries: {node_cpu: node_cpu_seconds_total}"),
    "threshold": Field("count", default=1, hint="threshold: 1"),
    "app_job": _APP_JOB,
}


@dataclass(frozen=True)
class Requirement:
    """A stable requirement id, its title, what its measured figure means, and its profile entry's keys.

    ``schema`` is what a profile may say about it (besides timeout, interval and note); ``variables`` are
    the ``${name}`` references the check fills in itself; ``max_threshold`` is a bound the id promises.
    """

    id: str
    title: str
    unit: str
    measured: str
    schema: Mapping[str, Field] = field(default_factory=dict)
    variables: tuple[str, ...] = ()
    max_threshold: float | None = None


CATALOGUE: dict[str, Requirement] = {
    r.id: r
    for r in (
        Requirement("stack.prometheus_targets", "Prometheus is ready and the required scrape jobs are up",
                    "jobs up", "required jobs with enough healthy targets", {
                        "jobs": Field("texts", required=True, hint="jobs: [prometheus, todo-backend]"),
                        "threshold": Field("count", default=1, hint="threshold: 1"),
                        "app_job": _APP_JOB,
                    }),
        Requirement("metrics.cpu", "CPU series exist for the Todo backend and the nodes",
                    "series", "series of the sparsest CPU query", SERIES),
        Requirement("metrics.memory", "Memory series exist for the Todo backend and the nodes",
                    "series", "series of the sparsest memory query", SERIES),
        Requirement("metrics.pod_status", "Pod phase and container readiness series exist for the app",
                    "series", "series of the sparsest pod status query", SERIES),
        Requirement("metrics.request_rate", "The Todo backend's request rate is positive after traffic",
                    "req/s", "request rate after the generated traffic", {
                        "query": Field("text", required=True,
                                       hint="query: sum(rate(http_requests_total[1m]))"),
                        # a counter only the suite's POSTs move: it grows by at least the acknowledged POSTs
                        "counter": Field("text", required=True, hint='counter: sum(http_requests_total{'
                                         'handler="/api/{user_id}/tasks",method="POST"})'),
                        "traffic": Field("count", default=20, hint="traffic: 20"),
                        "threshold": Field("number", default=0, hint="threshold: 0"),
                        "app_job": _APP_JOB,
                    }, variables=("rate_window",)),
        Requirement("dashboards.provisioned", "Every chart dashboard is found in Grafana and loads by uid",
                    "dashboards", "chart dashboards found in Grafana and loaded by uid"),
        Requirement("dashboards.panels_have_data", "Every dashboard panel query returns data without error",
                    "panels", "panels whose every query returned data", {
                        "variables": Field("labels", default={},
                                           hint='variables: {namespace: "${app_namespace}"}'),
                        "range": Field("text", default="now-15m", hint="range: now-15m"),
                    }),
        Requirement("logs.todo_backend", "A canary log line of the Todo backend arrives in Loki, labelled",
                    "s", "seconds from the canary request until Loki returned the line", {
                        "selector": Field("text", required=True,
                                          hint='selector: \'{namespace="todo", app="todo-backend"}\''),
                        "fallback_selector": Field("text", required=True,
                                                   hint='fallback_selector: \'{namespace="todo"}\''),
                        "labels": Field("labels", required=True,
                                        hint='labels: {app: todo-backend, pod: "*"}'),
                        "lookback": Field("seconds", default=300, hint="lookback: 300"),
                        "threshold": Field("seconds", required=True, hint="threshold: 60"),
                    }),
        Requirement("grafana.ready_within_30s", "Grafana is healthy and the overview dashboard loads in 30 s",
                    "s", "seconds from the deployment start (t0) until Grafana was ready", {
                        "dashboard": Field("text", hint="dashboard: todo-overview"),
                        "threshold": Field("seconds", default=30, hint="threshold: 30"),
                    }, max_threshold=30),
        Requirement("alerts.fire",
                    "A fault fires the chart's alert in Prometheus and it reaches Alertmanager",
                    "s", "seconds from the fault until the alert fired and Alertmanager listed it", {
                        "alert": Field("text", required=True, hint="alert: TodoBackendDown"),
                        # a second alert, fired by a burst of 5xx answers (absent: no 5xx part)
                        "error_alert": Field("text", hint="error_alert: TodoBackendHighErrorRate"),
                        # added to the rule's for + 2 evaluation intervals: scrape, discovery, delivery
                        "margin": Field("seconds", default=10, hint="margin: 10"),
                    }),
        Requirement("app.unchanged", "The Todo backend stays healthy: health, a CRUD round trip, no restarts",
                    "restarts", "container restarts (or process restarts) of the Todo backend", {
                        "restarts": Field("restarts", required=True, hint="restarts: {mode: process}"),
                        "user_id": Field("text", default="conformance", hint="user_id: conformance"),
                        "threshold": Field("number", default=0, hint="threshold: 0"),
                    }),
    )
}  # fmt: skip

F = TypeVar("F", bound=Callable[..., Any])


class NotVerified(pytest.fail.Exception):  # type: ignore[name-defined,misc]
    """A requirement that could not be verified, in strict mode: the test case fails (JUnit ``<failure
    message="NotVerified: <reason>">``, never a skip), and the report still says not_verified. Raised by
    the plugin, never by checks (they raise ``checks.base.NotVerifiable``)."""

    __module__ = "builtins"  # shown as `NotVerified: <reason>`, the way pytest shows `Failed: ...`

    def __init__(self, reason: str) -> None:
        super().__init__(reason, pytrace=False)
        self.reason = reason


@dataclass(frozen=True)
class Unavailable:
    """What a fixture hands over instead of a system the target does not offer (no --grafana-url...).

    The plugin turns a test that receives one into not_verified with ``reason`` before the test runs: a
    failure in strict mode, a skip with --no-strict. (A skip inside the fixture could not be a failure.)
    """

    system: str
    reason: str


def requirement(requirement_id: str) -> Callable[[F], F]:
    """Mark a conformance test as the check of ``requirement_id`` (which must be in the catalogue)."""
    if requirement_id not in CATALOGUE:
        raise ValueError(f"unknown requirement id {requirement_id!r}; known: {', '.join(CATALOGUE)}")
    mark = pytest.mark.requirement(requirement_id)

    def decorate(func: F) -> F:
        marked: F = mark(func)
        return marked

    return decorate


@dataclass
class Case:
    """The outcome of one pytest item of a requirement (a parametrized requirement has several)."""

    name: str
    status: str
    message: str = ""


@dataclass
class Record:
    """What a check found out: the figure, the evidence and the message. The plugin adds the status."""

    id: str
    title: str
    unit: str
    threshold: float | str | None = None
    measured: float | str | None = None
    evidence: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    cases: list[Case] = field(default_factory=list)
    message: str = ""

    @classmethod
    def new(cls, requirement_id: str, threshold: float | str | None = None) -> Record:
        entry = CATALOGUE[requirement_id]
        return cls(id=entry.id, title=entry.title, unit=entry.unit, threshold=threshold)

    def add_evidence(self, request: str, response: object, **extra: Any) -> None:
        """Keep what was asked and a sample of what came back (secrets are redacted by the report)."""
        self.evidence.append({"request": request, "response": sample(response), **extra})

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def add_case(self, name: str, status: str, message: str = "") -> None:
        self.cases.append(Case(name, status, message))

    @property
    def status(self) -> str:
        """fail if any case failed; else not_verified if any was not verified (or none ran); else pass."""
        states = {case.status for case in self.cases}
        if FAIL in states:
            return FAIL
        if NOT_VERIFIED in states or not states:
            return NOT_VERIFIED
        return PASS

    def summary(self) -> str:
        """The requirement's message: the failures and reasons of its cases, else the check's own text."""
        bad = [case for case in self.cases if case.status != PASS]
        if bad and len(self.cases) == 1:
            return bad[0].message
        if bad:
            lines = [f"{len(bad)} of {len(self.cases)} cases did not pass"]
            lines += [f"{case.name}: {case.status}: {first_line(case.message)}" for case in bad]
            return "\n".join(lines)
        if len(self.cases) > 1:
            return f"all {len(self.cases)} cases passed"
        return self.message

    def as_dict(self) -> dict[str, Any]:
        message = "\n".join(part for part in [self.summary(), *self.notes] if part)
        return {
            "id": self.id,
            "title": self.title,
            "status": self.status,
            "measured": self.measured,
            "unit": self.unit,
            "threshold": self.threshold,
            "evidence": self.evidence,
            "message": message,
        }


def sample(value: object, limit: int = SAMPLE_CHARS) -> str:
    """A short text sample of a response: JSON where possible, cut at ``limit`` characters."""
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, sort_keys=True, default=str)
        except (TypeError, ValueError):
            text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} chars)"


def first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""
