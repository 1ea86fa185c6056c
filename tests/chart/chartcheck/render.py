"""The chart tier's renders beyond the runtime's offline ``helm template``
(:mod:`monitoring_conformance.tools.helm_offline`): subchart conditions and the install notes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from monitoring_conformance.errors import ToolError
from monitoring_conformance.tools.helm import Helm
from monitoring_conformance.tools.helm_offline import DEFAULT_NAMESPACE, DEFAULT_RELEASE, dependencies


def subchart_conditions(chart_dir: Path) -> dict[str, str]:
    """Subchart values key -> its Chart.yaml ``condition``, for each dependency that has one."""
    return {dep.key: dep.condition for dep in dependencies(chart_dir) if dep.condition}


def render_notes(
    helm: Helm,
    chart: Path,
    values_files: Sequence[Path] = (),
    *,
    release: str = DEFAULT_RELEASE,
    namespace: str = DEFAULT_NAMESPACE,
    timeout: float = 60.0,
) -> str:
    """templates/NOTES.txt as ``helm install`` would print it.

    ``helm template`` never renders the notes; ``helm install --dry-run=client`` does, without a cluster.
    """
    stdout = helm.install_dry_run(
        chart, release=release, namespace=namespace, values_files=values_files, timeout=timeout
    )
    try:
        notes = json.loads(stdout)["info"]["notes"]
    except (ValueError, KeyError, TypeError):
        raise ToolError(
            f"`helm install {release} {chart} --dry-run=client --output json` printed no release with notes:"
            f" {stdout.strip()[:120]!r}"
        ) from None
    return str(notes)
