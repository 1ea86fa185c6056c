"""The CPU and memory the kind scenario requests fit a small single-node cluster (1.5 CPU, 3 GiB)."""

from __future__ import annotations

import pytest

from monitoring_conformance.chartcheck.budget import MAX_CPU, MAX_MEMORY, requests_budget
from monitoring_conformance.chartcheck.findings import format_findings
from monitoring_conformance.chartcheck.quantities import parse_cpu, parse_memory
from monitoring_conformance.chartcheck.values import deep_merge
from tests.chart.support import KIND_SCENARIO, ScenarioValues, source_of

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
    assert cpu.message.startswith("CPU requests add up to 1610m, over the budget of 1500m:")
    assert memory.message.startswith("memory requests add up to 4096Mi, over the budget of 3072Mi:")
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
