"""The chart's alert rules: ``promtool check rules`` (rules/*.yaml) and ``promtool test rules`` (tests/rules),
and no namespace matcher in them.

One promtool run per batch; only when a batch fails is each file run alone, to say which one failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from monitoring_conformance.tools.helm_offline import load_yaml
from tests.chart.chartcheck.findings import Finding
from tests.chart.chartcheck.promtool import Promtool
from tests.chart.chartcheck.vectors import vector_selectors


def rule_files(chart_dir: Path) -> list[Path]:
    return sorted((chart_dir / "rules").glob("*.yaml"))


def rule_test_files(chart_dir: Path) -> list[Path]:
    return sorted((chart_dir / "tests" / "rules").glob("*.yaml"))


def _failures(output: str) -> list[str]:
    keep = []
    for line in output.splitlines():
        text = line.strip()
        if text and not text.startswith(("Checking ", "Unit Testing:", "SUCCESS")) and text != "FAILED:":
            keep.append(text)
    return keep


def check_rule_files(promtool: Promtool, files: Sequence[Path]) -> list[Finding]:
    """A finding per error ``promtool check rules`` reports, named after the file it is in."""
    if not files:
        return []
    run = promtool.check_rules(files)
    if run.ok:
        return []
    findings = []
    for line in _failures(run.output):
        owner = next((f for f in files if line.startswith(str(f))), None)
        if owner is not None:
            findings.append(Finding(str(owner), "", line[len(str(owner)) :].lstrip(": ")))
        else:
            findings.append(Finding(", ".join(f.name for f in files), "promtool check rules", line))
    return findings


def run_rule_tests(promtool: Promtool, files: Sequence[Path]) -> list[Finding]:
    """A finding per failing test file of ``promtool test rules``, with promtool's explanation."""
    if not files:
        return []
    batch = promtool.test_rules(files)
    if batch.ok:
        return []
    # A lone file's batch run is its own run: only a batch of several is re-run file by file.
    runs = [(files[0], batch)] if len(files) == 1 else [(path, promtool.test_rules([path])) for path in files]
    findings = []
    for path, run in runs:
        if not run.ok:
            findings.append(Finding(str(path), "promtool test rules", "\n    ".join(_failures(run.output))))
    return findings


def check_no_namespace_matchers(files: Sequence[Path]) -> list[Finding]:
    """No rule selects by ``namespace``: the backend's namespace is a value; rule files are plain YAML."""
    findings: list[Finding] = []
    for path in files:
        data = load_yaml(path)
        for group in (data.get("groups") or []) if isinstance(data, dict) else []:
            for number, rule in enumerate(group.get("rules") or [], start=1):
                name = rule.get("alert") or rule.get("record")
                where = f"group {group.get('name')!r}, rule {number} {name!r}"
                try:
                    selectors = vector_selectors(str(rule.get("expr", "")))
                except ValueError as exc:
                    findings.append(Finding(str(path), where, f"cannot read its selectors: {exc}"))
                    continue
                for selector in selectors:
                    for matcher in selector.matchers:
                        if matcher.label == "namespace":
                            findings.append(
                                Finding(
                                    str(path),
                                    where,
                                    f"selects {matcher} in {selector}: the backend's namespace is the chart "
                                    "value todoBackend.namespace, which a plain rule file cannot follow; "
                                    "select it by job, container or pod instead",
                                )
                            )
    return findings
