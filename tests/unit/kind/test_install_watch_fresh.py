"""The install-time watch counts only a Grafana this install deployed, and never leaves helm's thread behind.

On a kept cluster ``helm upgrade`` may leave the running Grafana alone, or replace it by a rolling update
while the old pod keeps answering: neither may turn into a pass. The pods are a RecordingRunner answer that
follows the fake clock (see ``with_grafana_pods``).
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
from tests.doubles import FakeClock, GrafanaDouble
from tests.unit.core.helpers import make_record, make_spec

from monitoring_conformance.api.grafana import Grafana
from monitoring_conformance.checks import grafana as checks
from monitoring_conformance.checks.base import CheckFailed, NotVerifiable
from monitoring_conformance.errors import CommandFailed
from monitoring_conformance.install_watch import (
    GRAFANA_SELECTOR,
    GrafanaWatch,
    Readiness,
    install_watched,
    pod_ages,
    pods_evidence,
)
from monitoring_conformance.orchestrate import KindOptions
from monitoring_conformance.preflight import Host
from monitoring_conformance.targets.kubeconfig import KubeconfigTarget
from monitoring_conformance.tools.kubectl import Kubectl
from monitoring_conformance.wait import Clock

from .conftest import answer, happy_runner, kind_payload, pods_of
from .test_install_watch import (
    EPOCH,
    T0_SOURCE,
    grafana_double,
    grafana_pod,
    judge,
    observation,
    open_kind,
    stamp,
    watched,  # noqa: F401 - the fixture
    with_grafana_pods,
)
from .test_targets import api_server, kube_settings, secret_reader

pytestmark = pytest.mark.unit


def never_ready_double() -> Grafana:
    return Grafana(GrafanaDouble().endpoint(name="Grafana"))


# -- a Grafana from before t0 -----------------------------------------------------------------------------


def test_a_grafana_helm_did_not_replace_is_not_verified_never_a_pass(
    tmp_path: Path, watched: KindOptions, tools: Path, clock: FakeClock, host: Host  # noqa: F811
) -> None:
    # a kept cluster: helm upgrade changes nothing in Grafana, whose pod of an earlier run answers at once
    runner = with_grafana_pods(happy_runner(), clock, new_at=None, old_until=float("inf"))

    _, stack = open_kind(tmp_path, watched, runner, clock, host, grafana_double(clock, ready_after=0.0))

    assert stack.grafana_ready_at is None
    evidence = stack.grafana_ready_evidence
    assert evidence["redeployed"] is False
    assert "this install did not redeploy Grafana" in evidence["stopped"]
    assert clock.t - 1000.0 < 30.0  # ended soon after helm finished, not after the 120 s grace
    with pytest.raises(NotVerifiable) as caught:
        judge(stack, clock)
    message = str(caught.value)
    assert "this install did not redeploy Grafana: no Grafana pod was created after t0" in message
    assert f"grafana-5c4b7d9f8-old01 (created {stamp(100.0)})" in message
    assert "helm uninstall" in message


@pytest.mark.parametrize(("old_until", "verdict"), [(1020.0, "pass"), (1040.0, "fail")])
def test_answers_of_the_old_pod_during_a_rolling_update_do_not_count(
    tmp_path: Path, watched: KindOptions, tools: Path, clock: FakeClock, host: Host,  # noqa: F811
    old_until: float, verdict: str,
) -> None:
    # the old pod answers from the start; the new one exists from +3 s; the old one is deleted at old_until
    runner = with_grafana_pods(happy_runner(), clock, new_at=1003.0, old_until=old_until)

    _, stack = open_kind(tmp_path, watched, runner, clock, host, grafana_double(clock, ready_after=0.0))

    assert stack.grafana_ready_at is not None
    figure = stack.grafana_ready_at - EPOCH - 1000.0
    assert old_until - 1000.0 <= figure <= old_until - 1000.0 + 1.5  # one pod look (1 s) and one probe
    assert stack.grafana_ready_evidence["fresh"] is True
    if verdict == "pass":
        assert judge(stack, clock)[0] == round(figure, 3)
    else:
        with pytest.raises(CheckFailed, match=r"Grafana became ready 4\d\.\ds after t0"):
            judge(stack, clock)


def test_grafana_pods_that_cannot_be_listed_leave_it_not_verified(
    tmp_path: Path, watched: KindOptions, tools: Path, clock: FakeClock, host: Host  # noqa: F811
) -> None:
    runner = happy_runner()

    def forbidden(argv: tuple[str, ...]) -> Exception | None:
        refusal = CommandFailed(list(argv), 1, "Error from server (Forbidden): pods is forbidden")
        return refusal if GRAFANA_SELECTOR in argv else None

    runner.responders.insert(0, forbidden)

    _, stack = open_kind(tmp_path, watched, runner, clock, host, grafana_double(clock, ready_after=0.0))

    assert stack.grafana_ready_at is None  # Grafana answered at once, but which pod answered is unknown
    assert stack.grafana_ready_evidence["redeployed"] is None
    with pytest.raises(NotVerifiable, match="pods could not be listed, so whether this install deployed"):
        judge(stack, clock)


def test_a_watch_without_a_look_at_the_pods_never_measures(clock: FakeClock) -> None:
    runner = happy_runner()
    runner.fail(["kubectl", "get", "pods"], CommandFailed(["kubectl"], 1, "pods is forbidden"))
    watch = GrafanaWatch(
        endpoint=lambda: GrafanaDouble().endpoint(name="Grafana"), credentials=lambda: None,
        dashboard_uid="todo-overview", kubectl=Kubectl(runner, "kubectl"), grace=20.0,
    )  # fmt: skip

    result, _, readiness = install_watched(lambda: "installed", watch, clock=clock.clock,
                                           wall=lambda: EPOCH + clock.t, budget=600)  # fmt: skip

    assert result == "installed"
    assert readiness is not None
    assert readiness.ready_at is None  # Grafana answered all along, but from which pod is unknown
    assert readiness.evidence["redeployed"] is None
    assert readiness.evidence["fresh"] is False
    assert "still not ready 20s after helm finished" in readiness.evidence["stopped"]


def test_another_dashboard_after_a_watch_that_saw_no_fresh_grafana_is_not_polled_into_a_pass(
    clock: FakeClock,
) -> None:
    double = GrafanaDouble()
    old_pod = {"name": "grafana-5c4b7d9f8-old01", "created": stamp(100.0)}
    seen = observation(redeployed=False, fresh=False, answered=True, dashboard_uid="todo-overview",
                       watched_until=1012.0, grafana_pods=[old_pod])  # fmt: skip
    record = make_record("grafana.ready_within_30s")

    with pytest.raises(NotVerifiable, match="this install did not redeploy Grafana"):
        checks.ready_within(Grafana(double.endpoint(name="Grafana")), EPOCH + 1000.0, T0_SOURCE, "other",
                            make_spec("grafana.ready_within_30s", threshold=30, timeout=5), record,
                            clock=clock.clock, wall=lambda: EPOCH + 1005.0, ready_at=None,
                            observation=seen)  # fmt: skip
    assert double.calls == []  # a poll now would have been "ready at most 5 s after t0": a false pass


def test_answers_seen_only_while_an_old_pod_lived_are_not_verified(clock: FakeClock) -> None:
    seen = observation(redeployed=True, fresh=False, answered=True, watched_until=1200.0)
    record = make_record("grafana.ready_within_30s")

    with pytest.raises(NotVerifiable, match="answered only while a pod from before t0 was still alive"):
        checks.ready_within(never_ready_double(), 1000.0, T0_SOURCE, "todo-overview",
                            make_spec("grafana.ready_within_30s", threshold=30, timeout=5), record,
                            clock=clock.clock, ready_at=None, observation=seen)  # fmt: skip


def test_a_watch_that_stopped_before_the_threshold_is_not_verified_not_polled_again(clock: FakeClock) -> None:
    double = GrafanaDouble()
    seen = observation(watched_until=1010.0, stopped="the watch failed: RuntimeError: boom", last="503")
    record = make_record("grafana.ready_within_30s")

    with pytest.raises(NotVerifiable, match=r"stopped 10\.0s after t0, before 30s.*RuntimeError: boom"):
        checks.ready_within(Grafana(double.endpoint(name="Grafana")), 1000.0, T0_SOURCE, "todo-overview",
                            make_spec("grafana.ready_within_30s", threshold=30, timeout=5), record,
                            clock=clock.clock, wall=lambda: 1012.0, ready_at=None,
                            observation=seen)  # fmt: skip
    assert double.calls == []


def test_pod_ages_count_only_readable_stamps_at_or_after_t0_as_new() -> None:
    t0 = EPOCH + 1000.7  # a pod created 0.3 s later shows the truncated second 1000
    pods = [grafana_pod("same-second", 1000.0), grafana_pod("before", 999.0),
            grafana_pod("leaving", 1001.0, deleting=True),
            {"metadata": {"name": "no-stamp"}, "status": {"phase": "Running"}}]  # fmt: skip

    ages = {age.name: (age.new, age.alive) for age in pod_ages(pods, t0)}

    assert ages == {"same-second": (True, True), "before": (False, True), "leaving": (True, False),
                    "no-stamp": (False, True)}  # fmt: skip


# -- helm's thread ------------------------------------------------------------------------------------------


def test_t0_is_taken_before_helm_starts(clock: FakeClock) -> None:
    ticks = iter(range(1, 100))
    started: list[float] = []

    def wall() -> float:
        return float(next(ticks))

    def install() -> str:
        started.append(wall())
        return "installed"

    _, t0, readiness = install_watched(install, None, clock=clock.clock, wall=wall, budget=10)

    assert readiness is None
    assert t0 < started[0]


class BrokenWatch(GrafanaWatch):
    """A watch whose polling is interrupted (Ctrl-C) after ``before`` ran."""

    def __init__(self, before: Any) -> None:
        kubectl = Kubectl(happy_runner(), "kubectl")
        super().__init__(endpoint=lambda: GrafanaDouble().endpoint(), credentials=lambda: None,
                         dashboard_uid="todo-overview", kubectl=kubectl)  # fmt: skip
        self.before = before

    def observe(self, helm: Future[Any], t0: float, *, clock: Clock, wall: Any, budget: float) -> Readiness:
        self.before()
        raise KeyboardInterrupt


def test_an_interrupted_watch_waits_for_helms_thread_before_the_interrupt_goes_on(clock: FakeClock) -> None:
    ctrl_c = threading.Event()  # a Ctrl-C in the terminal reaches helm too, which then ends
    helm_ended = threading.Event()

    def install() -> str:
        ctrl_c.wait(timeout=10)
        helm_ended.set()
        return "cancelled"

    with pytest.raises(KeyboardInterrupt):
        install_watched(install, BrokenWatch(ctrl_c.set), clock=clock.clock, budget=10, join_timeout=10)

    assert helm_ended.is_set()


def test_the_wait_for_helms_thread_after_an_interrupt_is_bounded(clock: FakeClock) -> None:
    release = threading.Event()

    def install() -> str:  # a helm that does not react to the interrupt
        release.wait(timeout=10)
        return "late"

    try:
        with pytest.raises(KeyboardInterrupt):
            install_watched(install, BrokenWatch(lambda: None), clock=clock.clock, budget=10,
                            join_timeout=0.05)
        assert not release.is_set()  # the interrupt went on while helm was still running
    finally:
        release.set()


def test_a_watch_that_breaks_keeps_its_reason_and_helm_goes_on(clock: FakeClock) -> None:
    runner = with_grafana_pods(happy_runner(), clock)

    def credentials() -> tuple[str, str] | None:
        raise RuntimeError("a bug in the credentials reader")

    watch = GrafanaWatch(endpoint=lambda: GrafanaDouble().endpoint(), credentials=credentials,
                         dashboard_uid="todo-overview", kubectl=Kubectl(runner, "kubectl"))  # fmt: skip

    result, _, readiness = install_watched(lambda: "installed", watch, clock=clock.clock,
                                           wall=lambda: EPOCH + clock.t, budget=600)  # fmt: skip

    assert result == "installed"
    assert readiness is not None
    assert readiness.ready_at is None
    assert readiness.evidence["stopped"] == "the watch failed: RuntimeError: a bug in the credentials reader"


# -- a t0 this run did not watch (kubeconfig target without --install-chart) ------------------------------

#: helm-status-deployed.json: info.last_deployed 2026-11-27T10:02:03.123456789Z
LAST_DEPLOYED = 1795773723.123456


@pytest.mark.parametrize(("created", "outcome"), [("2026-11-27T10:01:01Z", "not_verified"),
                                                  ("2026-11-27T10:02:09Z", "pass")])  # fmt: skip
def test_a_grafana_older_than_helms_last_deploy_cannot_be_measured_from_it(
    tmp_path: Path, tools: Path, clock: FakeClock, created: str, outcome: str
) -> None:
    runner = happy_runner()
    pod = grafana_pod("grafana-6d5f7c9b8d-q7wzn", 0.0)
    pod["metadata"]["creationTimestamp"] = created
    answer(runner, lambda argv: pods_of("monitoring")(argv) and GRAFANA_SELECTOR in argv,
           stdout=json.dumps({"items": [pod]}))
    runner.on(["helm", "status"], stdout=kind_payload("helm-status-deployed.json"))
    target = KubeconfigTarget(kube_settings(tmp_path), runner, echo=lambda line: None,
                              secret_reader=secret_reader, session_hook=api_server().mount)  # fmt: skip
    stack = target.open()
    double = GrafanaDouble()  # ready, and the overview loads: the first probe succeeds
    record = make_record("grafana.ready_within_30s")

    def ready_within() -> float:
        return checks.ready_within(
            Grafana(double.endpoint(name="Grafana")), stack.t0, stack.t0_source, "todo-overview",
            make_spec("grafana.ready_within_30s", threshold=30, timeout=5), record, clock=clock.clock,
            wall=lambda: LAST_DEPLOYED + 8.0, observation=stack.grafana_ready_evidence,
        )  # fmt: skip

    assert stack.t0 == pytest.approx(LAST_DEPLOYED)
    if outcome == "pass":
        assert ready_within() == 8.0  # this deployment's Grafana: at most 8 s after t0
    else:  # before the fix: "ready at most 8.0s after t0", a pass for a Grafana that was up long before
        with pytest.raises(NotVerifiable) as caught:
            ready_within()
        assert str(caught.value).startswith(
            "the deployment at t0 (helm status info.last_deployed) did not redeploy Grafana: no Grafana pod "
            "was created after t0 (pods: grafana-6d5f7c9b8d-q7wzn (created 2026-11-27T10:01:01Z))"
        )
        assert double.calls == []


@pytest.mark.parametrize("source", ["watch", "one look"])
def test_no_grafana_pod_at_all_says_so(
    tmp_path: Path, watched: KindOptions, tools: Path, clock: FakeClock, host: Host, source: str,  # noqa: F811
) -> None:
    # before the fix: "... the Grafana that answers was already running", though nothing runs Grafana
    runner = happy_runner()
    if source == "watch":
        runner = with_grafana_pods(runner, clock, new_at=None, old_until=None)
        _, stack = open_kind(tmp_path, watched, runner, clock, host, grafana_double(clock, ready_after=0.0))
        evidence = stack.grafana_ready_evidence
    else:
        answer(runner, lambda argv: pods_of("monitoring")(argv) and GRAFANA_SELECTOR in argv,
               stdout=json.dumps({"items": []}))
        evidence = pods_evidence(Kubectl(runner), "monitoring", LAST_DEPLOYED,
                                 "helm status info.last_deployed")
        evidence.update(t0=LAST_DEPLOYED, watched_until=LAST_DEPLOYED + 1.0, dashboard_uid="todo-overview")
    assert evidence["grafana_pods"] == []
    with pytest.raises(NotVerifiable) as caught:
        checks.ready_within(
            never_ready_double(), float(evidence["t0"]), "t0", "todo-overview",
            make_spec("grafana.ready_within_30s", threshold=30, timeout=5),
            make_record("grafana.ready_within_30s"), clock=clock.clock,
            wall=lambda: float(evidence["t0"]) + 5.0, observation=evidence,
        )  # fmt: skip
    message = str(caught.value)
    assert message.startswith(f"no Grafana pod exists: listing the pods with the selector {GRAFANA_SELECTOR}")
    assert "already running" not in message
