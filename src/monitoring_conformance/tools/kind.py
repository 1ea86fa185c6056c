"""kind through a Runner, with pytest-kind's :class:`KindCluster` as the cluster's description.

:class:`KindCli` holds a ``KindCluster`` built the ordinary way, with ``kind_path``/``kubectl_path`` set to
the binaries found on PATH (so its ``ensure_kind``/``ensure_kubectl`` have nothing to download) and
``kubeconfig`` set to ours; the commands are built from its name, image and paths. KindCluster's own
``create``, ``load_docker_image``, ``kubectl`` and ``delete`` call ``subprocess`` without a timeout (and
``create`` deletes a cluster whose kubeconfig file is missing), so they are not called: the same commands
go through our :class:`Runner`, each with a timeout and a readable error, and an existing cluster is reused,
never deleted by ``create``. KindCluster's constructor makes ``.pytest-kind/<name>`` in the working
directory; it is built inside a scratch folder that is removed at once. pytest-kind's pytest plugin stays
disabled (``-p no:pytest-kind``): its ``--kubeconfig`` and ``--keep-cluster`` options clash with ours.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from pytest_kind.cluster import KindCluster

from monitoring_conformance.errors import ToolError
from monitoring_conformance.tools.runner import Runner
from monitoring_conformance.tools.version import ToolVersion

KIND_FIX = "install kind v0.27 or newer (https://kind.sigs.k8s.io/docs/user/quick-start/#installation)"
MIN_KIND = (0, 27, 0)
CREATE_TIMEOUT = 600.0
LOAD_TIMEOUT = 600.0
DELETE_TIMEOUT = 300.0
#: kind create waits this long for the control plane to be Ready.
CREATE_WAIT = "180s"


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


class KindCli:
    """One kind cluster: pytest-kind's KindCluster describes it, a Runner runs its commands."""

    def __init__(self, name: str, *, kubeconfig: Path, runner: Runner, kind_path: str, kubectl_path: str,
                 image: str | None = None):  # fmt: skip
        self.runner = runner
        with tempfile.TemporaryDirectory() as scratch, contextlib.chdir(scratch):
            self.cluster = KindCluster(name, kubeconfig=Path(kubeconfig), image=image,
                                       kind_path=Path(kind_path), kubectl_path=Path(kubectl_path))

    def ensure(self) -> None:
        """Both binaries exist (so KindCluster would not download one); else a ToolError with the fix."""
        for path, fix in ((self.cluster.kind_path, KIND_FIX), (self.cluster.kubectl_path, "install kubectl")):
            if not (os.sep in str(path) and path.exists()):
                raise ToolError(f"{path.name} not found at {path}: {fix}")
        self.cluster.ensure_kind()
        self.cluster.ensure_kubectl()

    # -- commands (also listed by --plan) --------------------------------------------------------------

    def _kind(self, *args: str) -> list[str]:
        return [str(self.cluster.kind_path), *args]

    def get_clusters_argv(self) -> list[str]:
        return self._kind("get", "clusters")

    def create_argv(self, config_file: Path | None = None) -> list[str]:
        c = self.cluster
        return self._kind("create", "cluster", f"--name={c.name}", f"--kubeconfig={c.kubeconfig_path}",
                          f"--wait={CREATE_WAIT}", *([f"--image={c.image}"] if c.image else []),
                          *(["--config", str(config_file)] if config_file is not None else []))

    def export_kubeconfig_argv(self) -> list[str]:
        return self._kind("export", "kubeconfig", f"--name={self.cluster.name}",
                          f"--kubeconfig={self.cluster.kubeconfig_path}")

    def load_argv(self, *images: str) -> list[str]:
        return self._kind("load", "docker-image", "--name", self.cluster.name, *images)

    def delete_argv(self) -> list[str]:
        return self._kind("delete", "cluster", f"--name={self.cluster.name}",
                          f"--kubeconfig={self.cluster.kubeconfig_path}")

    # -- running them ---------------------------------------------------------------------------------

    def create(self, config_file: Path | None = None) -> bool:
        """Create the cluster, or reuse one of the same name (only its kubeconfig is exported; it is never
        deleted here). True when this call created it."""
        self.ensure()
        Path(self.cluster.kubeconfig_path).parent.mkdir(parents=True, exist_ok=True)
        listed = self.runner.run(self.get_clusters_argv(), timeout=30).stdout.splitlines()
        if self.cluster.name in (line.strip() for line in listed):
            self.runner.run(self.export_kubeconfig_argv(), timeout=60)
            return False
        self.runner.run(self.create_argv(config_file), timeout=CREATE_TIMEOUT)
        return True

    def load(self, *images: str) -> None:
        """``kind load docker-image`` of the images (into every node's containerd store)."""
        self.runner.run(self.load_argv(*images), timeout=LOAD_TIMEOUT)

    def delete(self) -> None:
        """``kind delete cluster``. Callers decide whether they may (see orchestrate.should_delete)."""
        self.runner.run(self.delete_argv(), timeout=DELETE_TIMEOUT)
