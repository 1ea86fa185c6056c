"""Scenario switches that break the Loki StatefulSet on `helm upgrade` are the ones the chart README lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chart.chartcheck.findings import format_findings
from tests.chart.chartcheck.upgrade import HEADING, breaking_switches, check_upgrade_notes
from tests.chart.chartcheck.values import Values, deep_merge, merged_values
from tests.chart.support import CHART, SCENARIOS

pytestmark = pytest.mark.chart

KIND = "ci/kind-values.yaml"
EXISTING = "ci/existing-cluster-values.yaml"


def _scenarios(chart: Path) -> dict[str, Values]:
    found = {"values.yaml": merged_values(chart)}
    found.update({f"ci/{name}": merged_values(chart, chart / "ci" / name) for name in SCENARIOS})
    return found


def test_the_readme_lists_every_switch_that_breaks_the_loki_statefulset() -> None:
    findings = check_upgrade_notes((CHART / "README.md").read_text(), _scenarios(CHART), "README.md")
    assert not findings, format_findings(findings)


def test_kind_and_existing_cluster_differ_in_lokis_volume() -> None:
    """The difference the main README's Troubleshooting entry is about."""
    switches = breaking_switches(_scenarios(CHART))
    assert switches[frozenset((KIND, EXISTING))] == {"persistence.enabled"}


def test_equal_volumes_break_nothing() -> None:
    scenarios = _scenarios(CHART)
    same = {
        name: deep_merge(values, {"loki": {"singleBinary": {"persistence": {"enabled": False}}}})
        for name, values in scenarios.items()
    }
    assert breaking_switches(same) == {}
    assert breaking_switches({**scenarios, KIND: deep_merge(scenarios[KIND], {"loki": {"enabled": False}})})


# --- negative cases ---------------------------------------------------------------------------------------


def test_a_new_difference_missing_from_the_readme_is_reported(chart_copy: Path) -> None:
    existing = chart_copy / EXISTING
    existing.write_text(
        existing.read_text().replace("      size: 20Gi\n", "      size: 20Gi\n      storageClass: fast\n", 1)
    )
    readme = (chart_copy / "README.md").read_text()
    (finding,) = check_upgrade_notes(readme, _scenarios(chart_copy), "README.md")
    assert finding.where == f"{HEADING} `{EXISTING}` ↔ `values.yaml`"
    assert finding.message == (
        "names ['loki.singleBinary.persistence.size']; they differ in "
        "loki.singleBinary.persistence.size, loki.singleBinary.persistence.storageClass"
    )


def test_a_missing_row_and_a_stale_row_are_reported(chart_copy: Path) -> None:
    readme = (chart_copy / "README.md").read_text()
    row = next(line for line in readme.splitlines() if line.startswith(f"| `{EXISTING}` ↔ `{KIND}`"))
    (missing,) = check_upgrade_notes(readme.replace(row + "\n", ""), _scenarios(chart_copy), "README.md")
    assert missing.message.startswith(
        f"has no row for `{EXISTING}` ↔ `{KIND}`, whose Loki StatefulSets differ"
    )

    kind = chart_copy / KIND
    off = "      enabled: false\n    resources:\n      requests: {cpu: 100m"
    assert kind.read_text().count(off) == 1
    kind.write_text(kind.read_text().replace(off, off.replace("false", "true")))
    changed, stale = check_upgrade_notes(readme, _scenarios(chart_copy), "README.md")
    assert changed.message == (
        "names ['loki.singleBinary.persistence.enabled']; they differ in loki.singleBinary.persistence.size"
    )
    assert stale.where == f"{HEADING} `{KIND}` ↔ `values.yaml`"
    assert stale.message == "their Loki StatefulSets no longer differ: drop the row"
