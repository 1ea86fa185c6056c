"""alerts.fire over recorded Prometheus/Alertmanager payloads, a fake fault and a fake clock."""

from __future__ import annotations

from typing import Any, cast

import pytest
from tests.doubles.transport import FakeClock, payload

from monitoring_conformance.api.alerting import alertmanager_alerts, prometheus_rules
from monitoring_conformance.checks import alerts
from monitoring_conformance.checks.base import CheckFailed, NotVerifiable
from monitoring_conformance.profile import Spec
from monitoring_conformance.requirement import Record

pytestmark = pytest.mark.unit

RULES = {state: f"prometheus/rules-{state}.json" for state in ("inactive", "pending", "firing")}
AM = {"none": "alertmanager/alerts-none.json", "firing": "alertmanager/alerts-firing.json"}


class FakeEndpoint:
    last_request = "GET /api/v1/rules?type=alert -> 200"

    def describe(self) -> str:
        return "Prometheus at http://127.0.0.1:9 (direct)"


class Scripted:
    """Answers from recorded payloads; the state depends on the fake time since the fault."""

    def __init__(
        self, clock: FakeClock, fault: FakeFault, states: list[tuple[float, str]], kind: str
    ) -> None:
        self.clock, self.fault, self.states, self.kind = clock, fault, states, kind
        self.endpoint = FakeEndpoint()
        self.before = "inactive" if kind == "rules" else "none"

    def _state(self) -> str:
        if self.fault.at is None:
            return self.before
        since = self.clock.now() - self.fault.at
        current = self.states[0][1]
        for start, state in self.states:
            if since >= start:
                current = state
        return current

    def rules(self) -> Any:
        return prometheus_rules(payload(RULES[self._state()])["data"])

    def alerts(self, alertname: str | None = None) -> Any:
        return alertmanager_alerts(payload(AM[self._state()]))


class FakeFault:
    name = "backend down"

    def __init__(self, clock: FakeClock, *, undo_error: Exception | None = None) -> None:
        self.clock, self.undo_error = clock, undo_error
        self.at: float | None = None
        self.calls: list[str] = []
        self.sustained = 0

    def describe(self) -> str:
        return "the fake backend stopped"

    def induce(self) -> None:
        self.calls.append("induce")
        self.at = self.clock.now()

    def undo(self) -> None:
        self.calls.append("undo")
        if self.undo_error is not None:
            raise self.undo_error
        self.at = None

    def sustain(self) -> None:
        self.sustained += 1

    def wait_healthy(self, timeout: float) -> None:
        self.calls.append("healthy")


def spec(timeout: float = 60, margin: float = 5) -> Spec:
    return Spec("alerts.fire", timeout=timeout, interval=0.5, threshold=None,
                options={"alert": "TodoBackendDown", "margin": margin})


def check(prom: list[tuple[float, str]], am: list[tuple[float, str]], *, timeout: float = 60,
          before: str = "inactive", fault: FakeFault | None = None, clock: FakeClock | None = None) -> Record:
    clock = clock or FakeClock()
    fault = fault or FakeFault(clock)
    prometheus = Scripted(clock, fault, prom, "rules")
    prometheus.before = before
    alertmanager = Scripted(clock, fault, am, "am")
    record = Record.new("alerts.fire")
    alerts.fire(cast(Any, prometheus), cast(Any, alertmanager), fault, spec(timeout), record,
                clock=clock.clock, wall=clock.now)
    return record


def test_the_recorded_rule_has_its_for_and_interval() -> None:
    (rule,) = [r for r in prometheus_rules(payload(RULES["inactive"])["data"]) if r.name == "TodoBackendDown"]
    assert (rule.for_s, rule.interval_s, rule.state, rule.health) == (3.0, 1.0, "inactive", "ok")
    assert 'up{job="todo-backend"}' in rule.query


def test_recorded_states_map_to_the_timeline_vocabulary() -> None:
    firing = prometheus_rules(payload(RULES["firing"])["data"])
    assert alerts.rule_state(alerts.find_rule(firing, "TodoBackendDown")) == "firing"  # type: ignore[arg-type]
    pending = prometheus_rules(payload(RULES["pending"])["data"])
    assert alerts.rule_state(alerts.find_rule(pending, "TodoBackendDown")) == "pending"  # type: ignore[arg-type]
    assert [a.state for a in alertmanager_alerts(payload(AM["firing"]))] == ["active"]
    assert alertmanager_alerts(payload(AM["none"])) == []


def test_alert_within_for_plus_two_intervals_plus_margin_passes() -> None:
    clock = FakeClock()
    fault = FakeFault(clock)
    record = check([(0, "inactive"), (1, "pending"), (4, "firing")], [(0, "none"), (5, "firing")],
                   fault=fault, clock=clock)
    assert record.threshold == 3 + 2 * 1 + 5
    assert record.measured is not None
    assert 5 <= float(record.measured) <= 6
    assert fault.calls == ["induce", "undo", "healthy"]
    timeline = record.evidence[0]["timeline"]
    assert {e["source"] for e in timeline} == {"prometheus", "alertmanager"}
    assert [e["state"] for e in timeline if e["source"] == "prometheus"] == ["inactive", "pending", "firing"]
    assert all(set(e) == {"t", "source", "state"} for e in timeline)


def test_a_rule_that_never_leaves_pending_fails_with_its_history_and_the_fault_is_undone() -> None:
    clock = FakeClock()
    fault = FakeFault(clock)
    with pytest.raises(CheckFailed) as failed:
        check([(0, "inactive"), (1, "pending")], [(0, "none")], timeout=20, fault=fault, clock=clock)
    message = str(failed.value)
    assert message.startswith("alerts.fire FAILED after")
    assert "state history: prometheus inactive at" in message
    assert "prometheus pending at +1" in message
    assert fault.calls == ["induce", "undo", "healthy"]


def test_a_rule_already_firing_before_the_fault_fails_without_inducing_it() -> None:
    clock = FakeClock()
    fault = FakeFault(clock)
    with pytest.raises(CheckFailed) as failed:
        check([(0, "firing")], [(0, "firing")], before="firing", fault=fault, clock=clock)
    assert "inactive before the fault" in str(failed.value)
    assert "prometheus firing" in str(failed.value)
    assert fault.calls == []


def test_firing_after_the_threshold_fails_with_the_measured_times() -> None:
    with pytest.raises(CheckFailed) as failed:
        check([(0, "inactive"), (1, "pending"), (30, "firing")], [(0, "none"), (31, "firing")])
    assert "took longer than for + 2 intervals + margin = 10.0s" in str(failed.value)
    assert "Prometheus firing after 30." in str(failed.value)


def test_alertmanager_never_listing_the_alert_fails() -> None:
    with pytest.raises(CheckFailed) as failed:
        check([(0, "inactive"), (4, "firing")], [(0, "none")], timeout=15)
    assert "alertmanager inactive" in str(failed.value)
    assert "prometheus firing at +4" in str(failed.value)


def test_a_fault_that_cannot_be_undone_fails_the_requirement() -> None:
    clock = FakeClock()
    fault = FakeFault(clock, undo_error=RuntimeError("port taken"))
    with pytest.raises(CheckFailed, match=r"did not recover after undoing the fake backend stopped: port"):
        check([(0, "inactive"), (4, "firing")], [(0, "none"), (4, "firing")], fault=fault, clock=clock)


def test_a_missing_rule_fails_naming_the_loaded_rules() -> None:
    clock = FakeClock()
    fault = FakeFault(clock)
    prometheus = Scripted(clock, fault, [(0, "inactive")], "rules")
    other = Spec("alerts.fire", timeout=5, interval=0.5, threshold=None,
                 options={"alert": "Nope", "margin": 1})
    with pytest.raises(CheckFailed, match=r"(?s)no alerting rule Nope.*TodoBackendCrashLooping, TodoBack"):
        alerts.fire(cast(Any, prometheus), cast(Any, prometheus), fault, other, Record.new("alerts.fire"),
                    clock=clock.clock, wall=clock.now)


def test_no_fault_is_not_verifiable_with_the_reason() -> None:
    with pytest.raises(NotVerifiable, match="cannot start processes"):
        alerts.fire(cast(Any, None), None, None, spec(), Record.new("alerts.fire"),
                    reason="the urls target cannot start processes")


class EachFault(Scripted):
    """Scripted states per fault: whichever fault is induced now drives the answers."""

    def __init__(
        self, clock: FakeClock, schedules: dict[FakeFault, list[tuple[float, str]]], kind: str
    ) -> None:
        super().__init__(clock, next(iter(schedules)), [], kind)
        self.schedules = schedules

    def _state(self) -> str:
        for fault, schedule in self.schedules.items():
            if fault.at is not None:
                self.fault, self.states = fault, schedule
                return super()._state()
        return self.before


def both(down: list[tuple[float, str]], errors: list[tuple[float, str]], *, timeout: float = 60
         ) -> tuple[Record, FakeFault, FakeFault]:
    """alerts.fire with ``error_alert``: the down fault's schedule, then the 5xx fault's (Prometheus and
    Alertmanager alike; the recorded payloads are TodoBackendDown's, so both parts name that alert)."""
    clock = FakeClock()
    fault, error_fault = FakeFault(clock), FakeFault(clock)
    am = {fault: [(t, "firing" if s == "firing" else "none") for t, s in down],
          error_fault: [(t, "firing" if s == "firing" else "none") for t, s in errors]}
    prometheus = EachFault(clock, {fault: down, error_fault: errors}, "rules")
    alertmanager = EachFault(clock, am, "am")
    the_spec = Spec("alerts.fire", timeout=timeout, interval=0.5, threshold=None,
                    options={"alert": "TodoBackendDown", "error_alert": "TodoBackendDown", "margin": 5})
    record = Record.new("alerts.fire")
    try:
        alerts.fire(cast(Any, prometheus), cast(Any, alertmanager), fault, the_spec, record,
                    error_fault=error_fault, clock=clock.clock, wall=clock.now)
    finally:
        assert fault.calls == ["induce", "undo", "healthy"]
    return record, fault, error_fault


def test_the_error_alert_runs_second_under_its_own_fault_sustained_on_every_poll() -> None:
    record, _, error_fault = both([(0, "inactive"), (2, "firing")], [(0, "pending"), (8, "firing")])

    assert error_fault.calls == ["induce", "undo", "healthy"]
    assert error_fault.sustained >= 16  # one call per poll (0.5 s) until firing at +8 s
    assert len(record.evidence) == 2
    assert record.message.count("TodoBackendDown firing in Prometheus after") == 2
    assert record.threshold == 10
    assert record.measured is not None
    assert 8 <= float(record.measured) <= 9  # the part with the least time to spare


def test_an_error_alert_that_never_fires_fails_with_its_history_and_its_fault_undone() -> None:
    with pytest.raises(CheckFailed) as failed:
        both([(0, "inactive"), (2, "firing")], [(0, "inactive")], timeout=15)

    message = str(failed.value)
    assert message.startswith("alerts.fire FAILED after 15.0s"), message
    assert "TodoBackendDown firing in Prometheus and listed by Alertmanager" in message
    assert "state history: prometheus inactive at +0.0s, alertmanager inactive at +0.0s" in message


def test_an_error_alert_the_target_cannot_induce_is_not_verifiable() -> None:
    clock = FakeClock()
    fault = FakeFault(clock)
    prometheus = Scripted(clock, fault, [(0, "inactive")], "rules")
    the_spec = Spec("alerts.fire", timeout=5, interval=0.5, threshold=None,
                    options={"alert": "TodoBackendDown", "error_alert": "TodoBackendHighErrorRate"})
    with pytest.raises(NotVerifiable, match="cannot induce a burst of 5xx for TodoBackendHighErrorRate"):
        alerts.fire(cast(Any, prometheus), cast(Any, prometheus), fault, the_spec, Record.new("alerts.fire"),
                    clock=clock.clock, wall=clock.now)
    assert fault.calls == []
