"""The local target and the alerting plumbing around it, without starting a process."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
import yaml
from tests.doubles.runner import RecordingRunner

from monitoring_conformance import localalerts
from monitoring_conformance.errors import ToolError
from monitoring_conformance.settings import resolve
from monitoring_conformance.targets import create
from monitoring_conformance.targets.kubefault import ScaleToZero
from monitoring_conformance.targets.local import LocalTarget, _interrupt
from monitoring_conformance.tools.helm import Helm
from monitoring_conformance.tools.kubectl import Kubectl

pytestmark = pytest.mark.unit

RENDERED = """\
---
apiVersion: v1
kind: ConfigMap
metadata: {name: other}
---
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata: {name: monitoring-todo-backend}
spec:
  groups:
    - name: todo-backend
      rules:
        - alert: TodoBackendDown
          expr: sum(up{job="todo-backend"}) == 0
          for: 2m
        - alert: TodoBackendHighErrorRate
          expr: vector(1) > 0.05
          for: 5m
"""


def test_local_target_is_registered_with_the_host_profile() -> None:
    settings = resolve({"target": "local"}, {})
    assert settings.profile == "host"
    assert isinstance(create(settings, RecordingRunner()), LocalTarget)


def test_plan_names_every_server_and_runs_nothing() -> None:
    runner = RecordingRunner()
    plan = LocalTarget(resolve({"target": "local"}, {}), runner).plan()
    heads = [Path(argv[0]).name for argv in plan if not argv[0].startswith("#")]
    assert heads == ["helm", "prometheus-node-exporter", "python", "prometheus", "python",
                     "prometheus-alertmanager", "prometheus"]
    faults = plan[-1][0]
    assert "stopped and started again" in faults
    assert "TODO_LIST_STATUS=500" in faults
    assert "5 GET /api/mc-alerts/tasks on each poll" in faults
    assert runner.calls == []


def test_close_restores_the_sigterm_handler_and_sigterm_interrupts() -> None:
    target = LocalTarget(resolve({"target": "local"}, {}), RecordingRunner())
    before = signal.getsignal(signal.SIGTERM)
    target._previous_term = before
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        target.close(failed=False)
        assert signal.getsignal(signal.SIGTERM) is before
    finally:
        signal.signal(signal.SIGTERM, before)
    with pytest.raises(KeyboardInterrupt):
        _interrupt(signal.SIGTERM, None)


def test_rule_groups_come_from_the_rendered_prometheusrule(tmp_path: Path) -> None:
    runner = RecordingRunner()
    runner.on(["helm", "template"], stdout=RENDERED)
    groups = localalerts.chart_rule_groups(Helm(runner, "helm"))
    assert [r["alert"] for r in groups[0]["rules"]] == ["TodoBackendDown", "TodoBackendHighErrorRate"]
    (template,) = runner.commands()
    assert template[:2] == ("helm", "template")
    written = localalerts.write_rule_file(groups, tmp_path / "rules.yaml")
    assert yaml.safe_load(written.read_text())["groups"] == groups


def test_a_chart_without_prometheusrule_is_an_error() -> None:
    runner = RecordingRunner()
    runner.on(["helm", "template"], stdout="---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    with pytest.raises(ToolError, match="rendered no PrometheusRule groups"):
        localalerts.chart_rule_groups(Helm(runner, "helm"))


def test_overrides_change_only_the_named_rule() -> None:
    groups = yaml.safe_load(RENDERED.split("---")[2])["spec"]["groups"]
    changed = localalerts.apply_overrides(
        groups, {"TodoBackendDown": {"for": "5s", "replace": 'job="todo-backend"=>job="x"'}}
    )
    down, errors = changed[0]["rules"]
    assert (down["for"], down["expr"]) == ("5s", 'sum(up{job="x"}) == 0')
    assert errors == groups[0]["rules"][1]
    assert groups[0]["rules"][0]["for"] == "2m"  # the input is left alone


def test_the_alerting_prometheus_loads_the_rules_and_scrapes_only_the_fault_backend(tmp_path: Path) -> None:
    ports = {localalerts.JOB_ALERTMANAGER: 9093, localalerts.JOB_FAULT: 8001}
    config = yaml.safe_load(localalerts.alerts_prometheus_config(1.0, ports, tmp_path / "rules.yaml"))
    assert config["rule_files"] == [str(tmp_path / "rules.yaml")]
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["127.0.0.1:9093"]
    (job,) = config["scrape_configs"]
    assert job["job_name"] == "todo-backend"
    assert job["static_configs"][0]["targets"] == ["127.0.0.1:8001"]
    assert config["global"]["evaluation_interval"] == "1s"


def kubectl(runner: RecordingRunner) -> Kubectl:
    return Kubectl(runner, "kubectl")


def test_scale_fault_goes_to_zero_and_back_to_the_replicas_it_had() -> None:
    runner = RecordingRunner()
    runner.on(["kubectl", "get", "deployment", "todo-backend"], stdout="2")
    fault = ScaleToZero(kubectl(runner), "todo")
    fault.undo()  # nothing induced yet: nothing to undo
    fault.induce()
    fault.undo()
    fault.wait_healthy(60)
    scales = [c[1:] for c in runner.commands() if c[1] in ("scale", "rollout")]
    assert scales == [
        ("scale", "deployment", "todo-backend", "--namespace", "todo", "--replicas=0"),
        ("scale", "deployment", "todo-backend", "--namespace", "todo", "--replicas=2"),
        ("rollout", "status", "deployment/todo-backend", "--namespace", "todo", "--timeout=60s"),
    ]
    assert fault.describe() == "Deployment todo/todo-backend scaled to 0, then back to 2"


def test_scale_fault_refuses_a_deployment_without_replicas() -> None:
    runner = RecordingRunner()
    runner.on(["kubectl", "get", "deployment"], stdout="0")
    with pytest.raises(ToolError, match="no replicas to scale"):
        ScaleToZero(kubectl(runner), "todo").induce()
    assert not [c for c in runner.commands() if c[1] == "scale"]


def test_a_rollout_that_does_not_finish_fails_recovery() -> None:
    runner = RecordingRunner()
    runner.on(["kubectl", "rollout", "status"], stderr="timed out waiting", returncode=1)
    with pytest.raises(ToolError, match="did not roll out again in 30s: timed out waiting"):
        ScaleToZero(kubectl(runner), "todo").wait_healthy(30)
