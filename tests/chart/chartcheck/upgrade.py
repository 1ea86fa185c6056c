"""Which scenario switches on an installed release break the Loki StatefulSet, and does the README say so.

Kubernetes refuses to change most of a StatefulSet's spec after creation (only replicas, the pod template,
the update strategy, minReadySeconds and the PVC retention policy may change). The loki chart builds its
StatefulSet's ``volumeClaimTemplates`` (or an emptyDir instead) and ``podManagementPolicy`` from the
values below, so ``helm upgrade`` from one scenario to another whose values differ there fails with
"spec: Forbidden". The chart README lists each such pair under HEADING; this module computes the pairs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from itertools import combinations
from typing import Any

from tests.chart.chartcheck.findings import Finding
from tests.chart.chartcheck.markdown import section_lines
from tests.chart.chartcheck.values import lookup

TITLE = "Switching scenarios on an installed release"
HEADING = f"## {TITLE}"
LOKI_STATEFULSET = "loki.singleBinary"
#: Keys under LOKI_STATEFULSET that end up in immutable StatefulSet fields, with the loki chart's defaults.
#: The persistence details only count while persistence is on (otherwise the chart mounts an emptyDir).
SHAPE: dict[str, Any] = {"persistence.enabled": True, "podManagementPolicy": "Parallel"}
VOLUME_SHAPE: dict[str, Any] = {
    "persistence.accessModes": ["ReadWriteOnce"],
    "persistence.size": "10Gi",
    "persistence.storageClass": None,
    "persistence.selector": None,
    "persistence.annotations": {},
    "persistence.labels": {},
}
_ROW = re.compile(r"^\|\s*`([^`]+)`\s*(?:↔|<->)\s*`([^`]+)`\s*\|([^|]*)\|")


def statefulset_shape(values: Mapping[str, Any]) -> dict[str, Any]:
    """The values that shape the Loki StatefulSet's immutable fields (empty when Loki is off)."""
    if lookup(values, "loki.enabled", True) is False:
        return {}
    keys = dict(SHAPE)
    if lookup(values, f"{LOKI_STATEFULSET}.persistence.enabled", True) is not False:
        keys.update(VOLUME_SHAPE)
    return {key: lookup(values, f"{LOKI_STATEFULSET}.{key}", default) for key, default in keys.items()}


def breaking_switches(scenarios: Mapping[str, Mapping[str, Any]]) -> dict[frozenset[str], set[str]]:
    """{the two scenarios: the keys whose values differ} for each pair whose Loki StatefulSets differ."""
    shapes = {name: statefulset_shape(values) for name, values in scenarios.items()}
    found: dict[frozenset[str], set[str]] = {}
    for a, b in combinations(shapes, 2):
        if not shapes[a] or not shapes[b]:
            continue  # no Loki on one side: nothing to update
        differing = {k for k in shapes[a].keys() & shapes[b].keys() if shapes[a][k] != shapes[b][k]}
        if differing:
            found[frozenset((a, b))] = differing
    return found


def documented_switches(readme: str) -> dict[frozenset[str], set[str]]:
    """The pairs (and backticked keys) the README's table under HEADING lists."""
    rows: dict[frozenset[str], set[str]] = {}
    for line in section_lines(readme, TITLE):
        match = _ROW.match(line)
        if match:
            keys = set(re.findall(r"`([^`]+)`", match.group(3)))
            rows[frozenset((match.group(1), match.group(2)))] = keys
    return rows


def check_upgrade_notes(
    readme: str, scenarios: Mapping[str, Mapping[str, Any]], source: str
) -> list[Finding]:
    """A finding for each breaking pair the README leaves out or describes wrongly, and each stale row."""
    computed = breaking_switches(scenarios)
    written = documented_switches(readme)
    findings: list[Finding] = []
    for pair, keys in computed.items():
        a, b = sorted(pair)
        shown = ", ".join(f"{LOKI_STATEFULSET}.{k}" for k in sorted(keys))
        if pair not in written:
            findings.append(
                Finding(
                    source,
                    HEADING,
                    f"has no row for `{a}` ↔ `{b}`, whose Loki StatefulSets differ in {shown}",
                )
            )
        elif written[pair] != {f"{LOKI_STATEFULSET}.{k}" for k in keys}:
            findings.append(
                Finding(
                    source,
                    f"{HEADING} `{a}` ↔ `{b}`",
                    f"names {sorted(written[pair])}; they differ in {shown}",
                )
            )
    for pair in written.keys() - computed.keys():
        a, b = sorted(pair)
        findings.append(
            Finding(
                source, f"{HEADING} `{a}` ↔ `{b}`", "their Loki StatefulSets no longer differ: drop the row"
            )
        )
    return findings
