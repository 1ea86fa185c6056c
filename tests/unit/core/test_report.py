"""The acceptance report: verdict logic, the JSON keys, the Markdown page, redaction, JUnit properties."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from monitoring_conformance import redact
from monitoring_conformance import report as reports
from monitoring_conformance.requirement import FAIL, NOT_VERIFIED, PASS, Record

pytestmark = pytest.mark.unit


def record(rid: str, *statuses: str, message: str = "") -> Record:
    entry = Record.new(rid, threshold=1)
    for index, status in enumerate(statuses):
        entry.add_case(f"case{index}", status, message or f"{status} because")
    return entry


@pytest.mark.parametrize(
    ("statuses", "strict", "session_ok", "expected"),
    [
        ([PASS, PASS], True, True, PASS),
        ([PASS, FAIL], False, True, FAIL),
        ([PASS, NOT_VERIFIED], True, True, FAIL),
        ([PASS, NOT_VERIFIED], False, True, PASS),
        ([NOT_VERIFIED], False, True, PASS),
        ([], False, True, FAIL),
        ([PASS], True, False, FAIL),
    ],
    ids=["all-pass", "a-failure", "strict-not-verified", "lenient-not-verified", "lenient-only-nv",
         "nothing-checked", "session-broke"],
)
def test_verdict(statuses: list[str], strict: bool, session_ok: bool, expected: str) -> None:
    assert reports.verdict(statuses, strict=strict, session_ok=session_ok) == expected


def test_record_status_aggregates_cases() -> None:
    assert record("metrics.cpu", PASS).status == PASS
    assert record("dashboards.provisioned", PASS, FAIL, NOT_VERIFIED).status == FAIL
    assert record("dashboards.provisioned", PASS, NOT_VERIFIED).status == NOT_VERIFIED
    assert record("metrics.cpu").status == NOT_VERIFIED  # nothing ran


def test_multi_case_message_lists_the_cases_that_did_not_pass() -> None:
    entry = record("dashboards.panels_have_data", PASS, FAIL, message="no data\nmore detail")

    assert entry.summary() == "1 of 2 cases did not pass\ncase1: fail: no data"


def build(records: list[Record], **overrides: Any) -> dict[str, Any]:
    options: dict[str, Any] = {
        "strict": True, "target": "urls", "profile": "host", "started": 1795773600.0, "duration_s": 12.3456,
        "versions": {"prometheus": "2.42.0"}, "timings": {"open": 0.25},
    }
    options.update(overrides)
    return reports.build(records, **options)


def test_json_has_the_contract_keys() -> None:
    built = build([record("metrics.cpu", PASS), record("app.unchanged", FAIL)], diagnostics={"x": "y"})

    assert tuple(built) == reports.KEYS
    assert built["verdict"] == FAIL
    assert built["started_at"] == "2026-11-27T10:00:00Z"
    assert built["duration_s"] == 12.346
    assert built["summary"] == {"pass": 1, "fail": 1, "not_verified": 0}
    assert [tuple(item) for item in built["requirements"]] == [reports.REQUIREMENT_KEYS] * 2
    assert built["diagnostics"] == {"x": "y"}


def test_diagnostics_only_when_the_verdict_fails() -> None:
    built = build([record("metrics.cpu", PASS)], diagnostics={"x": "y"})

    assert built["verdict"] == PASS
    assert built["diagnostics"] == {}


def test_session_problems_fail_the_verdict_and_are_shown() -> None:
    problem = "the pytest session ended with INTERRUPTED"
    built = build([record("metrics.cpu", PASS)], session_problems=[problem])

    assert built["verdict"] == FAIL
    assert built["diagnostics"]["session"] == [problem]


def test_secrets_are_redacted_everywhere(tmp_path: Path) -> None:
    redact.register_secret("registered-pw-42")
    entry = record("grafana.ready_within_30s", FAIL, message="login admin:registered-pw-42 refused")
    entry.add_evidence("GET /api/search (Authorization: Bearer glsa_abcdef123456)", {"token": "passed-tok-9"})

    built = build([entry], diagnostics={"grafana": "password=hunter2"}, secrets=["passed-tok-9"])
    paths = reports.write(built, tmp_path)

    for path in paths:
        text = path.read_text()
        for secret in ("registered-pw-42", "glsa_abcdef123456", "passed-tok-9", "hunter2"):
            assert secret not in text, (path.name, secret)
        assert "***" in text


def test_write_produces_json_and_markdown(tmp_path: Path) -> None:
    passing = record("metrics.cpu", PASS)
    passing.measured = 3
    passing.message = "series per query: a 3"
    passing.add_evidence("GET /api/v1/query?query=up", {"series_per_query": {"a": 3}})
    message = "metrics.memory FAILED after 6.0s (13 attempts): x\n  last"
    failing = record("metrics.memory", FAIL, message=message)
    built = build([passing, failing], diagnostics={"prometheus_targets": [{"job": "node", "health": "down"}]})

    json_path, md_path = reports.write(built, tmp_path / "out")

    assert json.loads(json_path.read_text()) == built
    page = md_path.read_text()
    assert page.startswith("# Acceptance report: FAIL\n")
    title = "CPU series exist for the Todo backend and the nodes"
    assert f"| `metrics.cpu` {title} | **pass** | 3 series | 1 |" in page
    assert "| `metrics.memory`" in page
    assert "**fail**" in page
    assert "metrics.memory FAILED after 6.0s (13 attempts): x\n  last" in page  # full message as evidence
    assert "GET /api/v1/query?query=up" in page
    assert "## Diagnostics" in page
    assert '"job": "node"' in page


def test_markdown_escapes_pipes_in_cells() -> None:
    entry = record("metrics.cpu", FAIL, message="a | b")

    page = reports.to_markdown(build([entry]))

    assert "a \\| b" in page


def test_junit_properties() -> None:
    entry = record("metrics.request_rate", PASS)
    entry.measured = 0.5
    entry.threshold = 0

    assert reports.junit_properties(entry) == [
        ("requirement", "metrics.request_rate"),
        ("measured", 0.5),
        ("unit", "req/s"),
        ("threshold", 0),
    ]


def test_junit_properties_carry_the_case_status_and_only_finite_figures() -> None:
    entry = record("metrics.request_rate", FAIL)
    entry.measured = float("nan")

    assert reports.junit_properties(entry, NOT_VERIFIED) == [
        ("requirement", "metrics.request_rate"),
        ("status", NOT_VERIFIED),
        ("unit", "req/s"),
        ("threshold", 1),
    ]


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_a_measured_value_that_is_not_finite_is_written_as_null_with_a_note(
    tmp_path: Path, value: float
) -> None:
    entry = record("metrics.request_rate", FAIL, message="rate is odd")
    entry.measured = value
    entry.add_evidence("GET /api/v1/query", {"rate": 1.0}, seen=value)

    json_path, _ = reports.write(build([entry]), tmp_path)

    def no_constants(name: str) -> Any:
        raise AssertionError(f"acceptance.json holds {name}, which is not JSON")

    written = json.loads(json_path.read_text(), parse_constant=no_constants)
    item = written["requirements"][0]
    assert item["measured"] is None
    note = f"measured value was {value}, not a finite number: reported as null"
    assert item["message"] == f"rate is odd\n{note}"
    assert item["evidence"][0]["seen"] is None


def test_write_refuses_nan_instead_of_writing_invalid_json(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not JSON compliant"):
        reports.write({"verdict": "pass", "duration_s": float("nan")}, tmp_path)


def test_remove_stale_removes_only_the_report_files(tmp_path: Path) -> None:
    for name in ("acceptance.json", "acceptance.md", "junit.xml", "junit-unit.xml", "notes.md"):
        (tmp_path / name).write_text("old")
    (tmp_path / "diagnostics").mkdir()

    removed = reports.remove_stale(tmp_path, "--report-dir x")

    assert sorted(p.name for p in removed) == ["acceptance.json", "acceptance.md", "junit.xml"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["diagnostics", "junit-unit.xml", "notes.md"]


def test_remove_stale_keeps_earlier_diagnostics_folders_and_link_targets(tmp_path: Path) -> None:
    report_dir = tmp_path / "reports"
    (report_dir / "diagnostics" / "logs").mkdir(parents=True)
    (report_dir / "diagnostics" / "summary.json").write_text("{}")
    (report_dir / "diagnostics" / "logs" / "grafana.log").write_text("earlier run")
    (report_dir / "acceptance.md").mkdir()  # a folder with a report file's name is not ours to remove
    elsewhere = tmp_path / "mine.json"
    elsewhere.write_text("the user's file")
    (report_dir / "acceptance.json").symlink_to(elsewhere)

    removed = reports.remove_stale(report_dir, "--report-dir x")

    assert [p.name for p in removed] == ["acceptance.json"]  # the link, not what it points to
    assert elsewhere.read_text() == "the user's file"
    assert (report_dir / "acceptance.md").is_dir()
    assert (report_dir / "diagnostics" / "logs" / "grafana.log").read_text() == "earlier run"
    assert (report_dir / "diagnostics" / "summary.json").is_file()
