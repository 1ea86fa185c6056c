"""Rendering charts/monitoring offline with ``helm template``.

``helm template`` refuses a chart whose dependencies are missing from ``charts/``, even when their
``condition`` is false. :func:`offline_copy` therefore makes a temporary copy of the chart in which each
dependency is a stand-in folder holding only a ``Chart.yaml`` at the pinned version: helm is satisfied, and
what renders is exactly the umbrella's own templates. The local stack renders its alert rules this way, and
the chart tier (tests/chart/chartcheck) every scenario.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from monitoring_conformance.errors import UsageError
from monitoring_conformance.tools.helm import Helm

#: CRD API versions the umbrella's templates may gate on (``.Capabilities.APIVersions.Has``). A real
#: install has them (kube-prometheus-stack ships the CRDs), so the offline render claims them too.
DEFAULT_API_VERSIONS = (
    "monitoring.coreos.com/v1",
    "monitoring.coreos.com/v1/ServiceMonitor",
    "monitoring.coreos.com/v1/PodMonitor",
    "monitoring.coreos.com/v1/PrometheusRule",
)
DEFAULT_RELEASE = "monitoring"
DEFAULT_NAMESPACE = "monitoring"

_EXACT_SEMVER = re.compile(r"^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]+)?$")
_SOURCE = re.compile(r"^# Source: (.+)$", re.MULTILINE)
_SEPARATOR = re.compile(r"^---\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Dependency:
    """One entry of ``dependencies:`` in Chart.yaml."""

    name: str
    version: str
    repository: str = ""
    condition: str = ""
    alias: str = ""

    @property
    def key(self) -> str:
        """The values key of the subchart."""
        return self.alias or self.name


@dataclass(frozen=True)
class Manifest:
    """One rendered object and the template it came from (``monitoring/templates/x.yaml``)."""

    source: str
    obj: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind", ""))

    @property
    def name(self) -> str:
        metadata = self.obj.get("metadata") or {}
        return str(metadata.get("name", "")) if isinstance(metadata, dict) else ""

    def describe(self) -> str:
        return f"{self.kind}/{self.name} from {self.source}"


def chart_metadata(chart_dir: Path) -> dict[str, Any]:
    path = chart_dir / "Chart.yaml"
    if not path.is_file():
        raise UsageError(f"{chart_dir} is not a chart: {path} is missing")
    data = load_yaml(path)
    if not isinstance(data, dict) or "name" not in data:
        raise UsageError(f"{path}: not a Chart.yaml (needs at least `name:`)")
    return data


def dependencies(chart_dir: Path) -> list[Dependency]:
    """The dependencies Chart.yaml declares; a UsageError when an entry is incomplete."""
    path = chart_dir / "Chart.yaml"
    found: list[Dependency] = []
    for index, entry in enumerate(chart_metadata(chart_dir).get("dependencies") or []):
        if not isinstance(entry, dict) or not entry.get("name") or not entry.get("version"):
            raise UsageError(f"{path}: dependencies[{index}] needs `name` and `version`")
        found.append(
            Dependency(
                name=str(entry["name"]),
                version=str(entry["version"]),
                repository=str(entry.get("repository") or ""),
                condition=str(entry.get("condition") or ""),
                alias=str(entry.get("alias") or ""),
            )
        )
    return found


def load_yaml(path: Path) -> Any:
    """Parse one YAML document; a UsageError naming the file, line and fault when it does not parse."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}; check the path") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UsageError(f"{path}: invalid YAML{where}: {problem}; fix the file") from exc


def offline_copy(chart_dir: Path, tmp: Path) -> Path:
    """Copy the chart into ``tmp`` with a stand-in folder (only a Chart.yaml) per dependency.

    Returns the copy's path. Fetched archives (``charts/*.tgz``) and real dependency folders are left out of
    the copy; vendored subcharts that are no dependency are kept.
    """
    deps = dependencies(chart_dir)
    for dep in deps:
        if not _EXACT_SEMVER.match(dep.version):
            raise UsageError(
                f"{chart_dir / 'Chart.yaml'}: dependency {dep.name} has version {dep.version!r}; "
                "pin an exact version (e.g. 88.5.3)"
            )
    names = {dep.name for dep in deps}
    target = tmp / chart_dir.name
    shutil.copytree(chart_dir, target, ignore=_skip_fetched(chart_dir / "charts", names))
    for dep in deps:
        folder = target / "charts" / dep.name
        folder.mkdir(parents=True, exist_ok=True)
        stand_in = {
            "apiVersion": "v2",
            "name": dep.name,
            "version": dep.version,
            "description": "Offline stand-in: renders nothing, so that helm accepts the umbrella chart.",
        }
        (folder / "Chart.yaml").write_text(yaml.safe_dump(stand_in, sort_keys=False), encoding="utf-8")
    return target


def _skip_fetched(charts_dir: Path, names: set[str]) -> Any:
    def ignore(directory: str, entries: list[str]) -> list[str]:
        if Path(directory) != charts_dir:
            return []
        return [
            entry
            for entry in entries
            if entry.endswith(".tgz")
            or ((charts_dir / entry).is_dir() and _chart_name(charts_dir / entry) in names)
        ]

    return ignore


def _chart_name(folder: Path) -> str:
    try:
        data = yaml.safe_load((folder / "Chart.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return ""
    return str(data.get("name", "")) if isinstance(data, dict) else ""


def parse_manifests(text: str) -> list[Manifest]:
    """Split ``helm template`` output into objects, keeping each one's ``# Source:`` template."""
    manifests: list[Manifest] = []
    for chunk in _SEPARATOR.split(text):
        source_match = _SOURCE.search(chunk)
        source = source_match.group(1).strip() if source_match else "<unknown template>"
        for obj in yaml.safe_load_all(chunk):
            if obj is None:
                continue
            if not isinstance(obj, dict):
                raise UsageError(f"{source}: rendered a {type(obj).__name__}, expected a Kubernetes object")
            manifests.append(Manifest(source, obj))
    return manifests


def render_manifests(
    helm: Helm,
    chart: Path,
    values_files: Sequence[Path] = (),
    *,
    release: str = DEFAULT_RELEASE,
    namespace: str = DEFAULT_NAMESPACE,
    kube_version: str | None = None,
    api_versions: Sequence[str] = DEFAULT_API_VERSIONS,
) -> list[Manifest]:
    """``helm template`` of an (offline) chart copy, parsed into manifests."""
    text = helm.template(
        chart,
        release=release,
        namespace=namespace,
        values_files=values_files,
        kube_version=kube_version,
        api_versions=api_versions,
    )
    return parse_manifests(text)
