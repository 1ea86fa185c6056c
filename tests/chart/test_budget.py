"""The CPU and memory the kind scenario requests fit a small single-node cluster (1.5 CPU, 3 GiB)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tests.chart.chartcheck.budget import (
    MAX_CPU,
    MAX_MEMORY,
    Budget,
    parse_cpu,
    parse_memory,
    requests_budget,
)
from tests.chart.chartcheck.containers import enabled_containers, missing_requests, unknown_blocks
from tests.chart.chartcheck.findings import format_findings
from tests.chart.chartcheck.footprint import check_footprint
from tests.chart.chartcheck.values import Values, deep_merge, merged_values
from tests.chart.support import CHART, KIND_SCENARIO, ROOT, SCENARIOS, ScenarioValues, source_of

pytestmark = pytest.mark.chart


@pytest.mark.parametrize(
    ("text", "cores"),
    [("100m", 0.1), ("0.5", 0.5), (0.25, 0.25), (2, 2.0), ("1500m", 1.5), ("250000u", 0.25), ("1e-1", 0.1)],
)
def test_parse_cpu(text: str | float, cores: float) -> None:
    assert parse_cpu(text) == pytest.approx(cores)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("256Mi", 256 * 2**20),
        ("1Gi", 2**30),
        ("500M", 500_000_000),
        ("128974848", 128974848),
        ("129e6", 129_000_000),
        ("1.5Gi", 3 * 2**29),
        ("64Ki", 65536),
        (1024, 1024),
    ],
)
def test_parse_memory(text: str | int, size: int) -> None:
    assert parse_memory(text) == size


@pytest.mark.parametrize("text", ["256MB", "lots", "1.2.3", "", "Mi", True])
def test_bad_quantities_are_rejected_naming_the_text(text: str | bool) -> None:
    with pytest.raises(ValueError, match=repr(text).replace("(", r"\(").replace(".", r"\.")):
        parse_memory(text)


def test_kind_requests_stay_within_budget(
    scenario_values: ScenarioValues, conditions: dict[str, str], request: pytest.FixtureRequest
) -> None:
    budget = requests_budget(scenario_values(KIND_SCENARIO), source_of(KIND_SCENARIO), conditions=conditions)
    # The terminal summary (conftest.py) prints the figure in every run; here it becomes JUnit properties
    # (user_properties directly: record_property warns under junit_family xunit2).
    request.node.user_properties.append(("requests_cpu_cores", round(budget.cpu, 3)))
    request.node.user_properties.append(("requests_memory_mib", round(budget.memory / 2**20)))
    assert budget.items, "the kind values set no resources.requests at all"
    assert not budget.findings, format_findings(budget.findings)
    assert budget.cpu <= MAX_CPU
    assert budget.memory <= MAX_MEMORY


def test_replicas_multiply_and_daemonsets_count_once(scenario_values: ScenarioValues) -> None:
    values = deep_merge(
        scenario_values(KIND_SCENARIO),
        {
            "loki": {"singleBinary": {"replicas": 3}},
            "alloy": {"controller": {"type": "daemonset", "replicas": 5}},
        },
    )
    items = {item.path: item.count for item in requests_budget(values, "v").items}
    assert items["loki.singleBinary.resources.requests"] == 3
    assert items["alloy.alloy.resources.requests"] == 1
    assert items["kube-prometheus-stack.grafana.sidecar.resources.requests"] == 2  # dashboards + datasources


def test_disabled_components_do_not_count(
    scenario_values: ScenarioValues, conditions: dict[str, str]
) -> None:
    values = deep_merge(
        scenario_values(KIND_SCENARIO),
        {"loki": {"enabled": False}, "kube-prometheus-stack": {"nodeExporter": {"enabled": False}}},
    )
    paths = {item.path for item in requests_budget(values, "v", conditions=conditions).items}
    assert not any(p.startswith(("loki.", "kube-prometheus-stack.prometheus-node-exporter.")) for p in paths)
    assert "alloy.alloy.resources.requests" in paths


def test_an_exceeded_budget_names_the_values_and_the_sum(
    scenario_values: ScenarioValues, conditions: dict[str, str]
) -> None:
    values = deep_merge(
        scenario_values(KIND_SCENARIO),
        {"kube-prometheus-stack": {"prometheus": {"prometheusSpec": {"resources": {"requests": {
            "cpu": "1.2", "memory": "3Gi"}}}}}},
    )  # fmt: skip
    budget = requests_budget(values, source_of(KIND_SCENARIO), conditions=conditions)
    cpu, memory = budget.findings
    assert cpu.file == memory.file == source_of(KIND_SCENARIO)
    assert cpu.message.startswith("CPU requests add up to 1620m, over the budget of 1500m:")
    assert memory.message.startswith("memory requests add up to 4128Mi, over the budget of 3072Mi:")
    assert (
        "kube-prometheus-stack.prometheus.prometheusSpec.resources.requests: 1 x (1200m, 3072Mi)"
        in memory.message
    )


def test_an_unreadable_quantity_is_reported_with_its_path(scenario_values: ScenarioValues) -> None:
    values = deep_merge(scenario_values(KIND_SCENARIO), {"loki": {"singleBinary": {"resources": {"requests": {
        "memory": "256MB"}}}}})  # fmt: skip
    (finding,) = requests_budget(values, "ci/kind-values.yaml").findings
    assert finding.where == "loki.singleBinary.resources.requests"
    assert "quantity '256MB' is not a Kubernetes quantity" in finding.message


# --- every container requests, and the README states each scenario's footprint ---------------------------

#: The scenarios whose footprint the chart README states: values.yaml alone and each ci/ file over it.
FOOTPRINT_SCENARIOS = ("values.yaml", *(f"ci/{name}" for name in SCENARIOS))
KIND = f"ci/{KIND_SCENARIO}"


def _values(chart: Path, scenario: str) -> Values:
    """values.yaml, with ``ci/<file>`` merged over it unless the scenario is values.yaml alone."""
    files = [] if scenario == "values.yaml" else [chart / scenario]
    return merged_values(chart, *files)


def _footprints(chart: Path, conditions: dict[str, str]) -> dict[str, Budget]:
    return {
        scenario: requests_budget(
            _values(chart, scenario), scenario, conditions=conditions, max_cpu=math.inf, max_memory=2**62
        )
        for scenario in FOOTPRINT_SCENARIOS
    }


@pytest.mark.parametrize("scenario", FOOTPRINT_SCENARIOS)
def test_every_started_container_requests_cpu_and_memory(scenario: str, conditions: dict[str, str]) -> None:
    values = _values(CHART, scenario)
    budget = requests_budget(values, scenario, conditions=conditions, max_cpu=math.inf, max_memory=2**62)
    findings = missing_requests(values, scenario) + unknown_blocks([i.path for i in budget.items], scenario)
    assert enabled_containers(values), "no container of the catalogue is enabled"
    assert not findings, format_findings(findings)


def test_the_readme_footprint_table_matches_the_computed_requests(
    conditions: dict[str, str], request: pytest.FixtureRequest
) -> None:
    footprints = _footprints(CHART, conditions)
    for scenario, budget in footprints.items():
        request.node.user_properties.append((f"requests_cpu_cores[{scenario}]", round(budget.cpu, 3)))
        request.node.user_properties.append(
            (f"requests_memory_mib[{scenario}]", round(budget.memory / 2**20))
        )
    findings = check_footprint((CHART / "README.md").read_text(), footprints, "charts/monitoring/README.md")
    findings += check_footprint((ROOT / "README.md").read_text(), footprints, "README.md")
    assert not findings, format_findings(findings)


def test_a_container_without_requests_is_reported(chart_copy: Path, conditions: dict[str, str]) -> None:
    values = chart_copy / "values.yaml"
    text = values.read_text()
    block = "  kube-state-metrics:\n    resources:\n      requests: {cpu: 50m, memory: 128Mi}\n"
    assert block in text
    values.write_text(text.replace(block, ""))
    (finding,) = missing_requests(_values(chart_copy, "values.yaml"), "values.yaml")
    assert finding.where == "kube-prometheus-stack.kube-state-metrics.resources.requests"
    assert finding.message.startswith(
        "container kube-state-metrics is started but requests no CPU and memory"
    )


def test_a_container_switched_off_needs_no_requests(chart_copy: Path) -> None:
    values = deep_merge(
        _values(chart_copy, KIND),
        {"loki": {"singleBinary": {"resources": None}, "sidecar": {"resources": None}}},
    )
    assert [f.where for f in missing_requests(values, "v")] == ["loki.singleBinary.resources.requests"]
    assert not missing_requests(deep_merge(values, {"loki": {"enabled": False}}), "v")


def test_requests_under_a_misspelt_key_are_reported(scenario_values: ScenarioValues) -> None:
    values = deep_merge(
        scenario_values(KIND_SCENARIO),
        {"kube-prometheus-stack": {"kubeStateMetrics": {"resources": {"requests": {"cpu": "10m"}}}}},
    )
    paths = [item.path for item in requests_budget(values, "v").items]
    (finding,) = unknown_blocks(paths, "v")
    assert finding.where == "kube-prometheus-stack.kubeStateMetrics.resources.requests"
    assert "no known container" in finding.message


def test_a_stale_readme_footprint_is_reported(chart_copy: Path, conditions: dict[str, str]) -> None:
    footprints = _footprints(chart_copy, conditions)
    values = chart_copy / "ci" / KIND_SCENARIO
    values.write_text(
        values.read_text().replace("requests: {cpu: 150m, memory: 512Mi}", "requests: {cpu: 1, memory: 1Gi}")
    )
    changed = _footprints(chart_copy, conditions)
    readme = (chart_copy / "README.md").read_text()
    assert not check_footprint(readme, footprints, "README.md")
    (finding,) = check_footprint(readme, changed, "README.md")
    assert finding.where == f"## Footprint `{KIND}`"
    assert "the values request 1420m, 2080Mi" in finding.message


def test_a_missing_or_extra_footprint_row_is_reported(conditions: dict[str, str]) -> None:
    footprints = _footprints(CHART, conditions)
    readme = (CHART / "README.md").read_text()
    footprint = readme[readme.index("## Footprint") :]
    kind_row = next(line for line in footprint.splitlines() if line.startswith(f"| `{KIND}`"))
    without = readme.replace(kind_row + "\n", "")
    (finding,) = check_footprint(without, footprints, "README.md")
    assert finding.message.startswith(f"has no row for `{KIND}`")
    extra = readme.replace(kind_row, kind_row + "\n| `ci/gone-values.yaml` | 1 | 1Mi |")
    (finding,) = check_footprint(extra, footprints, "README.md")
    assert finding.message == "is a row for no scenario the chart tier computes"


def test_the_config_reloader_counts_once_per_pod_that_has_one(scenario_values: ScenarioValues) -> None:
    values = deep_merge(
        scenario_values(KIND_SCENARIO), {"kube-prometheus-stack": {"alertmanager": {"enabled": False}}}
    )
    reloader = "kube-prometheus-stack.prometheusOperator.prometheusConfigReloader.resources.requests"
    count = {i.path: i.count for i in requests_budget(values, "v").items}[reloader]
    with_am = deep_merge(values, {"kube-prometheus-stack": {"alertmanager": {"enabled": True}}})
    assert {i.path: i.count for i in requests_budget(with_am, "v").items}[reloader] == count + 1


def test_a_request_without_memory_is_reported(scenario_values: ScenarioValues) -> None:
    values = deep_merge(
        scenario_values(KIND_SCENARIO), {"alloy": {"alloy": {"resources": {"requests": {"memory": None}}}}}
    )
    (finding,) = missing_requests(values, "v")
    assert finding.where == "alloy.alloy.resources.requests"
    assert finding.message.startswith("container alloy is started but requests no memory: set both")
