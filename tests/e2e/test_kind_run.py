"""The real kind run: ``python -m monitoring_conformance --target kind`` as a subprocess (Docker, kind).

Not part of the default test run (tox -e e2e, or the workflow's kind job). Where the preflight fails, the
test is skipped with the preflight's own first line, e.g.
``e2e: docker engine not reachable (…): run where Docker and kind exist``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from monitoring_conformance.orchestrate import PHASES
from monitoring_conformance.preflight import run_preflight
from monitoring_conformance.tools.runner import SubprocessRunner

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
#: Cluster creation, image build, the chart install and the suite together; a generous bound, not a target.
RUN_TIMEOUT = 45 * 60


@pytest.fixture(scope="module")
def ready_host() -> None:
    failed = [check for check in run_preflight(SubprocessRunner()) if not check.ok]
    if failed:
        more = f" (+{len(failed) - 1} more)" if len(failed) > 1 else ""
        pytest.skip(f"e2e: {failed[0].detail}{more}: run where Docker and kind exist")


def test_kind_target_passes_and_reports_every_phase(ready_host: None, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    result = SubprocessRunner().run(
        [sys.executable, "-m", "monitoring_conformance", "--target", "kind", "--report-dir", str(reports)],
        timeout=RUN_TIMEOUT,
        check=False,
        cwd=ROOT,
    )

    tail = "\n".join((result.stdout + result.stderr).splitlines()[-40:])
    assert result.returncode == 0, f"kind run exited {result.returncode}; see {reports}\n{tail}"
    report = json.loads((reports / "acceptance.json").read_text(encoding="utf-8"))
    assert report["verdict"] == "pass"
    assert report["target"] == "kind"
    missing = [phase for phase in PHASES if phase not in report["timings"]]
    assert not missing, f"phases without a timing in acceptance.json: {missing}"
    assert (reports / "junit.xml").is_file()
    ready = next(item for item in report["requirements"] if item["id"] == "grafana.ready_within_30s")
    assert "while the chart was installed" in ready["evidence"][0]["request"], ready  # measured live
    assert report["versions"]["todo-backend image"].startswith("todo-backend:0.1.0-")
