"""The local stack's alerting side: the chart's rules as a rule file, Alertmanager, and a fault backend.

* Rules: ``helm template`` of an offline copy of charts/monitoring (stand-in subcharts, as the chart tier
  renders it) gives the PrometheusRule; its ``spec.groups`` become a Prometheus rule file as they are. The
  rules under test are the shipped ones. Only the live tier's broken-rule runs pass ``overrides``.
* A second Prometheus (``prometheus-alerts``) loads that file, sends to Alertmanager, and scrapes a SEPARATE
  Todo backend (``todo-backend-fault``) as job ``todo-backend``: TodoBackendDown sums ``up`` over the whole
  job, so the fault must be the only target of that job there. The backend the other requirements and
  app.unchanged watch is never stopped.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests
import yaml

from monitoring_conformance import resources
from monitoring_conformance.api.app import list_burst
from monitoring_conformance.api.http import Endpoint
from monitoring_conformance.errors import ToolError
from monitoring_conformance.servers import ServerProcess
from monitoring_conformance.tools.helm import Helm
from monitoring_conformance.tools.helm_offline import offline_copy, render_manifests
from monitoring_conformance.tools.runner import find_tool
from monitoring_conformance.wait import eventually

if TYPE_CHECKING:
    from monitoring_conformance.localstack import Check, LocalStack

CHART_DIR = resources.CHART
JOB_FAULT = "todo-backend-fault"
JOB_ALERTMANAGER = "alertmanager"
JOB_ALERT_PROMETHEUS = "prometheus-alerts"
#: The TSDB folder (in the stack's work directory) of the Prometheus that evaluates the rules.
ALERTS_TSDB = "tsdb-alerts"
#: The job name the chart's rules select; the fault backend is scraped under it by prometheus-alerts.
RULE_JOB = "todo-backend"
HELM_FIX = "./scripts/bootstrap (puts helm in .tools/bin), or put helm 3/4 on PATH"
AM_FIX = "apt-get install -y --no-install-recommends prometheus-alertmanager"
#: The fixture's switch that makes GET /api/{user}/tasks answer a status of its choice.
LIST_STATUS_ENV = "TODO_LIST_STATUS"
#: What the 5xx burst requests, and how many times on each poll of alerts.fire.
ERROR_PATH = "/api/mc-alerts/tasks"
BURST = 5


def chart_rule_groups(helm: Helm, chart_dir: Path = CHART_DIR) -> list[dict[str, Any]]:
    """The rule groups of every PrometheusRule the chart renders (offline, stand-in subcharts)."""
    with tempfile.TemporaryDirectory(prefix="mc-rules-") as tmp:
        copy = offline_copy(chart_dir, Path(tmp))
        manifests = render_manifests(helm, copy)
    groups: list[dict[str, Any]] = []
    for manifest in manifests:
        if manifest.kind == "PrometheusRule":
            groups += [dict(g) for g in (manifest.obj.get("spec") or {}).get("groups") or []]
    if not groups:
        raise ToolError(f"helm template {chart_dir} rendered no PrometheusRule groups; is rules.enabled off?")
    return groups


def apply_overrides(groups: Sequence[Mapping[str, Any]], overrides: Mapping[str, Mapping[str, str]]) -> list[
        dict[str, Any]]:
    """Groups with some rules changed: ``{alertname: {"for": "10m", "replace": "old=>new"}}`` (live tier)."""
    changed = []
    for group in groups:
        rules = []
        for rule in group.get("rules") or []:
            rule = dict(rule)
            change = overrides.get(str(rule.get("alert", "")), {})
            if "for" in change:
                rule["for"] = change["for"]
            if "replace" in change:
                old, new = change["replace"].split("=>", 1)
                rule["expr"] = str(rule["expr"]).replace(old, new)
            rules.append(rule)
        changed.append({**group, "rules": rules})
    return changed


def write_rule_file(groups: Sequence[Mapping[str, Any]], path: Path) -> Path:
    path.write_text(yaml.safe_dump({"groups": list(groups)}, sort_keys=False), encoding="utf-8")
    return path


def alertmanager_config(marker: str) -> str:
    """One receiver that sends nowhere: the suite reads Alertmanager's API, nobody needs a notification.

    The receiver's name carries the stack's marker, so that readiness can tell this Alertmanager from
    another one that holds the port (``/api/v2/status`` shows the configuration it loaded).
    """
    return (f"route: {{receiver: sink-{marker}, group_wait: 1s, group_interval: 1s}}\n"
            f"receivers: [{{name: sink-{marker}}}]\n")


def alerts_prometheus_config(interval_s: float, ports: Mapping[str, int], rule_file: Path) -> str:
    interval = f"{interval_s:g}s"
    return "\n".join([
        "global:",
        f"  scrape_interval: {interval}",
        f"  evaluation_interval: {interval}",
        f"  scrape_timeout: {interval}",
        f"rule_files: [{str(rule_file)!r}]",
        "alerting:",
        f'  alertmanagers: [{{static_configs: [{{targets: ["127.0.0.1:{ports[JOB_ALERTMANAGER]}"]}}]}}]',
        "scrape_configs:",
        f"  - job_name: {RULE_JOB}",
        "    metrics_path: /metrics",
        f'    static_configs: [{{targets: ["127.0.0.1:{ports[JOB_FAULT]}"]}}]',
    ]) + "\n"


def alertmanager_argv(port: int, *, workdir: Path, marker: str) -> list[str]:
    exe = find_tool("prometheus-alertmanager", fix=AM_FIX)
    config = workdir / "alertmanager.yml"
    config.write_text(alertmanager_config(marker), encoding="utf-8")
    return [
        exe, f"--config.file={config}", f"--storage.path={workdir / 'alertmanager-data'}",
        f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
    ]  # fmt: skip


def start(stack: LocalStack) -> None:
    """Fault backend, Alertmanager, then the Prometheus that evaluates the chart's rules (``rule_file``)."""
    rule_file = stack.spec.rule_file
    assert rule_file is not None, "start() needs StackSpec.rule_file"
    stack._launch(JOB_FAULT, stack._app_argv, "/healthz", stack._app_answer)
    stack._launch(JOB_ALERTMANAGER, partial(alertmanager_argv, workdir=stack.workdir, marker=stack.marker),
                  "/-/ready", partial(_alertmanager_answer, stack))

    def prometheus_argv(port: int) -> list[str]:
        text = alerts_prometheus_config(stack.spec.interval_s, {**stack.ports, JOB_ALERT_PROMETHEUS: port},
                                        rule_file)
        return stack._prometheus_command(port, text, "prometheus-alerts.yml", ALERTS_TSDB)

    stack._launch(JOB_ALERT_PROMETHEUS, prometheus_argv, "/-/ready", _alerts_prometheus_answer(stack))
    started = time.monotonic()
    BackendDown(stack).wait_healthy(stack.spec.ready_timeout)
    stack.timings["alerting_first_scrape"] = time.monotonic() - started


def _alertmanager_answer(stack: LocalStack, server: ServerProcess, url: str, body: str) -> None:
    """/-/ready, then /api/v2/status: the answering Alertmanager must have loaded this stack's receiver."""
    assert "OK" in body, f"GET {url}: {body[:80]!r}"
    status_url = url.replace("/-/ready", "/api/v2/status")
    response = requests.get(status_url, timeout=2)
    assert response.status_code == 200, f"GET {status_url} -> {response.status_code}"
    loaded = str(response.json().get("config", {}).get("original", ""))
    assert f"sink-{stack.marker}" in loaded, (
        f"GET {status_url}: not this stack's configuration: another Alertmanager holds the port"
    )


def _alerts_prometheus_answer(stack: LocalStack) -> Check:
    return partial(stack._prometheus_answer, tsdb_name=ALERTS_TSDB)


def _check_for(stack: LocalStack, job: str) -> Check:
    if job == JOB_FAULT:
        return stack._app_answer
    if job == JOB_ALERTMANAGER:
        return partial(_alertmanager_answer, stack)
    return _alerts_prometheus_answer(stack)


def restart(stack: LocalStack, job: str, argv: Sequence[str] | None = None) -> None:
    """Start a server of ``stack`` again on the same port: with the same command line, or ``argv``."""
    old = stack.servers[job]
    old.stop()
    server = ServerProcess(job, list(argv or old.argv), stack.workdir / f"{job}-restart.log")
    stack.servers[job] = server
    server.start(stack.workdir)
    port = stack.ports[job]
    ready = "/healthz" if job == JOB_FAULT else "/-/ready"
    stack._wait_http(server, f"http://127.0.0.1:{port}{ready}", _check_for(stack, job))


class BackendDown:
    """The fault backend stopped (by its PID) and started again on the same port."""

    name = "backend down"

    def __init__(self, stack: LocalStack) -> None:
        self.host = stack
        self.interval_s = stack.spec.interval_s
        self.induced = False

    def describe(self) -> str:
        return (f"the separate Todo backend {self.host.url(JOB_FAULT)} (job {RULE_JOB} of "
                f"{self.host.url(JOB_ALERT_PROMETHEUS)}) stopped, then started again")

    def induce(self) -> None:
        self.induced = True
        self.host.servers[JOB_FAULT].stop()

    def sustain(self) -> None:
        """Nothing to keep up: a stopped backend stays down."""

    def undo(self) -> None:
        if self.induced:
            restart(self.host, JOB_FAULT)
            self.induced = False

    def wait_healthy(self, timeout: float) -> None:
        health = f"{self.host.url(JOB_FAULT)}/healthz"
        targets = f"{self.host.url(JOB_ALERT_PROMETHEUS)}/api/v1/targets"

        def healthy() -> None:
            assert requests.get(health, timeout=2).status_code == 200, f"GET {health} is not 200"
            active = requests.get(targets, timeout=2).json()["data"]["activeTargets"]
            states = [t.get("health") for t in active]
            assert states == ["up"], f"Prometheus sees the fault backend as {states}"

        eventually(healthy, timeout=timeout, interval=max(self.interval_s / 2, 0.1),
                   what="the fault backend healthy and scraped again")


class ErrorBurst(BackendDown):
    """The fault backend started again answering 5xx to its task list (the fixture's TODO_LIST_STATUS),
    and the suite's GETs of that list, :data:`BURST` on each poll, until the alert fires; then it is
    started again as it was. The backend the other requirements watch is never touched."""

    name = "5xx burst"

    def __init__(self, stack: LocalStack) -> None:
        super().__init__(stack)
        self.argv: list[str] | None = None
        self.endpoint = Endpoint(stack.url(JOB_FAULT), name="Todo backend (fault)", timeout=2.0)

    def describe(self) -> str:
        return (f"the separate Todo backend {self.host.url(JOB_FAULT)} (job {RULE_JOB} of "
                f"{self.host.url(JOB_ALERT_PROMETHEUS)}) started again with {LIST_STATUS_ENV}=500, "
                f"{BURST} GETs of {ERROR_PATH} per poll, then started again without it")

    def induce(self) -> None:
        self.induced = True
        self.argv = list(self.host.servers[JOB_FAULT].argv)
        restart(self.host, JOB_FAULT, ["env", f"{LIST_STATUS_ENV}=500", *self.argv])

    def sustain(self) -> None:
        list_burst(self.endpoint, ERROR_PATH, BURST)

    def undo(self) -> None:
        if self.induced:
            restart(self.host, JOB_FAULT, self.argv)
            self.induced = False
