"""The root conftest refuses a test under tests/<tier>/ without its tier marker."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT_CONFTEST = Path(__file__).resolve().parents[2] / "conftest.py"
# Only the root conftest is under test: the installed plugins stay out of the inner run.
INI = (
    "[pytest]\naddopts = -p no:pytest-kind -p no:monitoring_conformance\n"
    "markers =\n    unit: u\n    chart: c\n    live: l\n    e2e: e\n"
)


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini(INI)
    pytester.makeconftest(ROOT_CONFTEST.read_text())
    (pytester.path / "tests" / "unit").mkdir(parents=True)
    (pytester.path / "tests" / "chart").mkdir(parents=True)
    return pytester


def test_marked_tests_run(project: pytest.Pytester) -> None:
    (project.path / "tests/unit/test_a.py").write_text(
        "import pytest\npytestmark = pytest.mark.unit\ndef test_a():\n    assert True\n"
    )

    result = project.runpytest_inprocess("tests/unit")

    result.assert_outcomes(passed=1)


def test_unmarked_test_is_a_usage_error_naming_it(project: pytest.Pytester) -> None:
    (project.path / "tests/unit/test_a.py").write_text("def test_a():\n    assert True\n")
    (project.path / "tests/chart/test_b.py").write_text(
        "import pytest\npytestmark = pytest.mark.unit\ndef test_b():\n    assert True\n"
    )

    result = project.runpytest_inprocess("tests")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*tests/chart/test_b.py::test_b (chart) and 1 more lack their tier marker: add `pytestmark*"]
    )
