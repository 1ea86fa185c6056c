"""The ``local`` target: the real stack on 127.0.0.1, started and stopped by the suite (no Docker needed).

It renders the chart's rules (``helm template``, offline), then starts node_exporter, the Todo backend and
Prometheus (the ``host`` profile's stack), plus Alertmanager, a separate fault backend and a second
Prometheus that evaluates the chart's rules against it (see :mod:`monitoring_conformance.localalerts`).
``close()`` stops every process it started, by PID; SIGTERM is turned into an interrupt while the target is
open, so a terminated run cleans up the same way as Ctrl-C.
"""

from __future__ import annotations

import shutil
import signal
import tempfile
from pathlib import Path
from types import FrameType
from typing import Any

from monitoring_conformance import localalerts
from monitoring_conformance.api.http import Endpoint
from monitoring_conformance.errors import ConformanceError, ToolError
from monitoring_conformance.localstack import LocalStack, StackSpec
from monitoring_conformance.settings import Settings
from monitoring_conformance.stack import Alerting, Stack
from monitoring_conformance.tools.helm import Helm
from monitoring_conformance.tools.runner import Runner, find_tool

RULES_SOURCE = ("charts/monitoring rendered with `helm template` (stand-in subcharts); the PrometheusRule's "
                "groups written unchanged to {path}")


class LocalTarget:
    """Starts the local stack in ``open()``, stops it in ``close()``."""

    name = "local"

    def __init__(self, settings: Settings, runner: Runner) -> None:
        self.settings = settings
        self.runner = runner
        self.workdir: Path | None = None
        self.local: LocalStack | None = None
        self.timings: dict[str, float] = {}
        self.versions: dict[str, str] = {}
        self._previous_term: Any = None

    def plan(self) -> list[list[str]]:
        helm = find_tool("helm", fix=localalerts.HELM_FIX)
        listen = "--web.listen-address=127.0.0.1:<port>"
        backend = ["python", "-m", "uvicorn", "main:app", "--app-dir", "fixtures/todo-backend/app",
                   "--port", "<port>"]
        return [
            ["# rules: the chart's PrometheusRule groups, rendered offline into <workdir>/rules.yaml"],
            [helm, "template", "monitoring", "<offline copy of charts/monitoring>",
             "--namespace", "monitoring"],
            ["# then, each on 127.0.0.1 with a port the OS picks, stopped by PID when the run ends:"],
            ["prometheus-node-exporter", listen, "--collector.disable-defaults"],
            backend,
            ["prometheus", "--config.file=<workdir>/prometheus.yml", listen],
            ["# alerts.fire: a second Todo backend (the one the fault stops), Alertmanager, and a Prometheus"
             " that loads rules.yaml and scrapes that backend as job todo-backend"],
            backend,
            ["prometheus-alertmanager", "--config.file=<workdir>/alertmanager.yml", listen,
             "--cluster.listen-address="],
            ["prometheus", "--config.file=<workdir>/prometheus-alerts.yml", listen],
            ["# alerts.fire faults: that backend stopped and started again (the profile's alert), then, with"
             f" error_alert, restarted with {localalerts.LIST_STATUS_ENV}=500 and sent {localalerts.BURST}"
             f" GET {localalerts.ERROR_PATH} on each poll, then restarted without it"],
        ]

    def open(self) -> Stack:
        self._previous_term = signal.signal(signal.SIGTERM, _interrupt)
        self.workdir = Path(tempfile.mkdtemp(prefix="mc-local-"))
        try:
            helm = Helm(self.runner, find_tool("helm", fix=localalerts.HELM_FIX))
            groups = localalerts.chart_rule_groups(helm)
        except ConformanceError as exc:
            raise ToolError(f"the chart's rules could not be rendered: {exc}") from None
        rule_file = localalerts.write_rule_file(groups, self.workdir / "rules.yaml")
        self.local = LocalStack(StackSpec(rule_file=rule_file), workdir=self.workdir / "stack")
        self.local.start()
        self.timings.update({f"start {k}": round(v, 3) for k, v in self.local.timings.items()})
        local = self.local
        return Stack(
            target=self.name,
            prometheus=Endpoint(local.prometheus_url, name="Prometheus"),
            grafana=None,
            loki=None,
            app=Endpoint(local.app_url, name="Todo backend"),
            t0_source="unknown: the local target has no deployment of the chart (no Grafana either)",
            timings=self.timings,
            versions=self.versions,
            alerting=Alerting(
                prometheus=Endpoint(local.url(localalerts.JOB_ALERT_PROMETHEUS),
                                    name="Prometheus (alert rules)"),
                alertmanager=Endpoint(local.url(localalerts.JOB_ALERTMANAGER), name="Alertmanager"),
                fault=localalerts.BackendDown(local),
                error_fault=localalerts.ErrorBurst(local),
                rules_source=RULES_SOURCE.format(path=rule_file),
            ),
        )

    def close(self, *, failed: bool) -> None:
        """Stop every server this target started; keep the work folder (logs) only after a failure."""
        if self.local is not None:
            self.local.stop(keep_logs=True)
        if self.workdir is not None and not failed:
            shutil.rmtree(self.workdir, ignore_errors=True)
        if self._previous_term is not None:
            signal.signal(signal.SIGTERM, self._previous_term)
            self._previous_term = None

    def diagnostics(self, directory: Path) -> dict[str, str]:
        """Each server's log, copied into ``directory``."""
        if self.local is None:
            return {}
        directory.mkdir(parents=True, exist_ok=True)
        found: dict[str, str] = {}
        for job, server in self.local.servers.items():
            if server.log_path.is_file():
                shutil.copy(server.log_path, directory / f"{job}.log")
                code = server.exited()
                state = "running" if code is None else f"exited {code}"
                found[f"{job}.log"] = f"pid {server.pid}, {state}"
        return found


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGTERM while the local stack runs: end the run like Ctrl-C, so close() stops the servers."""
    raise KeyboardInterrupt(f"signal {signum}")

