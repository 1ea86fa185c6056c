"""The kind target: a throwaway kind cluster with the Todo backend and charts/monitoring installed.

``open()`` runs :class:`~monitoring_conformance.orchestrate.KindRun` (preflight, cluster, image, app,
dependency build, install; Grafana is watched while helm installs, for the live figure of
grafana.ready_within_30s) and hands back a :class:`Stack` whose endpoints go through the API-server
service proxy. When anything in ``open()`` fails, diagnostics are written into ``<report-dir>/diagnostics``
(once, and only while a cluster exists), the keep policy is applied, and the error propagates.
``close()`` records the ``checks`` and ``teardown`` timings and deletes the cluster only when this run
created it and ``--keep-cluster`` allows. ``timings`` and ``versions`` are readable even when ``open()``
failed (the report shows how far the run got).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import requests

from monitoring_conformance import preflight
from monitoring_conformance.diagnostics import Sources, collect, stack_endpoints
from monitoring_conformance.install_watch import GrafanaWatch, grafana_watch, watched_login
from monitoring_conformance.orchestrate import KindOptions, KindRun
from monitoring_conformance.progress import Echo, terminal
from monitoring_conformance.settings import Settings
from monitoring_conformance.stack import Stack
from monitoring_conformance.targets import kubefault
from monitoring_conformance.targets.kubeaccess import (
    Connection,
    SecretReader,
    core_api,
    grafana_credentials,
)
from monitoring_conformance.tools.runner import Runner
from monitoring_conformance.wait import Clock


def options_from(settings: Settings) -> KindOptions:
    """KindOptions from the resolved settings (the kind values file unless --values is given)."""
    defaults = KindOptions()
    return KindOptions(
        cluster_name=settings.cluster_name,
        release=settings.release,
        monitoring_namespace=settings.monitoring_namespace,
        app_namespace=settings.app_namespace,
        keep=settings.keep_cluster,
        values=Path(settings.values) if settings.values else defaults.values,
    )


class KindTarget:
    """Create (or reuse) a kind cluster, deploy everything, and reach it through the API-server proxy."""

    name = "kind"

    def __init__(
        self,
        settings: Settings,
        runner: Runner,
        *,
        clock: Clock | None = None,
        echo: Echo = terminal,
        wall: Callable[[], float] = time.time,
        host: preflight.Host | None = None,
        options: KindOptions | None = None,
        secret_reader: Callable[[], SecretReader] | None = None,
        session_hook: Callable[[requests.Session], object] | None = None,
    ):
        self.settings = settings
        self.runner = runner
        self.clock = clock or Clock()
        self.echo = echo
        self.options = options or options_from(settings)
        self.run = KindRun(self.options, runner, clock=self.clock, echo=echo, wall=wall, host=host,
                           watch=self.grafana_watch)
        kubeconfig = str(self.options.kubeconfig_path)
        self.secret_reader = secret_reader or (lambda: core_api(kubeconfig, None))
        self.session_hook = session_hook
        self.stack: Stack | None = None
        self.opened_at: float | None = None
        self.diagnosed: dict[str, str] | None = None

    @property
    def timings(self) -> dict[str, float]:
        """Seconds per phase so far (the same dict the Stack gets)."""
        return self.run.phases.timings

    @property
    def versions(self) -> dict[str, str]:
        """Tool and image versions known so far."""
        return self.run.versions

    def connection(self) -> Connection:
        opts = self.options
        return Connection(str(opts.kubeconfig_path), None,
                          {"monitoring": opts.monitoring_namespace, "app": opts.app_namespace},
                          session_hook=self.session_hook, loki_tenant=self.settings.loki_tenant)

    def grafana_watch(self) -> GrafanaWatch | None:
        """What the install phase polls while helm runs (None when the overview dashboard is unknown)."""
        opts = self.options
        return grafana_watch(self.settings, self.connection(), self.secret_reader, self.run.kubectl(),
                             chart=opts.chart, values=opts.values, namespace=opts.monitoring_namespace,
                             echo=self.echo, target=self.name)

    def plan(self) -> list[list[str]]:
        return self.run.plan()

    def open(self) -> Stack:
        try:
            return self._open()
        except Exception:
            self._after_failure()
            raise

    def _open(self) -> Stack:
        self.run.up()
        opts = self.options
        readiness = self.run.readiness
        credentials = watched_login(self.run.watcher, readiness) or grafana_credentials(
            self.settings, self.run.helm(), self.secret_reader, namespace=opts.monitoring_namespace,
            release=opts.release, echo=self.echo, target=self.name,
        )
        self.stack = self.connection().stack(
            self.name, credentials=credentials, t0=self.run.t0, t0_source=self.run.t0_source,
            versions=self.run.versions, timings={}, echo=self.echo,
        )
        self.stack.timings = self.run.phases.timings  # the same dict: checks/teardown land in it later
        kubefault.attach(self.stack, self.connection(), self.run.kubectl())
        if readiness is not None:
            readiness.apply_to(self.stack)
        self.opened_at = self.clock.now()
        return self.stack

    def close(self, *, failed: bool) -> None:
        if self.opened_at is not None and "checks" not in self.run.phases.timings:
            self.run.phases.timings["checks"] = round(self.clock.now() - self.opened_at, 3)
        self.run.down(failed=failed)

    def diagnostics(self, directory: Path) -> dict[str, str]:
        """Write the diagnostics once, while a cluster exists; later calls return the first summary."""
        if self.diagnosed is not None:
            return self.diagnosed
        if not self.run.cluster_up:
            return {}
        self.diagnosed = collect(directory, Sources(
            kubectl=self.run.kubectl(), helm=self.run.helm(), release=self.options.release,
            monitoring_namespace=self.options.monitoring_namespace, endpoints=stack_endpoints(self.stack),
            versions=self.run.versions, helm_wait=self.run.helm_wait,
        ))
        return self.diagnosed

    def _after_failure(self) -> None:
        """Something in open() failed: diagnostics if a cluster exists, then the keep policy."""
        if self.run.cluster_up:
            directory = Path(self.settings.report_dir) / "diagnostics"
            summary = self.diagnostics(directory)
            self.echo(f"[kind] diagnostics written to {directory} ({len(summary)} sections)")
        self.run.down(failed=True)
