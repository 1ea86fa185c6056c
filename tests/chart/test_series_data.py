"""tests/chart/data/kps-series.yaml agrees with the recorded payloads in fixtures/payloads."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.chart.chartcheck.findings import format_findings
from tests.chart.chartcheck.promql import SeriesFile, load_series
from tests.chart.chartcheck.seriesdata import check_series_labels, payload_labels
from tests.chart.support import ROOT, SERIES

pytestmark = pytest.mark.chart

PAYLOADS = ROOT / "fixtures" / "payloads"


def test_the_payloads_know_the_todo_backend_families() -> None:
    labels = payload_labels(PAYLOADS)
    assert {("up", "todo-backend"), ("http_requests_total", "todo-backend")} <= set(labels.families)
    names, origin = labels.families["http_requests_total", "todo-backend"]
    assert {"handler", "method", "status", "namespace", "pod", "service"} <= names
    assert origin == "targets.json + app/metrics.txt"


def test_input_series_label_names_match_the_payloads(kps_series: SeriesFile) -> None:
    findings = check_series_labels(kps_series, payload_labels(PAYLOADS))
    assert not findings, format_findings(findings)


def test_a_series_with_a_renamed_label_is_reported(tmp_path: Path) -> None:
    data = yaml.safe_load(SERIES.read_text())
    index, entry = next(
        (i, e) for i, e in enumerate(data["input_series"]) if e["series"].startswith("http_requests_total{")
    )
    entry["series"] = entry["series"].replace("status=", "code=")
    broken = tmp_path / "kps-series.yaml"
    broken.write_text(yaml.safe_dump(data))
    (finding,) = check_series_labels(load_series(broken), payload_labels(PAYLOADS))
    assert finding.file == str(broken)
    assert finding.where == f"input_series[{index}] http_requests_total{{job='todo-backend'}}"
    assert finding.message == (
        "label names differ from fixtures/payloads (targets.json + app/metrics.txt): "
        "missing ['status'], extra ['code']"
    )


def test_a_series_without_its_target_labels_is_reported(tmp_path: Path) -> None:
    broken = tmp_path / "kps-series.yaml"
    broken.write_text(yaml.safe_dump({"interval": "15s", "input_series": [
        {"series": 'container_cpu_usage_seconds_total{job="kubelet", namespace="todo", pod="p"}',
         "values": "0+1x10"},
        {"series": 'up{job="todo-backend", namespace="todo", service="todo-backend", endpoint="http", '
                   'pod="p", container="c", instance="10.0.0.1:8000"}', "values": "1x10"},
    ]}))  # fmt: skip
    (finding,) = check_series_labels(load_series(broken), payload_labels(PAYLOADS))
    assert finding.where == "input_series[0] container_cpu_usage_seconds_total{job='kubelet'}"
    assert finding.message == (
        "lacks the target labels ['endpoint', 'instance', 'metrics_path', 'node', 'service'] that every "
        "series of job 'kubelet' carries (fixtures/payloads/targets.json)"
    )
