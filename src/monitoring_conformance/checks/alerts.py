"""alerts.fire: a real fault turns the chart's alert rule into a firing alert that reaches Alertmanager.

The steps, in order:

1. Prometheus has loaded the rule (``/api/v1/rules``), it evaluates without error, and it is ``inactive``:
   a rule that is already pending or firing before the fault cannot show that the fault fired it.
2. The target's fault is induced (the Todo backend down), and the seconds until the rule is ``firing`` in
   Prometheus and until Alertmanager lists the alert are measured from that moment. While waiting, each
   poll calls the fault's ``sustain()`` (a burst of 5xx sends its requests there).
3. The fault is undone in a ``finally`` (also on failure and Ctrl-C), and the app must be healthy again.

It passes when both happen within the rule's ``for`` + 2 evaluation intervals + the profile's ``margin``.
Every change of state is kept as the evidence's ``timeline``; a failure shows it. With the profile's
``error_alert`` the same steps run a second time for that alert under the target's 5xx fault.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from monitoring_conformance.api.alerting import FIRING, INACTIVE, PENDING, AlertRule
from monitoring_conformance.api.alertmanager import Alertmanager
from monitoring_conformance.api.prometheus import Prometheus
from monitoring_conformance.checks.base import CheckFailed, NotVerifiable, Poll, expect, fail, request_line
from monitoring_conformance.profile import Spec
from monitoring_conformance.requirement import Record
from monitoring_conformance.stack import Fault
from monitoring_conformance.wait import Clock

#: Alertmanager's alert states that count as "listed" (a silenced alert was still received).
LISTED = ("active", "suppressed", "unprocessed")


@dataclass
class Timeline:
    """State observations of the alert, one entry per change and source, wall-clock seconds."""

    wall: Callable[[], float] = time.time
    entries: list[dict[str, Any]] = field(default_factory=list)
    _last: dict[str, str] = field(default_factory=dict)

    def observe(self, source: str, state: str) -> None:
        if self._last.get(source) != state:
            self._last[source] = state
            self.entries.append({"t": round(self.wall(), 3), "source": source, "state": state})

    def last(self, source: str) -> str | None:
        return self._last.get(source)

    def first(self, source: str, state: str, since: float) -> float | None:
        """The first time ``source`` was seen in ``state`` at or after ``since``."""
        return next((e["t"] for e in self.entries
                     if e["source"] == source and e["state"] == state and e["t"] >= since), None)

    def text(self, since: float) -> str:
        if not self.entries:
            return "no observation"
        return ", ".join(f"{e['source']} {e['state']} at +{e['t'] - since:.1f}s" for e in self.entries)


def find_rule(rules: list[AlertRule], alertname: str) -> AlertRule | None:
    return next((rule for rule in rules if rule.name == alertname), None)


def rule_state(rule: AlertRule) -> str:
    """The rule's state; a rule with a pending or firing alert is that state even if the field lags."""
    states = {alert.state for alert in rule.alerts}
    if FIRING in states or rule.state == FIRING:
        return FIRING
    if PENDING in states or rule.state == PENDING:
        return PENDING
    return INACTIVE


def listed_state(alertmanager: Alertmanager, alertname: str) -> str:
    """``firing`` when Alertmanager lists the alert, else ``inactive``."""
    listed = [a for a in alertmanager.alerts(alertname) if a.name == alertname and a.state in LISTED]
    return FIRING if listed else INACTIVE


def loaded_rule(prometheus: Prometheus, alertname: str, record: Record) -> AlertRule:
    """The rule as Prometheus loaded it; CheckFailed when it is missing or does not evaluate."""
    rules = prometheus.rules()
    rule = find_rule(rules, alertname)
    request = request_line(prometheus.endpoint)
    if rule is None:
        known = ", ".join(sorted({r.name for r in rules})) or "none"
        raise fail(record, f"Prometheus has no alerting rule {alertname}", f"alerting rules loaded: {known}",
                   request=request, look_next="the chart's rules/*.yaml and how they reach Prometheus "
                   "(PrometheusRule selector, or the local rule file)")
    if rule.health not in ("ok", "unknown", ""):
        raise fail(record, f"rule {alertname} does not evaluate", f"health {rule.health}: {rule.last_error}",
                   request=request, look_next=f"the rule's expression: {rule.query}")
    return rule


@dataclass
class Fired:
    """One alert's outcome: seconds from the fault until firing in Prometheus / listed by Alertmanager."""

    alertname: str
    prometheus_s: float
    alertmanager_s: float
    threshold: float

    @property
    def seconds(self) -> float:
        return max(self.prometheus_s, self.alertmanager_s)

    def text(self) -> str:
        return (f"{self.alertname} firing in Prometheus after {self.prometheus_s:.1f}s, listed by "
                f"Alertmanager after {self.alertmanager_s:.1f}s (threshold {self.threshold:.1f}s)")


def fire(
    prometheus: Prometheus,
    alertmanager: Alertmanager | None,
    fault: Fault | None,
    spec: Spec,
    record: Record,
    *,
    reason: str = "",
    error_fault: Fault | None = None,
    clock: Clock | None = None,
    wall: Callable[[], float] = time.time,
) -> None:
    """The profile's ``alert`` under ``fault``; then, with ``error_alert``, that alert under ``error_fault``
    (a burst of 5xx). Measured and threshold are those of the alert with the least time to spare."""
    if fault is None:
        raise NotVerifiable(reason or "this target cannot induce a fault")
    if alertmanager is None:
        raise NotVerifiable("this target offers no Alertmanager, so delivery of the alert cannot be seen")
    parts = [(spec.text("alert"), fault)]
    error_alert = spec.options.get("error_alert")
    if error_alert:
        if error_fault is None:
            raise NotVerifiable(f"this target cannot induce a burst of 5xx for {error_alert}")
        parts.append((str(error_alert), error_fault))
    done = [fire_one(prometheus, alertmanager, alertname, part_fault, spec, record, clock=clock, wall=wall)
            for alertname, part_fault in parts]
    tightest = min(done, key=lambda f: f.threshold - f.seconds)
    record.threshold = round(tightest.threshold, 3)
    record.measured = round(tightest.seconds, 3)
    record.message = "; ".join(f.text() for f in done)


def fire_one(
    prometheus: Prometheus,
    alertmanager: Alertmanager,
    alertname: str,
    fault: Fault,
    spec: Spec,
    record: Record,
    *,
    clock: Clock | None = None,
    wall: Callable[[], float] = time.time,
) -> Fired:
    """Induce the fault, measure until the alert fires in Prometheus and reaches Alertmanager, undo it."""
    rule = loaded_rule(prometheus, alertname, record)
    margin = spec.number("margin")
    threshold = rule.for_s + 2 * rule.interval_s + margin
    record.threshold = round(threshold, 3)
    record.note(f"rule {alertname} (group {rule.group}): for {rule.for_s:g}s, evaluated every "
                f"{rule.interval_s:g}s; threshold = for + 2 intervals + margin {margin:g}s; fault: "
                f"{fault.describe()}")
    timeline = Timeline(wall=wall)
    request = f'GET /api/v1/rules + /api/v2/alerts?filter=alertname="{alertname}"'
    evidence: dict[str, Any] = {"request": request,
                                "rule": {"name": rule.name, "query": rule.query, "for_s": rule.for_s,
                                         "interval_s": rule.interval_s, "file": rule.file},
                                "fault": fault.describe(), "timeline": timeline.entries}
    record.evidence.append(evidence)
    settled_at = wall()

    def settled() -> None:
        found = find_rule(prometheus.rules(), alertname)
        timeline.observe("prometheus", rule_state(found) if found else "absent")
        timeline.observe("alertmanager", listed_state(alertmanager, alertname))
        states = {timeline.last("prometheus"), timeline.last("alertmanager")}
        expect(states == {INACTIVE}, f"not inactive yet: {timeline.text(settled_at)}")

    # A rule evaluated before the first scrape may be pending for a moment; one that never settles
    # (its selectors match nothing, so absent() holds) cannot show that the fault fired it.
    budget = replace(spec, timeout=2 * rule.interval_s + margin)
    try:
        Poll(record, budget, clock=clock).until(
            settled, what=f"{alertname} inactive before the fault (else its firing proves nothing)",
            look_next=f"the rule's selectors: {rule.query} (do they match this stack's series?)")
    except CheckFailed as exc:
        raise CheckFailed(f"{exc}\n  state history: {timeline.text(settled_at)}") from None
    poll = Poll(record, spec, clock=clock, endpoints=(prometheus.endpoint, alertmanager.endpoint))
    started = round(wall(), 3)  # the timeline's resolution: an observation at the same moment counts
    evidence["fault_at"] = started

    def fired() -> None:
        fault.sustain()
        found = find_rule(prometheus.rules(), alertname)
        timeline.observe("prometheus", rule_state(found) if found else "absent")
        timeline.observe("alertmanager", listed_state(alertmanager, alertname))
        prom = timeline.first("prometheus", FIRING, started)
        am = timeline.first("alertmanager", FIRING, started)
        expect(prom is not None and am is not None, f"not both yet: {timeline.text(started)}")

    try:
        fault.induce()
        poll.until(fired, what=f"{alertname} firing in Prometheus and listed by Alertmanager",
                   look_next=f"the state history above; the rule {rule.query} with for {rule.for_s:g}s")
    except CheckFailed as exc:
        raise CheckFailed(f"{exc}\n  state history: {timeline.text(started)}") from None
    finally:
        recovered_at = _undo(fault, spec, evidence, wall)
    prom_s = float(timeline.first("prometheus", FIRING, started) or 0) - started
    am_s = float(timeline.first("alertmanager", FIRING, started) or 0) - started
    evidence.update(prometheus_firing_s=round(prom_s, 3), alertmanager_listed_s=round(am_s, 3),
                    recovered_s=round(recovered_at - started, 3))
    outcome = Fired(alertname, prom_s, am_s, threshold)
    record.measured = round(outcome.seconds, 3)
    record.message = outcome.text()
    if outcome.seconds > threshold:
        raise fail(record, f"{alertname} took longer than for + 2 intervals + margin = {threshold:.1f}s",
                   f"Prometheus firing after {prom_s:.1f}s, Alertmanager after {am_s:.1f}s; state history: "
                   f"{timeline.text(started)}", request=request_line(prometheus.endpoint),
                   look_next="Prometheus's evaluation interval and its alerting.alertmanagers settings")
    return outcome


def _undo(fault: Fault, spec: Spec, evidence: dict[str, Any], wall: Callable[[], float]) -> float:
    """Undo the fault and wait until the app is healthy; a failure here fails the requirement."""
    try:
        fault.undo()
        fault.wait_healthy(spec.timeout)
    except Exception as exc:
        evidence["recovery_error"] = str(exc)
        raise CheckFailed(f"alerts.fire FAILED: the app did not recover after undoing {fault.describe()}: "
                          f"{exc}") from exc
    return wall()
