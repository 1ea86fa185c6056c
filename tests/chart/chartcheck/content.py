"""What the templates render equals the data files they are built from.

A dashboard ConfigMap must carry ``dashboards/<file>`` unchanged (compared as parsed JSON), and the
PrometheusRule's ``spec.groups`` must be the groups of ``rules/*.yaml``, in file-name order (the order
``.Files.Glob`` gives). A template that writes ``{}`` or drops the groups still renders valid objects; only
this comparison notices.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from monitoring_conformance.dashboards import dashboard_files, load_dashboard
from monitoring_conformance.tools.helm_offline import Manifest, load_yaml
from tests.chart.chartcheck.findings import Finding


def _first_difference(expected: Any, actual: Any, path: str = "") -> str:
    """Where two JSON values first differ, e.g. ``panels[3].targets[0].expr``."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in sorted(set(expected) | set(actual), key=str):
            where = f"{path}.{key}" if path else str(key)
            if key not in actual:
                return f"{where} is missing"
            if key not in expected:
                return f"{where} is extra"
            if expected[key] != actual[key]:
                return _first_difference(expected[key], actual[key], where)
    if isinstance(expected, list) and isinstance(actual, list):
        for index, (a, b) in enumerate(zip(expected, actual, strict=False)):
            if a != b:
                return _first_difference(a, b, f"{path}[{index}]")
        if len(expected) != len(actual):
            return f"{path or 'the list'} has {len(actual)} entries instead of {len(expected)}"
    return f"{path or 'the document'} is {json.dumps(actual)[:80]} instead of {json.dumps(expected)[:80]}"


def check_dashboard_content(manifests: Sequence[Manifest], dashboards_dir: Path) -> list[Finding]:
    """Each ConfigMap entry named after a dashboard file holds that file's JSON, unchanged."""
    findings: list[Finding] = []
    sources = {path.name: path for path in dashboard_files(dashboards_dir)}
    for manifest in manifests:
        if manifest.kind != "ConfigMap":
            continue
        for key, text in (manifest.obj.get("data") or {}).items():
            path = sources.get(str(key))
            if path is None:
                continue
            expected = load_dashboard(path).data
            try:
                actual = json.loads(str(text))
            except json.JSONDecodeError as exc:
                findings.append(
                    Finding(
                        manifest.source,
                        f"{manifest.describe()} data[{key}]",
                        f"is not JSON ({exc.msg} at line {exc.lineno}); expected the content of {path}",
                    )
                )
                continue
            if actual != expected:
                findings.append(
                    Finding(
                        manifest.source,
                        f"{manifest.describe()} data[{key}]",
                        f"differs from {path}: {_first_difference(expected, actual)}",
                    )
                )
    return findings


def source_groups(rule_files: Sequence[Path]) -> list[Any]:
    """The rule groups of ``rule_files``, concatenated in the order given."""
    groups: list[Any] = []
    for path in rule_files:
        data = load_yaml(path)
        groups += list(data.get("groups") or []) if isinstance(data, dict) else []
    return groups


def check_rule_content(manifests: Sequence[Manifest], rule_files: Sequence[Path]) -> list[Finding]:
    """The rendered PrometheusRules' ``spec.groups`` are exactly the groups of ``rule_files``."""
    rules = [m for m in manifests if m.kind == "PrometheusRule"]
    expected = source_groups(sorted(rule_files, key=lambda p: p.name))
    names = ", ".join(p.name for p in rule_files)
    if not rules:
        return [
            Finding(
                "templates/prometheus.yaml", "PrometheusRule", f"not rendered; expected the groups of {names}"
            )
        ]
    actual: list[Any] = []
    for rule in rules:
        actual += list(((rule.obj.get("spec") or {}).get("groups")) or [])
    if actual == expected:
        return []
    where = ", ".join(sorted({r.describe() for r in rules}))
    expected_names = [g.get("name") for g in expected if isinstance(g, dict)]
    actual_names = [g.get("name") for g in actual if isinstance(g, dict)]
    if expected_names != actual_names:
        detail = f"groups {actual_names}, expected {expected_names}"
    else:
        detail = _first_difference(expected, actual, "groups")
    return [Finding(rules[0].source, where, f"spec.groups differ from {names}: {detail}")]
