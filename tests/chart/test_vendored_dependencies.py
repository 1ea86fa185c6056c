"""Real helm agrees with the offline-install rule (monitoring_conformance.vendored), with no network at all.

Archives that match Chart.lock are ``ok`` for `helm dependency list` and render with `helm template`
(offline); one with another version is not, and then the rule sends the install down the network route.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from monitoring_conformance.tools.helm import Helm
from monitoring_conformance.vendored import missing_reason
from tests.unit.kind.test_vendored_charts import chart, write_archive  # noqa: F401 - the fixture

pytestmark = pytest.mark.chart


def dependency_status(helm: Helm, folder: Path) -> dict[str, str]:
    """``{name: STATUS}`` from `helm dependency list` (columns NAME VERSION REPOSITORY STATUS)."""
    out = helm.runner.run([helm.path, "dependency", "list", str(folder)], timeout=60).stdout
    rows = [line.split() for line in out.splitlines()[1:] if line.strip()]
    return {row[0]: " ".join(row[3:]) for row in rows}


def test_matching_archives_are_ok_for_helm_and_render_offline(helm: Helm, chart: Path) -> None:  # noqa: F811
    assert missing_reason(chart) is None
    assert dependency_status(helm, chart) == {"kube-prometheus-stack": "ok", "loki": "ok", "alloy": "ok"}
    rendered = helm.runner.run([helm.path, "template", "t", str(chart)], timeout=60, check=False)
    assert rendered.returncode == 0, rendered.stderr


def test_an_archive_of_another_version_is_not_ok_for_helm_either(helm: Helm, chart: Path) -> None:  # noqa: F811
    write_archive(chart / "charts" / "loki-18.11.0.tgz", "loki", "18.10.0")
    assert missing_reason(chart) is not None
    assert dependency_status(helm, chart)["loki"] != "ok"
