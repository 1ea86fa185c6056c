"""The log pipeline: is the Alloy config well-formed, and which stream do the Todo backend's logs land in?

The stream is derived, not assumed: the Todo backend pod's discovery labels go through the config's own
relabel rules (:mod:`tests.chart.chartcheck.relabel`). The logs panels must then select it.
Offline the Alloy syntax is only checked structurally (brackets, blocks, references); Alloy itself would
be needed to know that it accepts every expression.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from monitoring_conformance.tools.helm_offline import Manifest
from tests.chart.chartcheck.alloy import (
    AlloyConfig,
    AlloySyntaxError,
    check_brackets,
    check_structure,
    parse,
)
from tests.chart.chartcheck.findings import Finding
from tests.chart.chartcheck.relabel import RelabelError, log_streams, pod_targets, sanitize
from tests.chart.chartcheck.values import lookup
from tests.chart.chartcheck.wiring import ALLOY_CONFIG_KEY, alloy_config, fill_release

#: The stream labels the dashboards and the conformance suite rely on.
REQUIRED_STREAM_LABELS = ("namespace", "pod", "container", "app")
#: The pod label the ``app`` stream label comes from.
APP_POD_LABEL = "app.kubernetes.io/name"


@dataclass
class Pipeline:
    """What the Alloy config turned out to be: its blocks (None when unreadable) and the problems found."""

    config: AlloyConfig | None = None
    findings: list[Finding] = field(default_factory=list)


def read_alloy(values: Mapping[str, Any], source: str, *, release: str, namespace: str) -> Pipeline:
    """Brackets balanced, blocks readable, references declared, forward_to lists, node filter on HOSTNAME."""
    pipeline = Pipeline()
    text = alloy_config(values)
    if not text.strip():
        pipeline.findings.append(Finding(source, ALLOY_CONFIG_KEY, "is empty: Alloy would ship no logs"))
        return pipeline
    try:
        text = fill_release(text, release=release, namespace=namespace)
    except ValueError as exc:
        pipeline.findings.append(Finding(source, ALLOY_CONFIG_KEY, str(exc)))
        return pipeline
    problems = check_brackets(text)
    if problems:
        pipeline.findings += [Finding(source, ALLOY_CONFIG_KEY, p) for p in problems]
        return pipeline
    try:
        pipeline.config = parse(text)
    except AlloySyntaxError as exc:
        pipeline.findings.append(Finding(source, ALLOY_CONFIG_KEY, f"cannot read the Alloy config: {exc}"))
        return pipeline
    daemonset = str(lookup(values, "alloy.controller.type", "daemonset")).lower() == "daemonset"
    pipeline.findings += [
        Finding(source, ALLOY_CONFIG_KEY, p) for p in check_structure(pipeline.config, daemonset=daemonset)
    ]
    return pipeline


def todo_stream(
    pipeline: Pipeline, app_manifests: Sequence[Manifest], source: str, *, deployment: str = "todo-backend"
) -> tuple[dict[str, str] | None, list[Finding]]:
    """The Todo backend's stream labels, and a finding for each required label that is missing or wrong."""
    if pipeline.config is None:
        return None, []
    try:
        targets = pod_targets(app_manifests, deployment)
        streams = log_streams(pipeline.config, targets)
    except RelabelError as exc:
        return None, [Finding(source, ALLOY_CONFIG_KEY, str(exc))]
    if not streams:
        return None, [
            Finding(source, ALLOY_CONFIG_KEY, f"the relabel rules drop every target of the {deployment} pod")
        ]
    target = targets[0]
    expected = {
        "namespace": target["__meta_kubernetes_namespace"],
        "pod": target["__meta_kubernetes_pod_name"],
        "container": target["__meta_kubernetes_pod_container_name"],
        "app": target.get(f"__meta_kubernetes_pod_label_{sanitize(APP_POD_LABEL)}", ""),
    }
    findings: list[Finding] = []
    stream = streams[0]
    for label in REQUIRED_STREAM_LABELS:
        if stream.get(label) != expected[label]:
            actual = f"{label}={stream[label]!r}" if label in stream else f"no {label} label"
            findings.append(
                Finding(
                    source,
                    ALLOY_CONFIG_KEY,
                    f"the {deployment} pod's logs get {actual}, expected {label}={expected[label]!r} "
                    f"(stream {stream}; check the discovery.relabel rule that sets {label!r})",
                )
            )
    return stream, findings
