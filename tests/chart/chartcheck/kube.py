"""Schema validation of built-in Kubernetes objects with kubernetes-validate (offline, bundled schemas).

Custom resources (ServiceMonitor, PrometheusRule, ...) have no bundled schema and are skipped; every object
of a built-in API group must validate in strict mode (no unknown fields) for each Kubernetes version.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import kubernetes_validate
import kubernetes_validate.utils
import yaml

from monitoring_conformance.errors import UsageError
from monitoring_conformance.tools.helm_offline import Manifest
from tests.chart.chartcheck.findings import Finding

#: The Kubernetes minor versions the chart supports (and CI validates against).
KUBE_VERSIONS = ("1.33", "1.34", "1.35", "1.36")


def is_builtin(api_version: str) -> bool:
    """True for the core group and built-in groups: ``v1``, ``apps/v1``, ``rbac.authorization.k8s.io/v1``."""
    if "/" not in api_version:
        return True
    group = api_version.split("/", 1)[0]
    return "." not in group or group.endswith(".k8s.io")


def supported_versions() -> list[str]:
    """The Kubernetes minor versions kubernetes-validate has schemas for, e.g. ``["1.25", ..., "1.37"]``."""
    found = {kubernetes_validate.utils.major_minor(str(v)) for v in kubernetes_validate.utils.all_versions()}
    return sorted(found, key=lambda v: tuple(int(p) for p in v.split(".")))


def validate_object(obj: dict[str, Any], version: str) -> str | None:
    """None when ``obj`` validates strictly against ``version``; else the reason, one line."""
    try:
        used = kubernetes_validate.validate(obj, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(str(p) for p in exc.path) or "<root>"
        return f"{path}: {exc.message}"
    except kubernetes_validate.SchemaNotFoundError as exc:
        return f"no schema for {exc.kind} {exc.api_version} in Kubernetes {exc.version} (API removed? typo?)"
    except kubernetes_validate.utils.VersionNotSupportedError as exc:
        raise UsageError(
            f"kubernetes-validate {kubernetes_validate.version.__version__} has no schemas for Kubernetes "
            f"{exc.version}: upgrade it (constraints.txt) or drop that version"
        ) from exc
    if used != version:
        raise UsageError(
            f"kubernetes-validate {kubernetes_validate.version.__version__} validated against {used} "
            f"instead of {version} (no bundled schema): upgrade it (constraints.txt) or drop that version"
        )
    return None


def check_objects(manifests: Iterable[Manifest], versions: Sequence[str] = KUBE_VERSIONS) -> list[Finding]:
    """A finding for each built-in object that fails strict validation, per version (merged when equal)."""
    findings: list[Finding] = []
    for manifest in manifests:
        api_version = str(manifest.obj.get("apiVersion", ""))
        if not api_version or not manifest.kind:
            findings.append(Finding(manifest.source, manifest.describe(), "has no apiVersion/kind"))
            continue
        if not is_builtin(api_version):
            continue
        failures: dict[str, list[str]] = {}
        for version in versions:
            reason = validate_object(manifest.obj, version)
            if reason is not None:
                failures.setdefault(reason, []).append(version)
        for reason, failed in failures.items():
            findings.append(
                Finding(
                    manifest.source,
                    manifest.describe(),
                    f"invalid for Kubernetes {', '.join(failed)}: {reason}",
                )
            )
    return findings


def load_manifest_dir(directory: Path) -> list[Manifest]:
    """Every object of every ``*.yaml``/``*.yml`` file in ``directory`` (sorted), with the file as source."""
    if not directory.is_dir():
        raise UsageError(f"manifest folder {directory} does not exist; check the path")
    manifests: list[Manifest] = []
    for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        try:
            documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        except yaml.YAMLError as exc:
            raise UsageError(f"{path}: invalid YAML: {str(exc).splitlines()[0]}") from exc
        for obj in documents:
            if obj is None:
                continue
            if not isinstance(obj, dict):
                raise UsageError(f"{path}: holds a {type(obj).__name__}, expected Kubernetes objects")
            manifests.append(Manifest(str(path), obj))
    return manifests
