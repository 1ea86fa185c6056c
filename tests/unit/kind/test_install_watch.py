"""grafana.ready_within_30s measured live during the install: helm in a thread, Grafana polled meanwhile.

The kind target runs over a RecordingRunner and a fake clock; Grafana is a GrafanaDouble mounted at the
Grafana service's API-server proxy URL, so the watch reaches it exactly as it would reach the real one.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from kubernetes.client import ApiException, V1Secret
from tests.doubles import FakeClock, GrafanaDouble, RecordedTransport, Reply, payload
from tests.doubles.runner import RecordingRunner
from tests.unit.core.helpers import make_record, make_spec

from monitoring_conformance.api.grafana import Grafana
from monitoring_conformance.checks import grafana as checks
from monitoring_conformance.checks.base import CheckFailed, NotVerifiable
from monitoring_conformance.errors import CommandFailed
from monitoring_conformance.install_watch import GRAFANA_SELECTOR
from monitoring_conformance.orchestrate import KindOptions, PhaseFailed
from monitoring_conformance.preflight import Host
from monitoring_conformance.settings import Settings
from monitoring_conformance.stack import Stack
from monitoring_conformance.targets.kind import KindTarget
from monitoring_conformance.targets.kubeconfig import KubeconfigTarget
from monitoring_conformance.tools.runner import Result

from .conftest import API_SERVER, answer, happy_runner, kind_payload, pods_of, write_kubeconfig
from .test_kubeaccess import CoreV1ApiDouble, grafana_secret

pytestmark = pytest.mark.unit

EPOCH = 1_795_773_000.0
PASSWORD = "watch-admin-pw-31"
GRAFANA_PROXY = f"{API_SERVER}/api/v1/namespaces/monitoring/services/http:grafana:80/proxy"
T0_SOURCE = "wall clock right before `helm upgrade --install` started (this run)"


class GrafanaLoginDouble(GrafanaDouble):
    """A GrafanaDouble that serves dashboards only after ``POST /login`` with the admin password (the real
    Grafana wants its session cookie there; the API-server proxy drops an Authorization header)."""

    def __init__(self, password: str, **options: Any) -> None:
        super().__init__(**options)
        self.password = password
        self.logged_in = False
        self.route("POST", r"/login", self._login)
        self.route("GET", r"/api/dashboards/uid/(?P<uid>[^/]+)", self._after_login, first=True)

    def _login(self, call: Any, match: re.Match[str]) -> Any:
        if call.json() == {"user": "admin", "password": self.password}:
            self.logged_in = True
            return {"message": "Logged in"}
        return Reply(401, {"message": "invalid username or password"})

    def _after_login(self, call: Any, match: re.Match[str]) -> Any:
        if not self.logged_in:
            return Reply(401, payload("grafana/unauthorized.json"))
        return self._dashboard(call, match)


class LateSecretDouble(CoreV1ApiDouble):
    """The admin Secret exists only from ``at`` (fake clock) on, as it does once helm has created it."""

    def __init__(self, clock: FakeClock, at: float):
        super().__init__({("monitoring", "grafana"): admin_secret()})
        self.clock = clock
        self.at = at

    def read_namespaced_secret(self, name: str, namespace: str) -> V1Secret:
        if self.clock.now() < self.at:
            self.reads.append((namespace, name))
            raise ApiException(status=404, reason="Not Found")
        return super().read_namespaced_secret(name, namespace)


def admin_secret() -> V1Secret:
    return grafana_secret(**{"admin-user": "admin", "admin-password": PASSWORD})


def admin_api() -> CoreV1ApiDouble:
    return CoreV1ApiDouble({("monitoring", "grafana"): admin_secret()})


@pytest.fixture
def watched(options: KindOptions) -> KindOptions:
    """The test chart with the dashboards/requirements.yaml that names the overview dashboard."""
    folder = options.chart / "dashboards"
    folder.mkdir()
    (folder / "requirements.yaml").write_text(
        "requirements:\n"
        "  metrics.cpu: {dashboard: todo-overview, panel_id: 1}\n"
        "  metrics.memory: {dashboard: todo-overview, panel_id: 2}\n"
        "  logs.todo_backend: {dashboard: other, panel_id: 7}\n"
    )
    write_kubeconfig(options.kubeconfig_path)
    return options


def stamp(t: float) -> str:
    """The creationTimestamp the API server writes for fake-clock time ``t`` (whole seconds, UTC)."""
    return datetime.fromtimestamp(int(EPOCH + t), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def grafana_pod(name: str, created: float, *, deleting: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "monitoring", "creationTimestamp": stamp(created),
                            "labels": {"app.kubernetes.io/name": "grafana"}}  # fmt: skip
    if deleting:
        meta["deletionTimestamp"] = stamp(created + 3600)
    ready = {"type": "Ready", "status": "True"}
    return {"kind": "Pod", "metadata": meta, "status": {"phase": "Running", "conditions": [ready]}}


def with_grafana_pods(
    runner: RecordingRunner,
    clock: FakeClock,
    *,
    new_at: float | None = 1002.0,
    old_until: float | None = None,
) -> RecordingRunner:
    """``kubectl get pods --selector app.kubernetes.io/name=grafana`` as the fake clock goes: the pod of an
    earlier install (created long before t0 = 1000) alive until ``old_until`` (None: there is none), then
    being deleted; this install's pod from ``new_at`` on (None: helm never replaces Grafana)."""

    def responder(argv: tuple[str, ...]) -> Result | None:
        if not (pods_of("monitoring")((Path(argv[0]).name, *argv[1:])) and GRAFANA_SELECTOR in argv):
            return None
        pods = []
        if old_until is not None:
            pods.append(grafana_pod("grafana-5c4b7d9f8-old01", 100.0, deleting=clock.t >= old_until))
        if new_at is not None and clock.t >= new_at:
            pods.append(grafana_pod("grafana-6d5f7c9b8d-new01", new_at))
        return Result(argv, 0, json.dumps({"kind": "List", "items": pods}), "")

    runner.responders.insert(0, responder)
    return runner


def fresh_runner(clock: FakeClock) -> RecordingRunner:
    """Everything works, and helm deploys a new Grafana pod 2 s after it started."""
    return with_grafana_pods(happy_runner(), clock)


def grafana_double(clock: FakeClock, ready_after: float) -> GrafanaLoginDouble:
    return GrafanaLoginDouble(PASSWORD, base_url=GRAFANA_PROXY, clock=clock, health_after=ready_after)


def open_kind(
    tmp_path: Path,
    options: KindOptions,
    runner: Any,
    clock: FakeClock,
    host: Host,
    grafana: GrafanaDouble,
    *,
    secrets: Any = None,
) -> tuple[KindTarget, Stack]:
    api = RecordedTransport(base_url=API_SERVER)
    api.route("POST", r".*/proxy/login", lambda call, match: Reply(200, {"message": "Logged in"}))

    def mount(session: requests.Session) -> None:
        api.mount(session)
        grafana.mount(session)  # the longer prefix wins: Grafana's proxy URL goes to the Grafana double

    target = KindTarget(
        Settings(target="kind", report_dir=tmp_path / "reports", cluster_name="mc-test"),
        runner, clock=clock.clock, echo=lambda line: None, wall=lambda: EPOCH + clock.t, host=host,
        options=options, secret_reader=lambda: secrets or admin_api(),
        session_hook=mount,
    )  # fmt: skip
    return target, target.open()


def judge(stack: Stack, clock: FakeClock, uid: str = "todo-overview") -> tuple[float, Any]:
    assert stack.grafana is not None
    record = make_record("grafana.ready_within_30s")
    spec = make_spec("grafana.ready_within_30s", threshold=30, timeout=5)
    measured = checks.ready_within(
        Grafana(stack.grafana), stack.t0, stack.t0_source, uid, spec, record,
        clock=clock.clock, wall=lambda: EPOCH + clock.t,
        ready_at=stack.grafana_ready_at, observation=stack.grafana_ready_evidence,
    )  # fmt: skip
    return measured, record


def test_grafana_ready_in_time_is_a_measured_pass(
    tmp_path: Path, watched: KindOptions, tools: Path, clock: FakeClock, host: Host
) -> None:
    grafana = grafana_double(clock, ready_after=12.2)

    _, stack = open_kind(tmp_path, watched, fresh_runner(clock), clock, host, grafana)
    calls_before_check = len(grafana.calls)
    measured, record = judge(stack, clock)

    assert stack.t0 == EPOCH + 1000.0  # the wall clock when helm was started
    assert stack.grafana_ready_at == EPOCH + 1012.5  # the end of the first successful probe (0.5 s steps)
    assert measured == 12.5
    assert record.message.startswith(f"ready 12.5s after t0 ({T0_SOURCE}), measured live during the install")
    assert len(grafana.calls) == calls_before_check  # the check judged the watch; it did not poll again
    evidence = stack.grafana_ready_evidence
    assert evidence["interval"] == 0.5
    assert evidence["dashboard"] == {"uid": "todo-overview", "title": "Todo backend / Overview"}
    assert evidence["health"]["database"] == "ok"
    assert grafana.logged_in


def test_grafana_ready_after_31_seconds_fails_with_the_figure(
    tmp_path: Path, watched: KindOptions, tools: Path, clock: FakeClock, host: Host
) -> None:
    _, stack = open_kind(tmp_path, watched, fresh_runner(clock), clock, host, grafana_double(clock, 31.0))

    with pytest.raises(CheckFailed) as caught:
        judge(stack, clock)

    message = str(caught.value)
    assert message.startswith(
        f"grafana.ready_within_30s FAILED: Grafana became ready 31.0s after t0 ({T0_SOURCE}), more than 30s"
    )
    assert "look next: the Grafana pod's events and log" in message


def test_helm_failing_while_grafana_is_polled_stops_the_watch_with_helms_error(
    tmp_path: Path, watched: KindOptions, tools: Path, clock: FakeClock, host: Host
) -> None:
    runner = fresh_runner(clock)
    helm_error = "Error: UPGRADE FAILED: resource mapping not found for kind ServiceMonitor"
    helm_ran = threading.Event()

    def helm_fails(argv: tuple[str, ...]) -> Exception | None:
        if Path(argv[0]).name == "helm" and "upgrade" in argv:
            helm_ran.set()
            return CommandFailed(list(argv), 1, helm_error)
        return None

    runner.responders.insert(0, helm_fails)
    grafana = grafana_double(clock, ready_after=10_000)  # never ready while watched

    def failing_once_helm_ran(call: Any, match: re.Match[str]) -> Reply:
        helm_ran.wait(timeout=10)  # a handshake with helm's thread, so the test does not race it
        return Reply(503, payload("grafana/health-failing.json"))

    grafana.route("GET", r"/api/health", failing_once_helm_ran, first=True)

    with pytest.raises(PhaseFailed) as failure:
        open_kind(tmp_path, watched, runner, clock, host, grafana)

    assert failure.value.phase == "install"
    assert "UPGRADE FAILED: resource mapping not found" in failure.value.reason
    assert clock.t - 1000.0 < 30.0  # stopped early: the watch's budget is 600 + 120 + 120 s
    assert len(grafana.calls_to("/api/health")) < 60


def test_a_crash_looping_grafana_pod_stops_the_watch(
    tmp_path: Path, watched: KindOptions, tools: Path, clock: FakeClock, host: Host
) -> None:
    runner = happy_runner()
    crash = kind_payload("pods-todo-crashloop.json").replace("todo-backend", "grafana")
    answer(runner, lambda argv: pods_of("monitoring")(argv) and "app.kubernetes.io/name=grafana" in argv,
           stdout=crash)
    target = KindTarget(
        Settings(target="kind", report_dir=tmp_path / "reports", cluster_name="mc-test"), runner,
        clock=clock.clock, echo=lambda line: None, wall=lambda: EPOCH + clock.t, host=host, options=watched,
        secret_reader=admin_api,
        session_hook=grafana_double(clock, ready_after=10_000).mount,
    )  # fmt: skip

    target.run.up()

    readiness = target.run.readiness
    assert readiness is not None
    assert readiness.ready_at is None
    assert "CrashLoopBackOff in container grafana" in readiness.evidence["stopped"]
    assert clock.t - 1000.0 < 1.0  # the first look at the pods ended it


def test_the_admin_secret_is_read_when_helm_has_created_it(
    tmp_path: Path, watched: KindOptions, tools: Path, clock: FakeClock, host: Host
) -> None:
    secrets = LateSecretDouble(clock, at=1008.0)
    grafana = grafana_double(clock, ready_after=2.0)

    _, stack = open_kind(tmp_path, watched, fresh_runner(clock), clock, host, grafana, secrets=secrets)

    assert stack.grafana_ready_at == EPOCH + 1008.0  # healthy at +2 s, but the dashboard needs the login
    assert len(secrets.reads) > 1


def test_an_observation_of_another_dashboard_is_not_used(
    tmp_path: Path, watched: KindOptions, tools: Path, clock: FakeClock, host: Host
) -> None:
    _, stack = open_kind(tmp_path, watched, fresh_runner(clock), clock, host, grafana_double(clock, 31.0))

    with pytest.raises(CheckFailed, match="FAILED after"):  # polls itself: no dashboard "other" exists
        judge(stack, clock, uid="other")


# -- the check without and with an observation ---------------------------------------------------------------


def observation(**fields: Any) -> Mapping[str, Any]:
    base = {"t0": 1000.0, "t0_source": T0_SOURCE, "watched_until": 1150.0, "attempts": 300,
            "interval": 0.5, "dashboard_uid": "todo-overview", "via": "Grafana (API-server proxy)",
            "redeployed": True, "fresh": True, "answered": False,
            "grafana_pods": [{"name": "grafana-6d5f7c9b8d-new01", "created": stamp(1002.0), "new": True,
                              "alive": True}]}
    return {**base, **fields}  # fmt: skip


def test_not_ready_for_longer_than_the_threshold_while_watched_is_a_fail(clock: FakeClock) -> None:
    record = make_record("grafana.ready_within_30s")
    spec = make_spec("grafana.ready_within_30s", threshold=30, timeout=5)
    grafana = Grafana(GrafanaDouble().endpoint(name="Grafana"))
    seen = observation(stopped="Grafana still not ready 120s after helm finished", last="503 failing")

    with pytest.raises(CheckFailed) as caught:
        checks.ready_within(grafana, 1000.0, T0_SOURCE, "todo-overview", spec, record, clock=clock.clock,
                            ready_at=None, observation=seen)  # fmt: skip

    assert str(caught.value).startswith(
        f"grafana.ready_within_30s FAILED: Grafana was still not ready 150.0s after t0 ({T0_SOURCE})"
    )
    assert "503 failing" in str(caught.value)
    assert record.measured == 150.0


def test_without_a_watch_an_old_deployment_asks_for_install_chart(clock: FakeClock) -> None:
    record = make_record("grafana.ready_within_30s")
    spec = make_spec("grafana.ready_within_30s", threshold=30, timeout=5)
    grafana = Grafana(GrafanaDouble().endpoint(name="Grafana"))

    with pytest.raises(NotVerifiable) as caught:
        checks.ready_within(
            grafana, clock.now() - 100, "helm status info.last_deployed", "todo-overview", spec, record,
            clock=clock.clock, wall=clock.now,
        )  # fmt: skip

    assert "--install-chart (kubeconfig target) or the kind target measures it live" in str(caught.value)


def test_kubeconfig_install_chart_measures_grafana_live_too(
    tmp_path: Path, tools: Path, clock: FakeClock
) -> None:
    config = write_kubeconfig(tmp_path / "kubeconfig")
    runner = fresh_runner(clock)
    grafana = grafana_double(clock, ready_after=7.2)
    api = RecordedTransport(base_url=API_SERVER)
    api.route("POST", r".*/proxy/login", lambda call, match: Reply(200, {"message": "Logged in"}))

    def mount(session: requests.Session) -> None:
        api.mount(session)
        grafana.mount(session)

    settings = Settings(target="kubeconfig", kubeconfig=str(config), install_chart=True,
                        report_dir=tmp_path / "reports", sources={"kubeconfig": "cli"})  # fmt: skip
    target = KubeconfigTarget(
        settings, runner, clock=clock.clock, echo=lambda line: None, wall=lambda: EPOCH + clock.t,
        secret_reader=admin_api, session_hook=mount,
    )  # fmt: skip

    stack = target.open()

    assert target.repos.config.is_relative_to(tmp_path / "home" / ".cache" / "monitoring-conformance")
    assert stack.t0 == EPOCH + 1000.0
    assert stack.grafana_ready_at == EPOCH + 1007.5
    assert judge(stack, clock)[0] == 7.5
