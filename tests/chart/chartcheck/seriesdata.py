"""The chart tier's input series are tied to the recorded API payloads of fixtures/payloads.

The series that promtool evaluates the dashboards over are hand-written; the recorded Prometheus answers
are what the suite's doubles serve. Where both know a metric family for the same scrape job, their label
names must agree, so the two cannot drift apart. Label names come from the payloads in two ways:
instant-query results that carry ``__name__``, and a scrape target's labels (``prometheus/targets.json``)
joined with the labels of each family in that target's exposition (``app/metrics.txt`` is the Todo
backend's ``/metrics``). Every series of a job also carries at least that job's target labels.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from monitoring_conformance.errors import UsageError
from tests.chart.chartcheck.findings import Finding
from tests.chart.chartcheck.promql import SeriesFile
from tests.chart.chartcheck.vectors import series_labels

#: The scrape job whose ``/metrics`` the recorded exposition ``app/metrics.txt`` is.
APP_JOB = "todo-backend"


@dataclass
class PayloadLabels:
    """Label names the payloads show: per (family, job) exactly, and per job at least."""

    families: dict[tuple[str, str], tuple[frozenset[str], str]] = field(default_factory=dict)
    targets: dict[str, tuple[frozenset[str], str]] = field(default_factory=dict)


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: not a readable JSON payload ({exc})") from exc


def payload_labels(payloads: Path) -> PayloadLabels:
    """What ``fixtures/payloads`` (its prometheus/ and app/ folders) says about label names."""
    found = PayloadLabels()
    for path in sorted((payloads / "prometheus").glob("*.json")):
        data = _read_json(path)
        body = data.get("data") if isinstance(data, dict) else None
        for result in body.get("result") or [] if isinstance(body, dict) else []:
            metric = result.get("metric") if isinstance(result, dict) else None
            if isinstance(metric, dict) and "__name__" in metric:
                key = (str(metric["__name__"]), str(metric.get("job", "")))
                found.families[key] = (frozenset(metric), path.name)
        for target in body.get("activeTargets") or [] if isinstance(body, dict) else []:
            labels = target.get("labels") if isinstance(target, dict) else None
            if isinstance(labels, dict) and labels.get("job"):
                found.targets[str(labels["job"])] = (frozenset(labels), path.name)
    exposition = payloads / "app" / "metrics.txt"
    if APP_JOB in found.targets and exposition.is_file():
        target, target_file = found.targets[APP_JOB]
        for line in exposition.read_text(encoding="utf-8").splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            labels = series_labels(line.rsplit(None, 1)[0])
            key = (labels["__name__"], APP_JOB)
            found.families[key] = (target | frozenset(labels), f"{target_file} + app/metrics.txt")
    return found


def check_series_labels(series: SeriesFile, payloads: PayloadLabels) -> list[Finding]:
    """A finding per input series whose label names disagree with the payloads for its family and job."""
    findings: list[Finding] = []
    compared = 0
    for index, entry in enumerate(series.input_series):
        labels: Mapping[str, str] = series_labels(str(entry["series"]))
        name, job = labels.get("__name__", ""), labels.get("job", "")
        where = f"input_series[{index}] {name}{{job={job!r}}}"
        names = frozenset(labels)
        if (name, job) in payloads.families:
            expected, origin = payloads.families[name, job]
            compared += 1
            if names != expected:
                findings.append(
                    Finding(
                        str(series.path),
                        where,
                        f"label names differ from fixtures/payloads ({origin}): "
                        f"missing {sorted(expected - names)}, extra {sorted(names - expected)}",
                    )
                )
        if job in payloads.targets:
            target, origin = payloads.targets[job]
            if not target <= names:
                findings.append(
                    Finding(
                        str(series.path),
                        where,
                        f"lacks the target labels {sorted(target - names)} that every series of job "
                        f"{job!r} carries (fixtures/payloads/{origin})",
                    )
                )
    if not compared:
        findings.append(
            Finding(
                str(series.path), "input_series", "no series shares a metric family and job with the payloads"
            )
        )
    return findings
