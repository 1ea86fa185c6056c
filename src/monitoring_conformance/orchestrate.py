"""The kind run: a prelude (preflight, cluster, image, app) before the chart steps, and the teardown.

:class:`KindRun` takes a :class:`Runner` (a recording double in unit tests) and a :class:`Clock`, so every
command and every wait can be checked without Docker. Its :meth:`~KindRun.steps` are one list: ``plan()``
prints them, ``up()`` runs them phase by phase (see :mod:`.release`). The chart steps (dependency build,
install with Grafana watched, readiness wait) are :class:`~monitoring_conformance.release.ChartRelease`'s,
the same the kubeconfig target runs. Teardown follows the keep policy and never deletes a cluster this run
did not create.

The Todo backend image gets a tag derived from the content of its build folder
(``todo-backend:0.1.0-<hash8>``), and the Deployment is pointed at it with ``kubectl set image``: a rerun on a
kept cluster runs the image just built, never the one loaded last time under the same tag.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from monitoring_conformance import preflight, resources
from monitoring_conformance.errors import ToolError
from monitoring_conformance.install_watch import GrafanaWatch, Readiness
from monitoring_conformance.progress import Echo, terminal
from monitoring_conformance.release import (
    ChartRelease,
    ClusterHelm,
    PhaseFailed,
    Phases,
    Step,
    plan_lines,
    run_steps,
)
from monitoring_conformance.tools.docker import BUILD_TIMEOUT, Docker
from monitoring_conformance.tools.helm import HelmVersion, RepoFiles
from monitoring_conformance.tools.kind import KindCli
from monitoring_conformance.tools.kubectl import Kubectl, wait_rollout
from monitoring_conformance.tools.runner import Runner, tool_or_name
from monitoring_conformance.wait import Clock

__all__ = ["PHASES", "ClusterHelm", "KindOptions", "KindRun", "PhaseFailed", "should_delete"]

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
    for path in sorted(path for path in folder.rglob("*") if path.is_file()) if folder.is_dir() else []:
        relative = path.relative_to(folder)
        if not any(part in NOT_IN_IMAGE for part in relative.parts) and path.suffix != ".pyc":
            digest.update(relative.as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def namespace_manifests(folder: Path) -> list[Path]:
    """The YAML files in ``folder`` that define a Namespace (applied before the rest)."""
    found = []
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]) if folder.is_dir() else []:
        try:
            if re.search(r"^kind:\s*Namespace\s*$", path.read_text(encoding="utf-8"), re.MULTILINE):
                found.append(path)
        except OSError:
            continue
    return found


def should_delete(policy: str, *, created: bool, failed: bool) -> bool:
    """Delete only a cluster this run created, and only when the keep policy allows it."""
    return created and (policy == "never" or (policy == "on-failure" and not failed))


class KindRun:
    """One kind run: ``up()`` runs :meth:`steps`, ``plan()`` lists them, ``down()`` keeps or deletes."""

    def __init__(self, options: KindOptions, runner: Runner, *, clock: Clock | None = None,
                 echo: Echo = terminal, wall: Callable[[], float] = time.time,
                 host: preflight.Host | None = None,
                 watch: Callable[[], GrafanaWatch | None] | None = None):  # fmt: skip
        self.options = options
        self.runner = runner
        self.clock = clock or Clock()
        self.echo = echo
        self.host = host
        self.phases = Phases(self.clock, echo)
        self.versions: dict[str, str] = {}
        self.cluster: KindCli | None = None
        self.created = False
        self.cluster_up = False  # a cluster (created or reused) is there to inspect and maybe delete
        self.torn_down = False
        self.chart = ChartRelease(
            self.helm(), self.kubectl(), options.release, options.chart, options.monitoring_namespace,
            options.values, options.repos, self.clock, wall, echo, wait_seconds=options.install_wait_seconds,
            ready_timeout=options.ready_timeout, watch=watch,
        )

    @property
    def t0(self) -> float | None:
        return self.chart.t0

    @property
    def t0_source(self) -> str:
        return self.chart.t0_source

    @property
    def readiness(self) -> Readiness | None:
        return self.chart.readiness

    @property
    def helm_wait(self) -> list[str]:
        return self.chart.helm_wait

    def kubectl(self) -> Kubectl:
        return Kubectl(self.runner, tool_or_name("kubectl"), kubeconfig=self.options.kubeconfig_path)

    def helm(self) -> ClusterHelm:
        return ClusterHelm(self.runner, tool_or_name("helm"), kubeconfig=self.options.kubeconfig_path)

    def _cluster(self) -> KindCli:
        if self.cluster is None:
            self.cluster = KindCli(self.options.cluster_name, kubeconfig=self.options.kubeconfig_path,
                                   runner=self.runner, kind_path=tool_or_name("kind"),
                                   kubectl_path=tool_or_name("kubectl"))  # fmt: skip
        return self.cluster

    # -- the steps ------------------------------------------------------------------------------------

    def steps(self) -> list[Step]:
        """Preflight, cluster, image, app, then the chart's dependency build and install."""
        o, cluster, kubectl = self.options, self._cluster(), self.kubectl()
        tag, name = o.image_tag, o.cluster_name
        docker = Docker(self.runner, tool_or_name("docker"))
        set_image = kubectl.argv("set", "image", o.app_deployment, f"{o.app_container}={tag}",
                                 "--namespace", o.app_namespace)  # fmt: skip
        app_fix = (f"see the pod logs in the diagnostics; image {tag} must be loaded with imagePullPolicy "
                   "IfNotPresent")
        return [
            Step("preflight", note="preflight", run=self._preflight, shows=tuple(preflight.plan_argv())),
            Step("cluster", note="cluster", run=self._create, quote=True,
                 shows=(cluster.get_clusters_argv(),
                        [f"# when cluster {name} exists it is reused: kind export kubeconfig"],
                        cluster.export_kubeconfig_argv(), ["# otherwise:"],
                        cluster.create_argv(o.cluster_config)),
                 fix=f"`docker ps -a --filter label=io.x-k8s.kind.cluster={name}` shows leftover nodes; "
                     f"remove them with `kind delete cluster --name {name}`"),
            Step("image", docker.build_argv(o.image, o.app_context, tag), timeout=BUILD_TIMEOUT, quote=True,
                 note=f"image (tag {tag}: a hash of {o.app_context.name}'s files)",
                 fix=f"fix the build of {o.app_context}/Dockerfile"),
            Step("image", cluster.load_argv(o.image, tag), run=lambda: self._load(tag),
                 fix=f"check `docker image inspect {tag}` and that cluster {name} is running "
                     f"(`kind get nodes --name {name}`)"),
            *(Step("app", kubectl.apply_argv(path), fix=app_fix, note="app" if i == 0 else "")
              for i, path in enumerate([*namespace_manifests(o.app_manifests), o.app_manifests])),
            Step("app", set_image, fix=app_fix),
            Step("app", note="repeated until the rollout completes; stops early on CrashLoopBackOff/"
                 "ImagePullBackOff", fix=app_fix,
                 shows=(kubectl.pods_argv(o.app_namespace),
                        kubectl.rollout_status_argv(o.app_deployment, o.app_namespace, 10)),
                 run=lambda: wait_rollout(kubectl, o.app_deployment, o.app_namespace, timeout=o.app_timeout,
                                          clock=self.clock)),
            *self.chart.steps(),
        ]

    def plan(self) -> list[list[str]]:
        """Every command ``up()`` would run, with ``#`` lines for conditions. Runs nothing."""
        return plan_lines(self.steps())

    def teardown_plan(self) -> list[list[str]]:
        return [[f"# teardown: only when this run created the cluster and --keep-cluster {self.options.keep} "
                 "allows"], self._cluster().delete_argv()]

    def up(self) -> None:
        """Preflight, cluster, image, app, dependency build, install. Raises PhaseFailed."""
        run_steps(self.steps(), self.phases, self.runner, "kind")

    def _preflight(self) -> None:
        found = preflight.require(preflight.run_preflight(self.runner, self.host))
        self.versions.update(found)
        self.chart.version = HelmVersion.parse(found["helm"])

    def _create(self) -> None:
        o = self.options
        self.created = self._cluster().create(o.cluster_config)
        self.cluster_up = True
        self.echo(f"[kind] cluster {o.cluster_name} "
                  f"{'created' if self.created else 'exists already: reused, will not be deleted'}"
                  f" (kubeconfig {o.kubeconfig_path})")

    def _load(self, tag: str) -> None:
        self._cluster().load(self.options.image, tag)
        self.versions["todo-backend image"] = tag

    # -- teardown -------------------------------------------------------------------------------------

    def down(self, *, failed: bool) -> None:
        """Delete the cluster if this run created it and the keep policy allows; say what was kept."""
        if self.torn_down or self.cluster is None or not self.cluster_up:
            self.torn_down = True
            return
        self.torn_down = True
        o = self.options
        how = f"delete with `kind delete cluster --name {o.cluster_name}`"
        with self.phases.phase("teardown"):
            if should_delete(o.keep, created=self.created, failed=failed):
                try:
                    self.cluster.delete()
                except ToolError as exc:
                    self.echo(f"[kind] could not delete cluster {o.cluster_name}: {exc}; "
                              f"delete it with `kind delete cluster --name {o.cluster_name}`")
                    return
                self.cluster_up = False  # nothing left to inspect: no diagnostics from here on
                self.echo(f"[kind] cluster {o.cluster_name} deleted")
                return
            why = "it existed before this run" if not self.created else f"--keep-cluster {o.keep}"
            self.echo(f"[kind] cluster {o.cluster_name} kept ({why}): "
                      f"kubectl --kubeconfig {o.kubeconfig_path} get pods -A; {how}")
