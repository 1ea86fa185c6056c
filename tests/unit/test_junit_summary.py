"""The closing line of ./scripts/test: JUnit files from the tiers added up."""

from __future__ import annotations

from pathlib import Path

import pytest

from mc_devtools.junit_summary import Counts, main, summarize

pytestmark = pytest.mark.unit

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="5">
  <testcase classname="t" name="a"/>
  <testcase classname="t" name="b"/>
  <testcase classname="t" name="c"><failure message="boom"/></testcase>
  <testcase classname="t" name="d"><error message="setup"/></testcase>
  <testcase classname="t" name="e"><skipped message="no docker"/></testcase>
</testsuite></testsuites>
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text)
    return path


def test_counts_are_added_across_files(tmp_path: Path) -> None:
    one = write(tmp_path, "junit-unit.xml", JUNIT)
    two = write(tmp_path, "junit-chart.xml", JUNIT)

    total, problems = summarize([one, two])

    assert total == Counts(passed=4, failed=4, skipped=2)
    assert problems == []


def test_closing_line_has_the_plain_form(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "junit-unit.xml", JUNIT)

    assert main([str(path), str(tmp_path / "junit-absent.xml")]) == 0

    assert capsys.readouterr().out.strip() == "total: 2 passed, 2 failed, 1 skipped"


def test_unreadable_file_is_named_and_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "junit-live.xml", "<testsuites><testcase")

    assert main([str(path)]) == 1

    captured = capsys.readouterr()
    assert "junit-live.xml: not a readable JUnit file" in captured.err
    assert captured.out.strip() == "total: 0 passed, 0 failed, 0 skipped"
