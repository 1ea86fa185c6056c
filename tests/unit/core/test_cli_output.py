"""What the CLI shows on a run that does not end normally: nothing pytest wrote is lost, and the report's
path is printed whenever a report was written (also when pytest skips its terminal summary)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from tests.doubles import PrometheusDouble
from tests.unit.core.helpers import CPU_QUERY, DoublesPlugin, cpu_run_args

from monitoring_conformance import cli
from monitoring_conformance.errors import ConformanceError

pytestmark = pytest.mark.unit



def cpu_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    return [*cpu_run_args(tmp_path, monkeypatch), "--report-dir", str(tmp_path / "r")]


class InterruptedAtTheEnd:
    """pytest writes a line on stderr, then a Ctrl-C arrives while it shuts down (kind teardown...)."""

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        sys.stderr.write("pytest warning written on stderr during the run\n")
        raise KeyboardInterrupt


def test_an_interrupt_that_escapes_pytest_keeps_what_pytest_wrote(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    args = cpu_run(tmp_path, monkeypatch)
    doubles = DoublesPlugin({"Prometheus": PrometheusDouble(vectors={CPU_QUERY: [({}, 1.0)]})})

    code = cli.main(args, plugins=[doubles, InterruptedAtTheEnd()])

    captured = capsys.readouterr()
    assert code == cli.EXIT_INCOMPLETE
    report = tmp_path / "r" / "acceptance.md"
    assert captured.err.splitlines() == [
        "pytest warning written on stderr during the run",
        f"interrupted by SIGINT: run incomplete, nothing was left running; report: {report}",
    ]
    assert "test session starts" in captured.out  # the held header was released, not dropped
    assert "acceptance verdict: PASS (report: " in captured.out  # written before the interrupt...
    assert json.loads((tmp_path / "r" / "acceptance.json").read_text())["verdict"] == "interrupted"  # marked
    assert report.read_text().startswith("# Acceptance report: INTERRUPTED")
    assert not (tmp_path / "r" / "junit.xml").exists()


def test_the_report_path_is_shown_when_the_target_did_not_open(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    args = cpu_run(tmp_path, monkeypatch)

    def cannot_open(self: object) -> object:
        raise ConformanceError("urls target: the stack went away")

    monkeypatch.setattr("monitoring_conformance.targets.urls.UrlsTarget.open", cannot_open)

    code = cli.main(args, plugins=[DoublesPlugin({"Prometheus": PrometheusDouble()})])

    captured = capsys.readouterr()
    assert code == cli.EXIT_INCOMPLETE
    assert (tmp_path / "r" / "acceptance.md").is_file()
    report_md = tmp_path / "r" / "acceptance.md"
    assert f"acceptance verdict: FAIL (report: {report_md})" in captured.out
    assert captured.out.count("acceptance verdict:") == 1
    # the reason once, as one line on stderr: not repeated on stdout, no "!!! _pytest.outcomes.Exit" banner
    assert captured.err == "the urls target did not open: urls target: the stack went away\n"
    assert "the stack went away" not in captured.out
    assert "_pytest.outcomes.Exit" not in captured.out
