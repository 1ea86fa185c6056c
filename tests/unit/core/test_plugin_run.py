"""The plugin end to end, in process: the real tests/conformance against doubles, reports and exit codes."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from tests.doubles import PrometheusDouble, TodoAppDouble, connection_refused, vector
from tests.doubles.transport import RecordedTransport
from tests.unit.core.helpers import DoublesPlugin, profile_without, targets_payload

from monitoring_conformance.cli import SUITE_DIR

pytestmark = pytest.mark.unit

#: The backend's series as Prometheus scrapes them from the double (its target's instance label).
APP_TARGET = {"job": "todo-backend", "instance": "todo-backend:80"}
HOST_SERIES = {
    'node_cpu_seconds_total{job="node"}': [({"cpu": "0"}, 1.0)],
    'process_cpu_seconds_total{job="todo-backend"}': [(APP_TARGET, 2.0)],
    'node_memory_MemAvailable_bytes{job="node"}': [({}, 3.0)],
    'process_resident_memory_bytes{job="todo-backend"}': [(APP_TARGET, 4.0)],
    # the window is 4 scrape intervals of the todo-backend target (1 s below)
    'sum(rate(http_requests_total{job="todo-backend",handler!~"/metrics|/healthz"}[4s]))': [({}, 1.5)],
    # the same process the suite reaches: the double's /metrics says the same start time
    'process_start_time_seconds{job="todo-backend"}': [(APP_TARGET, 1.79499961245e09)],
}
COUNTER = 'sum(http_requests_total{job="todo-backend",handler="/api/{user_id}/tasks",method="POST"})'


def posts_counter(app: TodoAppDouble) -> Any:
    """The backend's POST counter as Prometheus would see it: every task the double created."""
    return lambda: [({}, float(app.next_id - 1))]


def host_doubles(**series_overrides: Any) -> dict[str, RecordedTransport]:
    app = TodoAppDouble()
    series = {**HOST_SERIES, COUNTER: posts_counter(app), **series_overrides}
    prometheus = PrometheusDouble(
        vectors=series, targets=targets_payload("prometheus", "todo-backend", "node", interval="1s")
    )
    return {"Prometheus": prometheus, "Todo backend": app}


def run_suite(
    pytester: pytest.Pytester, report_dir: Path, doubles: Mapping[str, RecordedTransport], *args: str
) -> pytest.RunResult:
    if "--profile" not in args:  # the urls target cannot induce a fault: alerts.fire is tested on its own
        args = ("--profile", str(profile_without(report_dir.parent, "host", "alerts.fire")), *args)
    return pytester.runpytest_inprocess(
        str(SUITE_DIR), "-p", "no:pytest-kind", "-p", "no:cacheprovider",
        "--target", "urls", "--prometheus-url", PrometheusDouble.base_url,
        "--app-url", TodoAppDouble.base_url,
        "--report-dir", str(report_dir), "--timeout-scale", "0.01", f"--junitxml={report_dir / 'junit.xml'}",
        *args, plugins=[DoublesPlugin(doubles)],
    )  # fmt: skip


def report(report_dir: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((report_dir / "acceptance.json").read_text())
    return loaded


def statuses(report_dir: Path) -> dict[str, str]:
    return {item["id"]: item["status"] for item in report(report_dir)["requirements"]}


def test_healthy_host_stack_passes(pytester: pytest.Pytester, tmp_path: Path) -> None:
    result = run_suite(pytester, tmp_path, host_doubles(), "-v")

    assert result.ret == 0, result.stdout.str()
    built = report(tmp_path)
    assert built["verdict"] == "pass"
    assert built["profile"] == "host"
    assert set(statuses(tmp_path).values()) == {"pass"}
    assert list(statuses(tmp_path)) == [  # profile order
        "stack.prometheus_targets", "metrics.cpu", "metrics.memory", "metrics.request_rate", "app.unchanged"
    ]  # fmt: skip
    assert (tmp_path / "acceptance.md").read_text().startswith("# Acceptance report: PASS")
    cases = junit_cases(tmp_path / "junit.xml")
    assert {case["status"] for case in cases.values()} == {"pass"}
    assert cases["metrics.request_rate"]["measured"] == "1.5"  # the XML carries the report's figure
    assert cases["metrics.request_rate"]["threshold"] == "0.0"
    assert cases["metrics.cpu"]["measured"] == str(next(
        item["measured"] for item in built["requirements"] if item["id"] == "metrics.cpu"
    ))  # fmt: skip
    assert built["versions"]["chart (checkout)"]  # urls: the checkout's chart, not a deployed one
    assert "chart" not in built["versions"]
    result.stdout.fnmatch_lines(["*test_series_exist?metrics.cpu? PASSED*", "*acceptance verdict: PASS*"])
    junit = (tmp_path / "junit.xml").read_text()
    assert '<property name="requirement" value="metrics.cpu"' in junit
    assert '<property name="unit" value="req/s"' in junit


def test_missing_node_series_fails_only_cpu_and_memory(pytester: pytest.Pytester, tmp_path: Path) -> None:
    doubles = host_doubles(
        **{'node_cpu_seconds_total{job="node"}': [], 'node_memory_MemAvailable_bytes{job="node"}': []}
    )

    result = run_suite(pytester, tmp_path, doubles)

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert statuses(tmp_path) == {
        "stack.prometheus_targets": "pass", "metrics.cpu": "fail", "metrics.memory": "fail",
        "metrics.request_rate": "pass", "app.unchanged": "pass",
    }  # fmt: skip
    built = report(tmp_path)
    cpu = next(item for item in built["requirements"] if item["id"] == "metrics.cpu")
    assert cpu["message"].startswith("metrics.cpu FAILED after 0.3s")
    assert 'node_cpu_seconds_total{job="node"}' in cpu["message"]
    assert built["diagnostics"]["prometheus_targets"][0]["job"] in {"prometheus", "todo-backend", "node"}


def write_profile(path: Path) -> Path:
    path.write_text(
        "requirements:\n"
        "  stack.prometheus_targets: {timeout: 5, jobs: [prometheus]}\n"
        "  logs.todo_backend:\n"
        "    timeout: 5\n"
        "    threshold: 5\n"
        "    selector: '{app=\"todo-backend\"}'\n"
        "    fallback_selector: '{namespace=\"todo\"}'\n"
        "    labels: {app: todo-backend}\n"
    )
    return path


def test_not_verified_fails_the_verdict_in_strict_mode(pytester: pytest.Pytester, tmp_path: Path) -> None:
    profile = write_profile(tmp_path / "profile.yaml")

    result = run_suite(pytester, tmp_path / "out", host_doubles(), "--profile", str(profile))

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=1, failed=1, deselected=19)  # strict: a failure, never a skip
    assert statuses(tmp_path / "out") == {
        "stack.prometheus_targets": "pass",
        "logs.todo_backend": "not_verified",
    }
    built = report(tmp_path / "out")
    assert built["verdict"] == "fail"
    logs = built["requirements"][1]
    assert logs["message"] == "no Loki endpoint on this target: pass --loki-url (urls target)"
    cases = junit_cases(tmp_path / "out" / "junit.xml")
    assert cases["logs.todo_backend"]["outcome"] == "failure"
    assert cases["logs.todo_backend"]["message"] == (
        "NotVerified: no Loki endpoint on this target: pass --loki-url (urls target)"
    )
    assert cases["logs.todo_backend"]["status"] == "not_verified"
    assert cases["stack.prometheus_targets"] | {"outcome": "", "message": ""} == {
        "requirement": "stack.prometheus_targets", "status": "pass", "measured": "1", "unit": "jobs up",
        "threshold": "1", "outcome": "", "message": "",
    }  # fmt: skip


def junit_cases(path: Path) -> dict[str, dict[str, str]]:
    """``{requirement: {property: value, ..., "outcome": failure|skipped|error|"", "message": ...}}``."""
    root = ET.parse(path).getroot()  # noqa: S314 - written by this test's own run
    cases: dict[str, dict[str, str]] = {}
    for case in root.iter("testcase"):
        props = {p.get("name", ""): p.get("value", "") for p in case.iter("property")}
        outcome = next((child for child in case if child.tag in ("failure", "skipped", "error")), None)
        props["outcome"] = outcome.tag if outcome is not None else ""
        props["message"] = outcome.get("message", "") if outcome is not None else ""
        cases[props["requirement"]] = props
    return cases


def test_not_verified_is_reported_but_passes_without_strict(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    profile = write_profile(tmp_path / "profile.yaml")

    result = run_suite(pytester, tmp_path / "out", host_doubles(), "--profile", str(profile), "--no-strict")

    assert result.ret == 0
    result.assert_outcomes(passed=1, skipped=1, deselected=19)
    built = report(tmp_path / "out")
    assert built["verdict"] == "pass"
    assert built["strict"] is False
    assert built["summary"] == {"pass": 1, "fail": 0, "not_verified": 1}
    case = junit_cases(tmp_path / "out" / "junit.xml")["logs.todo_backend"]
    assert (case["outcome"], case["status"]) == ("skipped", "not_verified")


def test_deselected_profile_requirement_is_not_verified(pytester: pytest.Pytester, tmp_path: Path) -> None:
    result = run_suite(pytester, tmp_path, host_doubles(), "-k", "cpu")

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    found = statuses(tmp_path)
    assert found["metrics.cpu"] == "pass"
    assert found["metrics.memory"] == "not_verified"


def test_unreachable_prometheus_stops_before_any_test(pytester: pytest.Pytester, tmp_path: Path) -> None:
    doubles = {"Prometheus": PrometheusDouble(fail_all=connection_refused()), "Todo backend": TodoAppDouble()}

    result = run_suite(pytester, tmp_path, doubles)

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: --prometheus-url http://prometheus.test: connection refused; start Prometheus there*"]
    )
    assert not (tmp_path / "acceptance.json").exists()
    assert not (tmp_path / "junit.xml").exists()  # no JUnit of 0 tests that reads as a pass


def test_stale_reports_are_removed_when_the_run_starts(pytester: pytest.Pytester, tmp_path: Path) -> None:
    for name in ("acceptance.json", "acceptance.md", "junit.xml"):
        (tmp_path / name).write_text('{"verdict": "pass"}')
    (tmp_path / "notes.txt").write_text("mine")
    doubles = {"Prometheus": PrometheusDouble(fail_all=connection_refused())}

    result = run_suite(pytester, tmp_path, doubles)

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_a_report_that_cannot_be_written_makes_the_run_incomplete(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(report: Any, directory: Path) -> Any:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("monitoring_conformance.report.write", refuse)

    result = run_suite(pytester, tmp_path, host_doubles())

    assert result.ret == pytest.ExitCode.INTERNAL_ERROR  # the CLI maps it to 3: run incomplete
    result.stdout.fnmatch_lines(["*the report could not be written: *No space left on device*"])


def test_collect_only_opens_nothing(pytester: pytest.Pytester, tmp_path: Path) -> None:
    doubles = {"Prometheus": PrometheusDouble(fail_all=connection_refused())}

    result = run_suite(pytester, tmp_path, doubles, "--collect-only")

    assert result.ret == 0
    assert doubles["Prometheus"].calls == []


def test_plan_prints_the_commands_and_runs_nothing(pytester: pytest.Pytester, tmp_path: Path) -> None:
    doubles = {"Prometheus": PrometheusDouble(fail_all=connection_refused())}

    result = run_suite(pytester, tmp_path, doubles, "--plan")

    assert result.ret == 0
    result.stdout.fnmatch_lines(["(the urls target runs no commands)"])
    assert doubles["Prometheus"].calls == []


def test_plugin_is_inert_in_other_runs(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MC_TARGET", "nope")
    monkeypatch.setenv("MC_PROFILE", "/no/such/profile.yaml")
    pytester.makepyfile("def test_plain():\n    assert 1 + 1 == 2\n")

    result = pytester.runpytest_inprocess("-p", "no:pytest-kind")

    result.assert_outcomes(passed=1)


def test_target_on_the_command_line_validates_at_start(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_plain():\n    assert True\n")

    result = pytester.runpytest_inprocess("-p", "no:pytest-kind", "--target", "minikube")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: --target minikube: unknown value; use one of urls, kubeconfig, kind, local"]
    )


def test_rate_query_vector_helper_matches_the_profile() -> None:
    # The host profile's rate query is the one this module's double answers (guards the test data).
    expr = next(iter(k for k in HOST_SERIES if k.startswith("sum(rate(")))
    from monitoring_conformance.profile import load

    spec = load("host").spec("metrics.request_rate")
    assert spec is not None
    assert spec.text("query").replace("${rate_window}", "4s") == expr
    assert spec.text("counter") == COUNTER
    assert vector([])["data"]["result"] == []


def test_not_verifiable_outside_the_conformance_suite_is_an_error_not_a_skip(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        "from monitoring_conformance.checks.base import NotVerifiable\n"
        "def test_a_check_that_could_not_decide():\n"
        "    raise NotVerifiable('no t0')\n"
    )

    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:pytest-kind")

    result.assert_outcomes(failed=1)  # a project test that ends in NotVerifiable must not pass as a skip


def test_alerts_fire_is_not_verified_on_urls_with_the_reason(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    result = run_suite(pytester, tmp_path, host_doubles(), "--profile", "host")

    assert result.ret == pytest.ExitCode.TESTS_FAILED  # strict: not_verified is a failure
    found = statuses(tmp_path)
    assert found.pop("alerts.fire") == "not_verified"
    assert set(found.values()) == {"pass"}
    alerts = next(item for item in report(tmp_path)["requirements"] if item["id"] == "alerts.fire")
    assert alerts["message"].startswith("the urls target only reaches URLs: it cannot take the Todo")
