"""The kind run, phase by phase: preflight, cluster, image, app, dependency build, install, teardown.

:class:`KindRun` takes a :class:`Runner` (a ``RecordingRunner`` in unit tests) and a :class:`Clock`, so every
command and every wait can be checked without Docker. Each phase is timed (:class:`Phases`); a phase that
fails raises :class:`PhaseFailed`, one line naming the phase, what went wrong and the fix. Teardown follows
the keep policy and never deletes a cluster this run did not create.

The Todo backend image gets a tag derived from the content of its build folder
(``todo-backend:0.1.0-<hash8>``), and the Deployment is pointed at it with ``kubectl set image``: a rerun on a
kept cluster runs the image just built, never the one loaded last time under the same tag.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from monitoring_conformance import preflight, resources
from monitoring_conformance.errors import CommandFailed, ToolError, Unrecoverable
from monitoring_conformance.helm_wait import HelmWaitReporter
from monitoring_conformance.install_watch import (
    GRAFANA_SELECTOR,
    HANDOVER_EVERY,
    INTERVAL,
    PODS_EVERY,
    GrafanaWatch,
    Readiness,
)
from monitoring_conformance.progress import Echo, terminal
from monitoring_conformance.release import (
    ClusterHelm,
    PhaseFailed,
    build_dependencies,
    dependency_commands,
    deployed_at,
    install_release,
)
from monitoring_conformance.tools.docker import Docker
from monitoring_conformance.tools.helm import HelmVersion, RepoFiles
from monitoring_conformance.tools.kind import RunnerKindCluster
from monitoring_conformance.tools.kubectl import Kubectl, wait_rollout
from monitoring_conformance.tools.runner import Runner, tool_or_name
from monitoring_conformance.wait import Clock

__all__ = ["PHASES", "ClusterHelm", "KindOptions", "KindRun", "PhaseFailed", "deployed_at", "should_delete"]

KEEP_POLICIES = ("never", "on-failure", "always")
PHASES = ("preflight", "cluster", "image", "app", "dependency build", "install", "checks", "teardown")
#: Files of the image's build folder that do not go into the image (and so not into its tag).
NOT_IN_IMAGE = ("manifests", "__pycache__", ".pytest_cache")


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
    chart: Path = resources.CHART
    values: Path = resources.CHART / "ci" / "kind-values.yaml"
    cluster_config: Path = resources.KIND_CLUSTER
    app_context: Path = resources.TODO_BACKEND
    app_manifests: Path = resources.TODO_BACKEND / "manifests"
    app_deployment: str = "deployment/todo-backend"
    app_container: str = "todo-backend"
    image: str = "todo-backend:0.1.0"
    kubeconfig: Path | None = None
    install_wait_seconds: int = 900
    app_timeout: float = 240.0
    ready_timeout: float = 300.0

    @property
    def kubeconfig_path(self) -> Path:
        return self.kubeconfig or default_kubeconfig(self.cluster_name)

    @property
    def repos(self) -> RepoFiles:
        """helm's repository config and cache for this cluster (next to its kubeconfig, not in reports)."""
        return RepoFiles.under(self.kubeconfig_path.parent / "helm")

    @property
    def image_tag(self) -> str:
        """``image`` plus the first 8 hex digits of a hash over the build folder's files."""
        return f"{self.image}-{content_hash(self.app_context)[:8]}"


def content_hash(folder: Path) -> str:
    """sha256 over the relative paths and contents of the files that go into the image (sorted)."""
    digest = hashlib.sha256()
    files = sorted(path for path in folder.rglob("*") if path.is_file()) if folder.is_dir() else []
    for path in files:
        relative = path.relative_to(folder)
        if any(part in NOT_IN_IMAGE for part in relative.parts) or path.suffix == ".pyc":
            continue
        digest.update(relative.as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


@dataclass
class Phases:
    """Times each phase with the injected clock and prints one line per phase."""

    clock: Clock
    echo: Echo = terminal
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


class KindRun:
    """One kind run. ``up()`` brings everything up, ``down()`` tears down per the keep policy."""

    def __init__(
        self,
        options: KindOptions,
        runner: Runner,
        *,
        clock: Clock | None = None,
        echo: Echo = terminal,
        wall: Callable[[], float] = time.time,
        host: preflight.Host | None = None,
        watch: Callable[[], GrafanaWatch | None] | None = None,
    ):
        self.options = options
        self.runner = runner
        self.clock = clock or Clock()
        self.echo = echo
        self.wall = wall
        self.host = host
        self.watch = watch
        self.watcher: GrafanaWatch | None = None
        #: Progress lines printed while helm waited (also written to the diagnostics).
        self.helm_wait: list[str] = []
        self.readiness: Readiness | None = None
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
        return Kubectl(self.runner, tool_or_name("kubectl"), kubeconfig=self.options.kubeconfig_path)

    def helm(self) -> ClusterHelm:
        return ClusterHelm(self.runner, tool_or_name("helm"), kubeconfig=self.options.kubeconfig_path)

    def _cluster(self) -> RunnerKindCluster:
        if self.cluster is None:
            self.cluster = RunnerKindCluster(
                self.options.cluster_name, kubeconfig=self.options.kubeconfig_path, runner=self.runner,
                kind_path=tool_or_name("kind"), kubectl_path=tool_or_name("kubectl"),
            )
        return self.cluster

    # -- plan -----------------------------------------------------------------------------------------

    def plan(self) -> list[list[str]]:
        """Every command ``up()`` and ``down()`` would run, with ``#`` lines for conditions. Runs nothing."""
        opts = self.options
        cluster, kubectl, helm = self._cluster(), self.kubectl(), self.helm()
        docker = Docker(self.runner, tool_or_name("docker"))
        tag = opts.image_tag
        ns = opts.monitoring_namespace
        return [
            ["# preflight"], *preflight.plan_argv(),
            ["# cluster"], cluster.get_clusters_argv(),
            [f"# when cluster {opts.cluster_name} exists it is reused: kind export kubeconfig"],
            cluster.export_kubeconfig_argv(),
            ["# otherwise:"], cluster.create_argv(opts.cluster_config),
            [f"# image (tag {tag}: a hash of {opts.app_context.name}'s files)"],
            docker.build_argv(opts.image, opts.app_context, tag), cluster.load_argv(opts.image, tag),
            ["# app"], *(kubectl.apply_argv(p) for p in namespace_manifests(opts.app_manifests)),
            kubectl.apply_argv(opts.app_manifests), self._set_image_argv(kubectl),
            ["# repeated until the rollout completes; stops early on CrashLoopBackOff/ImagePullBackOff"],
            kubectl.pods_argv(opts.app_namespace),
            kubectl.rollout_status_argv(opts.app_deployment, opts.app_namespace, 10),
            [f"# dependency build (repository config and cache in {opts.repos.config.parent})"],
            *dependency_commands(helm, opts.chart, opts.repos),
            ["# install (helm 4 shown; helm 3 gets --wait instead of --wait=legacy)"],
            helm.upgrade_install_argv(
                opts.release, opts.chart, namespace=ns, values_files=[opts.values],
                version=HelmVersion(4, 0, 0), wait_seconds=opts.install_wait_seconds,
            ),
            [f"# while helm runs: GET Grafana /api/health and its overview dashboard through the API-server "
             f"proxy every {INTERVAL:g}s (t0: the wall clock right before helm starts; the admin login "
             f"from Secret {ns}/grafana once it exists), and every {PODS_EVERY:g}s (every "
             f"{HANDOVER_EVERY:g}s while Grafana answers and a pod from before t0 is alive: an answer counts "
             "only from pods created after t0):"],
            kubectl.pods_argv(ns, selector=GRAFANA_SELECTOR),
            ["# then repeated until every pod is ready; stops early on CrashLoopBackOff/ImagePullBackOff "
             "or a failed hook Job"],
            kubectl.pods_and_jobs_argv(ns),
            ["# Grafana login for the checks (unless MC_GRAFANA_USER/PASSWORD are set): the Secret's name"],
            helm.get_values_argv(opts.release, ns),
            [f"# then GET Secret {ns}/grafana (kubernetes client); POST /login"],
            ["# checks: the conformance suite, over the API-server service proxy (no commands)"],
            [f"# teardown: only when this run created the cluster and --keep-cluster {opts.keep} allows"],
            cluster.delete_argv(),
        ]

    def _set_image_argv(self, kubectl: Kubectl) -> list[str]:
        opts = self.options
        return kubectl.argv("set", "image", opts.app_deployment, f"{opts.app_container}={opts.image_tag}",
                            "--namespace", opts.app_namespace)

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
                fix = (f"`docker ps -a --filter label=io.x-k8s.kind.cluster={opts.cluster_name}` shows "
                       f"leftover nodes; remove them with `kind delete cluster --name {opts.cluster_name}`")
                raise PhaseFailed("cluster", _with_output(exc), fix) from exc
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
        tag = opts.image_tag
        try:
            Docker(self.runner, tool_or_name("docker")).build(opts.image, opts.app_context, tag)
        except ToolError as exc:
            raise PhaseFailed("image", _with_output(exc),
                              f"fix the build of {opts.app_context}/Dockerfile") from exc
        try:
            cluster.load_docker_image(opts.image, tag)
        except ToolError as exc:
            raise PhaseFailed("image", str(exc), f"check `docker image inspect {tag}` and that "
                              f"cluster {opts.cluster_name} is running (`kind get nodes --name "
                              f"{opts.cluster_name}`)") from exc
        self.versions["todo-backend image"] = tag

    def _app(self) -> None:
        opts = self.options
        kubectl = self.kubectl()
        try:
            for path in namespace_manifests(opts.app_manifests):
                kubectl.apply(path)  # kubectl applies a folder in file-name order; namespaces go first
            kubectl.apply(opts.app_manifests)
            self.runner.run(self._set_image_argv(kubectl), timeout=kubectl.timeout)
            wait_rollout(kubectl, opts.app_deployment, opts.app_namespace, timeout=opts.app_timeout,
                         clock=self.clock)
        except (ToolError, Unrecoverable, AssertionError) as exc:
            raise PhaseFailed("app", str(exc), f"see the pod logs in the diagnostics; image "
                              f"{opts.image_tag} must be loaded with imagePullPolicy IfNotPresent") from exc

    def _dependency_build(self) -> None:
        build_dependencies(self.runner, self.helm(), self.options.chart, self.options.repos)

    def _install(self) -> None:
        opts = self.options
        self.watcher = self.watch() if self.watch else None
        installed = install_release(
            self.helm(), self.kubectl(), release=opts.release, chart=opts.chart,
            namespace=opts.monitoring_namespace, values=opts.values, version=self.helm_version,
            wait_seconds=opts.install_wait_seconds, ready_timeout=opts.ready_timeout, clock=self.clock,
            wall=self.wall, watch=self.watcher,
            reporter=HelmWaitReporter(self.kubectl(), opts.monitoring_namespace, self.echo, self.clock,
                                      prefix="[kind]", lines=self.helm_wait),
        )
        self.t0, self.t0_source, self.readiness = installed.t0, installed.t0_source, installed.readiness
        ready = self.readiness
        if ready is not None:
            seen = (f"{ready.ready_at - installed.t0:.1f}s after helm started" if ready.ready_at is not None
                    else f"not seen ({ready.evidence.get('stopped')})")
            self.echo(f"[kind] grafana ready: {seen}")

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
                self.cluster_up = False  # nothing left to inspect: no diagnostics from here on
                self.echo(f"[kind] cluster {opts.cluster_name} deleted")
                return
            why = "it existed before this run" if not self.created else f"--keep-cluster {opts.keep}"
            self.echo(
                f"[kind] cluster {opts.cluster_name} kept ({why}): "
                f"kubectl --kubeconfig {opts.kubeconfig_path} get pods -A; "
                f"delete with `kind delete cluster --name {opts.cluster_name}`"
            )


def _with_output(exc: ToolError, lines: int = 8) -> str:
    """The error, plus the last lines the command wrote (its output is captured, not on the terminal)."""
    said = [line.strip() for line in exc.stderr.strip().splitlines() if line.strip()] \
        if isinstance(exc, CommandFailed) else []
    if not isinstance(exc, CommandFailed) or not said:
        return str(exc)
    ran = f"`{' '.join(exc.argv)}`"
    head = f"{ran} timed out after {exc.timeout:g}s" if exc.returncode is None and exc.timeout else \
        f"{ran} exited {exc.returncode}"
    return f"{head}; its last output: " + " | ".join(said[-lines:])
