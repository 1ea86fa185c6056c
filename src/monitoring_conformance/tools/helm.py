"""helm, driven through a Runner: argument lists, a timeout on every call, readable errors.

The class is deliberately thin: one method per helm sub-command, each building an argv and handing it to
:meth:`Helm._helm`. Other parts of the project extend it with install/upgrade/status the same way.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitoring_conformance.errors import CommandFailed, ToolError, UsageError
from monitoring_conformance.tools.runner import Result, Runner, SubprocessRunner, find_tool
from monitoring_conformance.tools.version import ToolVersion

#: How to get helm when it is missing. Shown in the ToolError.
HELM_FIX = (
    "run `./scripts/bootstrap` (puts helm into .tools/bin) "
    "or install helm v3.x/v4.x on PATH"
)
SUPPORTED_MAJORS = (3, 4)
#: The runner's timeout for ``helm upgrade --install``: helm's own ``--timeout`` plus this margin.
INSTALL_MARGIN_S = 120

PathLike = str | os.PathLike[str]


class HelmVersion(ToolVersion):
    """A helm release number, e.g. v4.1.4."""

    tool = "helm"
    example = "v4.1.4"


class Helm:
    """helm over a Runner. ``path`` defaults to the helm that :func:`find_tool` finds."""

    def __init__(self, runner: Runner | None = None, path: str | None = None, *, timeout: float = 120.0):
        self.runner: Runner = runner if runner is not None else SubprocessRunner()
        self.path = path if path is not None else find_tool("helm", fix=HELM_FIX)
        self.timeout = timeout

    def _helm(self, *args: str, timeout: float | None = None, check: bool = True) -> Result:
        """Run ``helm <args>``. Every method goes through here."""
        return self.runner.run([self.path, *args], timeout=timeout or self.timeout, check=check)

    def version(self) -> HelmVersion:
        """The helm version; a ToolError when it is not a supported major (3 or 4)."""
        result = self._helm("version", "--template", "{{.Version}}", timeout=30)
        found = HelmVersion.parse(result.stdout)
        if found.major not in SUPPORTED_MAJORS:
            raise ToolError(f"helm {found} at {self.path} is not supported: {HELM_FIX}")
        return found

    def lint(self, chart: PathLike, values_files: Sequence[PathLike] = (), *, strict: bool = True) -> str:
        """``helm lint [--strict] CHART -f ...``; returns the lint output.

        helm prints its findings on stdout and only a summary on stderr, so a failure carries the
        ``[ERROR]``/``[WARNING]`` lines in its message.
        """
        argv = ["lint", str(chart), *_values_args(values_files)]
        if strict:
            argv.append("--strict")
        result = self._helm(*argv, check=False)
        if result.returncode != 0:
            findings = [
                line.strip()
                for line in result.stdout.splitlines()
                if line.strip().startswith(("[ERROR]", "[WARNING]"))
            ]
            raise CommandFailed(list(result.argv), result.returncode, "\n".join([*findings, result.stderr]))
        return result.stdout

    def template(
        self,
        chart: PathLike,
        *,
        release: str,
        namespace: str,
        values_files: Sequence[PathLike] = (),
        kube_version: str | None = None,
        api_versions: Sequence[str] = (),
    ) -> str:
        """``helm template RELEASE CHART --namespace NS -f ...``; returns the rendered manifests."""
        argv = ["template", release, str(chart), "--namespace", namespace, *_values_args(values_files)]
        if kube_version:
            argv += ["--kube-version", kube_version]
        for api_version in api_versions:
            argv += ["--api-versions", api_version]
        return self._helm(*argv).stdout

    def install_dry_run(
        self,
        chart: PathLike,
        *,
        release: str,
        namespace: str,
        values_files: Sequence[PathLike] = (),
        timeout: float | None = None,
    ) -> str:
        """``helm install --dry-run=client -o json``: the release as JSON, NOTES included, no cluster."""
        argv = ["install", release, str(chart), "--namespace", namespace, "--dry-run=client",
                *_values_args(values_files), "--output", "json"]  # fmt: skip
        return self._helm(*argv, timeout=timeout).stdout

    def dependency_build(self, chart: PathLike, *, skip_refresh: bool = False) -> None:
        """``helm dependency build CHART`` (fetches into CHART/charts; needs the repositories reachable)."""
        argv = ["dependency", "build", str(chart)]
        if skip_refresh:
            argv.append("--skip-refresh")
        self._helm(*argv, timeout=300)

    # -- release lifecycle (kind and kubeconfig targets) ----------------------------------------------

    def argv(self, *args: str) -> list[str]:
        """The full argv of ``helm ARGS`` (for --plan listings)."""
        return [self.path, *args]

    def upgrade_install_argv(
        self,
        release: str,
        chart: PathLike,
        *,
        namespace: str,
        values_files: Sequence[PathLike] = (),
        version: HelmVersion,
        wait_seconds: int,
        rollback_on_failure: bool = False,
    ) -> list[str]:
        """``helm upgrade --install`` with a bounded wait whose flags suit ``version`` (see install_flags)."""
        return self.argv(
            "upgrade", "--install", release, str(chart), "--namespace", namespace, "--create-namespace",
            *_values_args(values_files),
            *install_flags(version, wait_seconds=wait_seconds, rollback_on_failure=rollback_on_failure),
        )

    def status_argv(self, release: str, namespace: str) -> list[str]:
        return self.argv("status", release, "--namespace", namespace, "-o", "json")

    def status(self, release: str, namespace: str) -> dict[str, Any]:
        """``helm status -o json`` as a dict (``info.status``, ``info.last_deployed``...)."""
        result = self.runner.run(self.status_argv(release, namespace), timeout=60)
        try:
            data = json.loads(result.stdout)
        except ValueError:
            excerpt = result.stdout.strip()[:80]
            raise ToolError(f"`helm status {release}` did not return JSON: {excerpt!r}") from None
        return data if isinstance(data, dict) else {}

    def get_values_argv(self, release: str, namespace: str) -> list[str]:
        return self.argv("get", "values", release, "--namespace", namespace, "--all", "-o", "json")

    def get_values(self, release: str, namespace: str) -> dict[str, Any]:
        """The release's computed values (``helm get values --all -o json``)."""
        result = self.runner.run(self.get_values_argv(release, namespace), timeout=60)
        try:
            data = json.loads(result.stdout or "{}")
        except ValueError:
            raise ToolError(f"`helm get values {release}` did not return JSON") from None
        return data if isinstance(data, dict) else {}

    def dependency_build_argv(self, chart: PathLike, repos: RepoFiles | None = None) -> list[str]:
        """``helm dependency build CHART`` (needs no cluster), with a run-local repository config."""
        return [self.path, "dependency", "build", str(chart), *(repos.flags() if repos else [])]

    def repo_add_argv(self, name: str, url: str, repos: RepoFiles) -> list[str]:
        """``helm repo add NAME URL --force-update`` into the run-local repository config (no cluster)."""
        return [self.path, "repo", "add", name, url, "--force-update", *repos.flags()]


@dataclass(frozen=True)
class RepoFiles:
    """A repository config and cache of this project's own (``--repository-config``/``--repository-cache``,
    flags of helm 3 and helm 4), so the user's ``helm repo`` list is neither needed nor changed."""

    config: Path
    cache: Path

    @classmethod
    def under(cls, folder: Path) -> RepoFiles:
        return cls(folder / "repositories.yaml", folder / "repository-cache")

    def flags(self) -> list[str]:
        return ["--repository-config", str(self.config), "--repository-cache", str(self.cache)]


def install_flags(version: HelmVersion, *, wait_seconds: int, rollback_on_failure: bool = False) -> list[str]:
    """The wait/rollback flags of ``helm upgrade --install`` for helm 3 or helm 4.

    helm 4 waits with the kstatus ``watcher`` when given a bare ``--wait``, which also waits for custom
    resources (the Prometheus CR among them); ``--wait=legacy`` keeps helm 3's meaning (Deployments,
    StatefulSets, DaemonSets, Services, PVCs). The suite chooses ``legacy`` so that helm 3 and helm 4 wait
    for the same things; operator-created workloads are waited for by the suite's own readiness wait, which
    stops early on CrashLoopBackOff. ``--atomic`` was renamed ``--rollback-on-failure`` in helm 4.
    """
    flags = ["--wait=legacy" if version.major >= 4 else "--wait", "--timeout", f"{wait_seconds}s"]
    if rollback_on_failure:
        flags.append("--rollback-on-failure" if version.major >= 4 else "--atomic")
    return flags


def _values_args(values_files: Sequence[PathLike]) -> list[str]:
    args: list[str] = []
    for values in values_files:
        if not Path(values).is_file():
            raise UsageError(f"values file {values} does not exist: pass the path of an existing values file")
        args += ["--values", str(values)]
    return args
