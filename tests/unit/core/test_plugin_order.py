"""The order the plugin runs requirements in: grafana.ready_within_30s first, app.unchanged last."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from monitoring_conformance.cli import SUITE_DIR
from monitoring_conformance.plugin import RUN_FIRST, RUN_LAST

pytestmark = pytest.mark.unit


def collected_requirements(pytester: pytest.Pytester, tmp_path: Path, profile: str) -> list[str]:
    """The requirement id of every collected test, in run order (--collect-only opens no target)."""
    result = pytester.runpytest_inprocess(
        str(SUITE_DIR), "-p", "no:pytest-kind", "-p", "no:cacheprovider", "--collect-only", "-q",
        "--target", "urls", "--profile", profile, "--prometheus-url", "http://prometheus.test",
        "--report-dir", str(tmp_path),
    )  # fmt: skip
    assert result.ret == 0, result.stdout.str()
    ids = [m.group(1) for line in result.outlines if (m := re.search(r"\[([a-z_]+\.[a-z_0-9]+)[]/-]", line))]
    assert ids, result.stdout.str()
    return ids


def test_grafana_ready_runs_first_and_app_unchanged_last(pytester: pytest.Pytester, tmp_path: Path) -> None:
    order = collected_requirements(pytester, tmp_path, "kind")

    assert order[0] == "grafana.ready_within_30s"
    assert order.index("grafana.ready_within_30s") < order.index("dashboards.provisioned")
    assert order[-1] == "app.unchanged"
    # the others keep their collection order (a stable sort)
    middle = [rid for rid in dict.fromkeys(order) if rid not in RUN_FIRST + RUN_LAST]
    assert middle.index("dashboards.provisioned") < middle.index("dashboards.panels_have_data")
    assert middle.index("metrics.cpu") < middle.index("metrics.request_rate")


def test_profiles_without_grafana_keep_app_unchanged_last(pytester: pytest.Pytester, tmp_path: Path) -> None:
    order = collected_requirements(pytester, tmp_path, "host")

    assert order[-1] == "app.unchanged"
    assert "grafana.ready_within_30s" not in order
