"""The conformance suite, run as a user runs it, passes against a healthy local stack."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from monitoring_conformance.localstack import LocalStack
from tests.live.live_support import SuiteRun, SuiteRunner, host_requirements

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def healthy_run(suite: SuiteRunner, healthy_stack: LocalStack) -> SuiteRun:
    return suite.run(
        "healthy",
        prometheus_url=healthy_stack.prometheus_url,
        app_url=healthy_stack.app_url,
        extra=["--junitxml", str(suite.base / "healthy" / "junit.xml")],
    )


def junit_requirement_ids(path: Path) -> set[str]:
    """Values of the ``requirement`` properties of every test case in a JUnit XML file."""
    root = ET.parse(path).getroot()  # noqa: S314 - our own file, written by this run
    return {
        prop.get("value", "")
        for case in root.iter("testcase")
        for prop in case.iter("property")
        if prop.get("name") == "requirement"
    }


def test_suite_exits_zero(healthy_run: SuiteRun) -> None:
    assert healthy_run.returncode == 0, healthy_run.describe()


def test_verdict_is_pass(healthy_run: SuiteRun) -> None:
    assert healthy_run.report["verdict"] == "pass", healthy_run.describe()


def test_every_host_requirement_passes_with_a_measured_value(healthy_run: SuiteRun) -> None:
    entries = healthy_run.requirements
    assert set(entries) >= host_requirements(), (
        f"missing in acceptance.json: {host_requirements() - set(entries)}"
    )
    for rid in sorted(host_requirements()):
        entry = entries[rid]
        assert entry["status"] == "pass", f"{rid}: {entry['status']}: {entry['message']}"
        assert entry["measured"] is not None, f"{rid} passed without a measured value: {entry}"


def test_markdown_report_is_written(healthy_run: SuiteRun) -> None:
    markdown = healthy_run.report_dir / "acceptance.md"
    assert markdown.is_file(), healthy_run.describe()
    text = markdown.read_text()
    missing = [rid for rid in sorted(host_requirements()) if rid not in text]
    assert not missing, f"acceptance.md does not mention {missing}"


def test_junit_cases_carry_the_requirement_id(healthy_run: SuiteRun) -> None:
    junit = healthy_run.report_dir / "junit.xml"
    assert junit.is_file(), healthy_run.describe()
    assert junit_requirement_ids(junit) >= host_requirements()


def test_junit_reader_sees_no_ids_in_a_file_without_properties(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    junit.write_text('<testsuites><testsuite><testcase name="t"/></testsuite></testsuites>')
    assert junit_requirement_ids(junit) == set()


def test_a_run_without_a_report_names_the_missing_file(tmp_path: Path) -> None:
    run = SuiteRun(["monitoring-conformance"], 3, "", "internal error: boom", 0.1, tmp_path)
    with pytest.raises(AssertionError, match=r"(?s)no .*acceptance.json.*exit code 3.*internal error: boom"):
        _ = run.report
