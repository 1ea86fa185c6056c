"""kind, driven through a Runner, on top of pytest-kind's :class:`KindCluster`.

pytest-kind's ``KindCluster`` downloads kind/kubectl when its paths do not exist, calls ``subprocess``
without timeouts, and deletes a cluster whose kubeconfig file is missing. :class:`RunnerKindCluster` keeps
its interface (``create``, ``load_docker_image``, ``kubectl``, ``delete``) and replaces each of those
behaviours: the binaries are the ones found on PATH (a missing one is a ToolError, never a download), every
command goes through our :class:`Runner` with a timeout, and an existing cluster is reused and never deleted
by ``create``. pytest-kind's own pytest plugin stays disabled (``-p no:pytest-kind``): its ``--kubeconfig``
and ``--keep-cluster`` options clash with ours.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

from pytest_kind.cluster import KindCluster

from monitoring_conformance.errors import ToolError
from monitoring_conformance.tools.runner import Result, Runner, SubprocessRunner, find_tool
from monitoring_conformance.tools.version import ToolVersion

KIND_FIX = "install kind v0.27 or newer (https://kind.sigs.k8s.io/docs/user/quick-start/#installation)"
MIN_KIND = (0, 27, 0)
CREATE_TIMEOUT = 600.0
LOAD_TIMEOUT = 600.0
DELETE_TIMEOUT = 300.0
#: kind create waits this long for the control plane to be Ready.
CREATE_WAIT = "180s"

PathLike = str | os.PathLike[str]


class KindVersion(ToolVersion):
    """A kind release number: ``kind v0.32.0 go1.25.1 linux/amd64`` parses to KindVersion(0, 32, 0)."""

    tool = "kind"
    example = "v0.32.0"


def kind_version(runner: Runner, path: str, *, timeout: float = 5.0) -> KindVersion:
    """``kind version``; a ToolError naming the fix when it is older than v0.27."""
    result = runner.run([path, "version"], timeout=timeout)
    found = KindVersion.parse(result.stdout or result.stderr)
    if (found.major, found.minor, found.patch) < MIN_KIND:
        raise ToolError(f"kind {found} at {path} is too old (need v0.27 or newer): {KIND_FIX}")
    return found


class RunnerKindCluster(KindCluster):  # type: ignore[misc]  # pytest-kind ships no type hints
    """pytest-kind's KindCluster whose every command runs through a Runner with a timeout."""

    def __init__(
        self,
        name: str,
        *,
        kubeconfig: Path,
        runner: Runner | None = None,
        kind_path: str | None = None,
        kubectl_path: str | None = None,
        image: str | None = None,
    ):
        # KindCluster.__init__ would create ./.pytest-kind/<name> in the working directory and choose
        # download locations; we set the same attributes without either side effect.
        self.name = name
        self.image = image
        self.runner: Runner = runner if runner is not None else SubprocessRunner()
        self.kubeconfig_path = Path(kubeconfig)
        self.path = self.kubeconfig_path.parent
        self.kind_path = Path(kind_path if kind_path is not None else find_tool("kind", fix=KIND_FIX))
        self.kubectl_path = Path(
            kubectl_path if kubectl_path is not None else find_tool("kubectl", fix="install kubectl")
        )
        self.platform = platform.system().lower()
        self.created = False

    # -- never download -------------------------------------------------------------------------------

    def ensure_kind(self) -> None:
        if not self.kind_path.exists():
            raise ToolError(f"kind not found at {self.kind_path}: {KIND_FIX}")

    def ensure_kubectl(self) -> None:
        if not self.kubectl_path.exists():
            raise ToolError(f"kubectl not found at {self.kubectl_path}: install kubectl")

    # -- argv (also used by --plan) -------------------------------------------------------------------

    def _kind(self, *args: str) -> list[str]:
        return [str(self.kind_path), *args]

    def get_clusters_argv(self) -> list[str]:
        return self._kind("get", "clusters")

    def create_argv(self, config_file: PathLike | None = None) -> list[str]:
        argv = self._kind(
            "create", "cluster", f"--name={self.name}", f"--kubeconfig={self.kubeconfig_path}",
            f"--wait={CREATE_WAIT}",
        )
        if self.image:
            argv.append(f"--image={self.image}")
        if config_file is not None:
            argv += ["--config", str(config_file)]
        return argv

    def export_kubeconfig_argv(self) -> list[str]:
        return self._kind(
            "export", "kubeconfig", f"--name={self.name}", f"--kubeconfig={self.kubeconfig_path}"
        )

    def load_argv(self, *images: str) -> list[str]:
        return self._kind("load", "docker-image", "--name", self.name, *images)

    def delete_argv(self) -> list[str]:
        return self._kind("delete", "cluster", f"--name={self.name}", f"--kubeconfig={self.kubeconfig_path}")

    # -- KindCluster interface ------------------------------------------------------------------------

    def exists(self) -> bool:
        result = self.runner.run(self.get_clusters_argv(), timeout=30)
        return self.name in (line.strip() for line in result.stdout.splitlines())

    def create(self, config_file: PathLike | None = None) -> bool:
        """Create the cluster, or reuse one of the same name. Returns True when this call created it.

        A reused cluster only gets its kubeconfig exported; it is never deleted here.
        """
        self.ensure_kind()
        self.kubeconfig_path.parent.mkdir(parents=True, exist_ok=True)
        if self.exists():
            self.runner.run(self.export_kubeconfig_argv(), timeout=60)
            self.created = False
        else:
            self.runner.run(self.create_argv(config_file), timeout=CREATE_TIMEOUT)
            self.created = True
        return self.created

    def load_docker_image(self, docker_image: str, *more: str) -> None:
        """``kind load docker-image`` of one or more images (into every node's containerd store)."""
        self.runner.run(self.load_argv(docker_image, *more), timeout=LOAD_TIMEOUT)

    def kubectl(self, *args: str, timeout: float = 60.0, **_ignored: Any) -> str:
        """Run kubectl against this cluster and return stdout."""
        argv = [str(self.kubectl_path), "--kubeconfig", str(self.kubeconfig_path), *args]
        result: Result = self.runner.run(argv, timeout=timeout)
        return result.stdout

    def port_forward(self, *args: Any, **kwargs: Any) -> Any:
        raise ToolError(
            "port-forward is not used by this project: services are reached through the API-server proxy"
        )

    def delete(self) -> None:
        """``kind delete cluster``. Callers decide whether they may (see orchestrate.KeepPolicy)."""
        self.runner.run(self.delete_argv(), timeout=DELETE_TIMEOUT)
