"""The kind run, phase by phase: preflight, cluster, image, app, dependency build, install, teardown.

:class:`KindRun` takes a :class:`Runner` (a ``RecordingRunner`` in unit tests) and a :class:`Clock`, so every
command and every wait can be checked without Docker. Each phase is timed (:class:`Phases`); a phase that
fails raises :class:`PhaseFailed`, one line naming the phase, what went wrong and the fix. Teardown follows
the keep policy and never deletes a cluster this run did not create.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from monitoring_conformance import preflight
from monitoring_conformance.errors import ToolError, Unrecoverable
from monitoring_conformance.release import (
    ClusterHelm,
    PhaseFailed,
    build_dependencies,
    deployed_at,
    install_release,
)
from monitoring_conformance.tools.docker import Docker
from monitoring_conformance.tools.helm import HelmVersion
from monitoring_conformance.tools.kind import RunnerKindCluster
from monitoring_conformance.tools.kubectl import Kubectl, wait_rollout
from monitoring_conformance.tools.runner import Runner, find_tool
from monitoring_conformance.wait import Clock

__all__ = ["PHASES", "ClusterHelm", "KindOptions", "KindRun", "PhaseFailed", "deployed_at", "should_delete"]

REPO_ROOT = Path(__file__).resolve().parents[2]
KEEP_POLICIES = ("never", "on-failure", "always")
PHASES = ("preflight", "cluster", "image", "app", "dependency build", "install", "checks", "teardown")

Echo = Callable[[str], None]


def _stderr(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def default_kubeconfig(cluster_name: str) -> Path:
    """Where the kind cluster's kubeconfig is written: outside the report folder (it holds client keys)."""
    return Path.home() / ".cache" / "monitoring-conformance" / "kind" / cluster_name / "kubeconfig"


@dataclass(frozen=True)
class KindOptions:
    """What the kind run needs; ``targets/kind.py`` fills it from Settings."""

    cluster_name: str = "monitoring-conformance"
    release: str = "monitoring"
    monitoring_namespace: str = "monitoring"
    app_namespace: str = "todo"
    keep: str = "on-failure"
    chart: Path = REPO_ROOT / "charts" / "monitoring"
    values: Path = REPO_ROOT / "charts" / "monitoring" / "ci" / "kind-values.yaml"
    cluster_config: Path = REPO_ROOT / "fixtures" / "kind" / "cluster.yaml"
    app_context: Path = REPO_ROOT / "fixtures" / "todo-backend"
    app_manifests: Path = REPO_ROOT / "fixtures" / "todo-backend" / "manifests"
    app_deployment: str = "deployment/todo-backend"
    image: str = "todo-backend:0.1.0"
    kubeconfig: Path | None = None
    install_wait_seconds: int = 900
    app_timeout: float = 240.0
    ready_timeout: float = 300.0

    @property
    def kubeconfig_path(self) -> Path:
        return self.kubeconfig or default_kubeconfig(self.cluster_name)


@dataclass
class Phases:
    """Times each phase with the injected clock and prints one line per phase."""

    clock: Clock
    echo: Echo = _stderr
    timings: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = self.clock.now()
        outcome = "FAILED"
        try:
            yield
            outcome = "ok"
        finally:
            seconds = self.clock.now() - start
            self.timings[name] = round(seconds, 3)
            self.echo(f"[kind] {name:<17} {outcome:<6} {seconds:7.1f}s")


def namespace_manifests(folder: Path) -> list[Path]:
    """The YAML files in ``folder`` that define a Namespace (applied before the rest)."""
    if not folder.is_dir():
        return []
    found = []
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
        try:
            text = path.read_text(encoding="utf-8")
        except OSError:
            continue
        if re.search(r"^kind:\s*Namespace\s*$", text, re.MULTILINE):
            found.append(path)
    return found


def should_delete(policy: str, *, created: bool, failed: bool) -> bool:
    """Delete only a cluster this run created, and only when the keep policy allows it."""
    if not created:
        return False
    return policy == "never" or (policy == "on-failure" and not failed)


def _tool(name: str) -> str:
    try:
        return find_tool(name, fix="")
    except ToolError:
        return name


class KindRun:
    """One kind run. ``up()`` brings everything up, ``down()`` tears down per the keep policy."""

    def __init__(
        self,
        options: KindOptions,
        runner: Runner,
        *,
        clock: Clock | None = None,
        echo: Echo = _stderr,
        wall: Callable[[], float] = time.time,
        host: preflight.Host | None = None,
    ):
        self.options = options
        self.runner = runner
        self.clock = clock or Clock()
        self.echo = echo
        self.wall = wall
        self.host = host
        self.phases = Phases(self.clock, echo)
        self.versions: dict[str, str] = {}
        self.helm_version: HelmVersion | None = None
        self.cluster: RunnerKindCluster | None = None
        self.created = False
        self.cluster_up = False  # a cluster (created or reused) is there to inspect and maybe delete
        self.t0: float | None = None
        self.t0_source = "unknown"
        self.torn_down = False

    # -- tools ----------------------------------------------------------------------------------------

    def kubectl(self) -> Kubectl:
        return Kubectl(self.runner, _tool("kubectl"), kubeconfig=self.options.kubeconfig_path)

    def helm(self) -> ClusterHelm:
        return ClusterHelm(self.runner, _tool("helm"), kubeconfig=self.options.kubeconfig_path)

    def _cluster(self) -> RunnerKindCluster:
        if self.cluster is None:
            self.cluster = RunnerKindCluster(
                self.options.cluster_name, kubeconfig=self.options.kubeconfig_path, runner=self.runner,
                kind_path=_tool("kind"), kubectl_path=_tool("kubectl"),
            )
        return self.cluster

    # -- plan -----------------------------------------------------------------------------------------

    def plan(self) -> list[list[str]]:
        """Every command ``up()`` and ``down()`` would run, with ``#`` lines for conditions. Runs nothing."""
        opts = self.options
        cluster, kubectl, helm = self._cluster(), self.kubectl(), self.helm()
        docker = Docker(self.runner, _tool("docker"))
        poll = [
            "# repeated until the rollout completes; stops early on CrashLoopBackOff/ImagePullBackOff",
        ]
        return [
            ["# preflight"], *preflight.plan_argv(),
            ["# cluster"], cluster.get_clusters_argv(),
            [f"# when cluster {opts.cluster_name} exists it is reused: kind export kubeconfig"],
            cluster.export_kubeconfig_argv(),
            ["# otherwise:"], cluster.create_argv(opts.cluster_config),
            ["# image"], docker.build_argv(opts.image, opts.app_context), cluster.load_argv(opts.image),
            ["# app"], *(kubectl.apply_argv(p) for p in namespace_manifests(opts.app_manifests)),
            kubectl.apply_argv(opts.app_manifests), poll,
            kubectl.argv("get", "pods", "--namespace", opts.app_namespace, "-o", "json"),
            kubectl.rollout_status_argv(opts.app_deployment, opts.app_namespace, 10),
            ["# dependency build"], helm.dependency_build_argv(opts.chart),
            ["# install (helm 4 shown; helm 3 gets --wait instead of --wait=legacy)"],
            helm.upgrade_install_argv(
                opts.release, opts.chart, namespace=opts.monitoring_namespace, values_files=[opts.values],
                version=HelmVersion(4, 0, 0), wait_seconds=opts.install_wait_seconds,
            ),
            helm.status_argv(opts.release, opts.monitoring_namespace),
            ["# repeated until every pod is ready; stops early on CrashLoopBackOff/ImagePullBackOff"],
            kubectl.argv("get", "pods", "--namespace", opts.monitoring_namespace, "-o", "json"),
            ["# Grafana login (not with MC_GRAFANA_USER/MC_GRAFANA_PASSWORD): the admin Secret's name"],
            helm.get_values_argv(opts.release, opts.monitoring_namespace),
            [f"# then GET Secret {opts.monitoring_namespace}/grafana (kubernetes client); POST /login"],
            ["# checks: the conformance suite, over the API-server service proxy (no commands)"],
            [f"# teardown: only when this run created the cluster and --keep-cluster {opts.keep} allows"],
            cluster.delete_argv(),
        ]

    # -- phases ---------------------------------------------------------------------------------------

    def run_preflight(self) -> dict[str, str]:
        with self.phases.phase("preflight"):
            checks = preflight.run_preflight(self.runner, self.host)
            found = preflight.require(checks)
        self.versions.update(found)
        self.helm_version = HelmVersion.parse(found["helm"])
        return found

    def up(self) -> None:
        """Preflight, cluster, image, app, dependency build, install. Raises PhaseFailed."""
        opts = self.options
        self.run_preflight()
        with self.phases.phase("cluster"):
            cluster = self._cluster()
            try:
                self.created = cluster.create(opts.cluster_config)
                self.cluster_up = True
            except ToolError as exc:
                raise PhaseFailed("cluster", str(exc), "see `kind create cluster` output above; "
                                  "`docker ps` shows leftover nodes") from exc
            self.echo(f"[kind] cluster {opts.cluster_name} "
                      f"{'created' if self.created else 'exists already: reused, will not be deleted'}"
                      f" (kubeconfig {opts.kubeconfig_path})")
        with self.phases.phase("image"):
            self._image(cluster)
        with self.phases.phase("app"):
            self._app()
        with self.phases.phase("dependency build"):
            self._dependency_build()
        with self.phases.phase("install"):
            self._install()

    def _image(self, cluster: RunnerKindCluster) -> None:
        opts = self.options
        try:
            Docker(self.runner, _tool("docker")).build(opts.image, opts.app_context)
        except ToolError as exc:
            raise PhaseFailed("image", str(exc), f"fix the build of {opts.app_context}/Dockerfile") from exc
        try:
            cluster.load_docker_image(opts.image)
        except ToolError as exc:
            raise PhaseFailed("image", str(exc), f"check `docker image inspect {opts.image}` and that "
                              f"cluster {opts.cluster_name} is running (`kind get nodes --name "
                              f"{opts.cluster_name}`)") from exc

    def _app(self) -> None:
        opts = self.options
        kubectl = self.kubectl()
        try:
            for path in namespace_manifests(opts.app_manifests):
                kubectl.apply(path)  # kubectl applies a folder in file-name order; namespaces go first
            kubectl.apply(opts.app_manifests)
            wait_rollout(kubectl, opts.app_deployment, opts.app_namespace, timeout=opts.app_timeout,
                         clock=self.clock)
        except (ToolError, Unrecoverable, AssertionError) as exc:
            raise PhaseFailed("app", str(exc), f"see the pod logs in the diagnostics; image {opts.image} "
                              "must be loaded with imagePullPolicy IfNotPresent") from exc

    def _dependency_build(self) -> None:
        build_dependencies(self.runner, self.helm(), self.options.chart)

    def _install(self) -> None:
        opts = self.options
        self.t0, self.t0_source = install_release(
            self.helm(), self.kubectl(), release=opts.release, chart=opts.chart,
            namespace=opts.monitoring_namespace, values=opts.values, version=self.helm_version,
            wait_seconds=opts.install_wait_seconds, ready_timeout=opts.ready_timeout, clock=self.clock,
            wall=self.wall,
        )

    # -- teardown -------------------------------------------------------------------------------------

    def down(self, *, failed: bool) -> None:
        """Delete the cluster if this run created it and the keep policy allows; say what was kept."""
        if self.torn_down:
            return
        self.torn_down = True
        opts = self.options
        if self.cluster is None or not self.cluster_up:
            return
        with self.phases.phase("teardown"):
            if should_delete(opts.keep, created=self.created, failed=failed):
                try:
                    self.cluster.delete()
                except ToolError as exc:
                    self.echo(f"[kind] could not delete cluster {opts.cluster_name}: {exc}; "
                              f"delete it with `kind delete cluster --name {opts.cluster_name}`")
                return
            why = "it existed before this run" if not self.created else f"--keep-cluster {opts.keep}"
            self.echo(
                f"[kind] cluster {opts.cluster_name} kept ({why}): "
                f"kubectl --kubeconfig {opts.kubeconfig_path} get pods -A; "
                f"delete with `kind delete cluster --name {opts.cluster_name}`"
            )
