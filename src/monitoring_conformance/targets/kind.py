"""The kind target: a throwaway kind cluster and the Todo backend, then the kubeconfig target's install.

A prelude (:class:`~monitoring_conformance.orchestrate.KindRun`: preflight, cluster, image, app) hands over to
what :class:`~.kubeconfig.KubeconfigTarget` does with ``--install-chart`` (dependency build, install with
Grafana watched, readiness wait, Grafana login, the Stack through the API-server service proxy), on the
cluster's own kubeconfig. When anything in ``open()`` fails, diagnostics are written into
``<report-dir>/diagnostics`` (once, and only while a cluster exists), the keep policy is applied, and the
error propagates. ``close()`` records the ``checks`` and ``teardown`` timings and deletes the cluster only
when this run created it and ``--keep-cluster`` allows. ``timings`` and ``versions`` are readable even when
``open()`` failed (the report shows how far the run got).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import requests

from monitoring_conformance import preflight
from monitoring_conformance.orchestrate import KindOptions, KindRun
from monitoring_conformance.progress import Echo, terminal
from monitoring_conformance.release import ChartRelease, Step
from monitoring_conformance.settings import Settings
from monitoring_conformance.stack import Stack
from monitoring_conformance.targets.kubeaccess import Connection, SecretReader
from monitoring_conformance.targets.kubeconfig import KubeconfigTarget
from monitoring_conformance.tools.runner import Runner
from monitoring_conformance.wait import Clock


def options_from(settings: Settings) -> KindOptions:
    """KindOptions from the resolved settings (the kind values file unless --values is given)."""
    return KindOptions(
        cluster_name=settings.cluster_name, release=settings.release, app_namespace=settings.app_namespace,
        monitoring_namespace=settings.monitoring_namespace, keep=settings.keep_cluster,
        values=Path(settings.values) if settings.values else KindOptions().values,
    )


class KindTarget(KubeconfigTarget):
    """Create (or reuse) a kind cluster, deploy everything, and reach it through the API-server proxy."""

    name = "kind"

    def __init__(self, settings: Settings, runner: Runner, *, clock: Clock | None = None,
                 echo: Echo = terminal, wall: Callable[[], float] = time.time,
                 host: preflight.Host | None = None,
                 options: KindOptions | None = None, secret_reader: Callable[[], SecretReader] | None = None,
                 session_hook: Callable[[requests.Session], object] | None = None):  # fmt: skip
        self.options = options or options_from(settings)
        self.run = KindRun(self.options, runner, clock=clock, echo=echo, wall=wall, host=host,
                           watch=lambda: self.grafana_watch())
        super().__init__(settings, runner, clock=self.run.clock, echo=echo, wall=wall,
                         secret_reader=secret_reader, session_hook=session_hook)
        self.phases = self.run.phases
        self.versions = self.run.versions
        self.opened_at: float | None = None
        self.diagnosed: dict[str, str] | None = None

    def _connection(self) -> Connection:
        o = self.options
        return Connection(str(o.kubeconfig_path), None, {"monitoring": o.monitoring_namespace,
                          "app": o.app_namespace}, session_hook=self.session_hook,
                          loki_tenant=self.settings.loki_tenant)  # fmt: skip

    def _chart(self) -> ChartRelease:
        return self.run.chart

    def steps(self) -> list[Step]:
        return self.run.steps()

    def plan(self) -> list[list[str]]:
        return [*self.run.plan(), *self.login_plan(),
                ["# checks: the conformance suite, over the API-server service proxy (no commands)"],
                *self.run.teardown_plan()]

    def open(self) -> Stack:
        try:
            self.run.up()
            stack = self._stack(self.chart.helm)
        except Exception:
            if self.run.cluster_up:  # diagnostics while a cluster exists, then the keep policy
                directory = Path(self.settings.report_dir) / "diagnostics"
                summary = self.diagnostics(directory)
                self.echo(f"[kind] diagnostics written to {directory} ({len(summary)} sections)")
            self.run.down(failed=True)
            raise
        self.opened_at = self.clock.now()
        return stack

    def close(self, *, failed: bool) -> None:
        if self.opened_at is not None and "checks" not in self.timings:
            self.timings["checks"] = round(self.clock.now() - self.opened_at, 3)
        self.run.down(failed=failed)

    def diagnostics(self, directory: Path) -> dict[str, str]:
        """Write the diagnostics once, while a cluster exists; later calls return the first summary."""
        if self.diagnosed is None and self.run.cluster_up:
            self.diagnosed = super().diagnostics(directory)
        return self.diagnosed or {}
