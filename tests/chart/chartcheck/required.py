"""Settings the stack needs, asserted on the merged values of each scenario, and no password in any file.

The expected settings are data (a mapping of dotted values path -> expected value, kept with the tests).
A missing key is reported with the places where a key of that name does occur, which catches a setting
put one level too high or too low in the double-nested subchart values (``loki.loki.auth_enabled``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import Any

from monitoring_conformance.errors import UsageError
from monitoring_conformance.tools.helm_offline import load_yaml
from tests.chart.chartcheck.findings import Finding
from tests.chart.chartcheck.values import load_values, lookup

_MISSING = object()
#: Keys that hold the *name* of a Secret key, not a secret.
_KEY_NAME = re.compile(r"(?i)(key|secret|existingsecret|secretname)$")
_PASSWORD_KEY = re.compile(r"(?i)passw(or)?d")
#: Defaults that upstream charts once shipped; they must not appear anywhere.
KNOWN_PASSWORDS = ("prom-operator", "admin123", "changeme")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def load_expectations(path: Path) -> dict[str, Any]:
    """``settings:`` of an expectations file: dotted values path -> expected value."""
    data = load_yaml(path)
    settings = data.get("settings") if isinstance(data, dict) else None
    if not isinstance(settings, dict) or not settings:
        raise UsageError(f"{path}: expected `settings:` as a mapping of dotted values path -> value")
    return {str(k): v for k, v in settings.items()}


def _paths(node: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            yield path, value
            yield from _paths(value, path)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, f"{prefix}[{index}]")


def _elsewhere(values: Mapping[str, Any], dotted: str) -> list[str]:
    name = dotted.rsplit(".", 1)[-1]
    return [path for path, _ in _paths(values) if path.rsplit(".", 1)[-1] == name and path != dotted]


def check_settings(values: Mapping[str, Any], expectations: Mapping[str, Any], source: str) -> list[Finding]:
    """A finding for every expected setting that the merged values lack or set differently."""
    findings: list[Finding] = []
    for dotted, expected in expectations.items():
        actual = lookup(values, dotted, _MISSING)
        if actual is _MISSING:
            elsewhere = _elsewhere(values, dotted)
            hint = f"; a key of that name is set at {', '.join(elsewhere)} instead" if elsewhere else ""
            findings.append(Finding(source, dotted, f"is not set, expected {expected!r}{hint}"))
        elif actual != expected or type(actual) is not type(expected):
            findings.append(Finding(source, dotted, f"is {actual!r}, expected {expected!r}"))
    return findings


def check_loki_schema(values: Mapping[str, Any], source: str) -> list[Finding]:
    """``loki.loki.schemaConfig.configs`` is present and each ``from`` is a quoted YYYY-MM-DD string."""
    key = "loki.loki.schemaConfig.configs"
    configs = lookup(values, key)
    if not isinstance(configs, list) or not configs:
        return [Finding(source, key, "is missing: the loki chart refuses to render without a schema config")]
    findings: list[Finding] = []
    for index, entry in enumerate(configs):
        start = entry.get("from") if isinstance(entry, dict) else None
        if isinstance(start, date):
            findings.append(
                Finding(source, f"{key}[{index}].from", f'is the unquoted date {start}: quote it ("{start}")')
            )
        elif not isinstance(start, str) or not _DATE.match(start):
            findings.append(Finding(source, f"{key}[{index}].from", f'is {start!r}, expected "YYYY-MM-DD"'))
        for field in ("store", "object_store", "schema"):
            if not isinstance(entry, dict) or not entry.get(field):
                findings.append(Finding(source, f"{key}[{index}].{field}", "is not set"))
    return findings


def check_alertmanager_datasource(values: Mapping[str, Any], source: str) -> list[Finding]:
    """No Grafana datasource for an Alertmanager that is not deployed."""
    kps = "kube-prometheus-stack"
    alertmanager = lookup(values, f"{kps}.alertmanager.enabled", True)
    datasource = lookup(values, f"{kps}.grafana.sidecar.datasources.alertmanager.enabled", True)
    if datasource is not False and alertmanager is False:
        return [
            Finding(
                source,
                f"{kps}.grafana.sidecar.datasources.alertmanager.enabled",
                f"is {datasource!r} while {kps}.alertmanager.enabled is false: set it to false",
            )
        ]
    return []


def check_no_passwords(values_files: list[Path]) -> list[Finding]:
    """No ``adminPassword`` key and no literal password in any values file."""
    findings: list[Finding] = []
    for path in values_files:
        for dotted, value in _paths(load_values(path)):
            key = dotted.rsplit(".", 1)[-1]
            if key == "adminPassword":
                findings.append(
                    Finding(
                        str(path),
                        dotted,
                        "sets a Grafana admin password in a values file: remove it (Grafana generates "
                        "one into Secret grafana) or name your own Secret in admin.existingSecret",
                    )
                )
            elif _PASSWORD_KEY.search(key) and not _KEY_NAME.search(key) and isinstance(value, str) and value:
                findings.append(Finding(str(path), dotted, "holds a literal password: take it from a Secret"))
            if isinstance(value, str) and value in KNOWN_PASSWORDS:
                findings.append(Finding(str(path), dotted, f"is the well-known default password {value!r}"))
    return findings
