"""While helm waits: a progress line about every 15 s naming what is not ready and why, kept for diagnostics.

helm runs in its thread until the fake clock passes ``HELM_ENDS``; kubectl's answers are hand-made API
objects shaped like the API server's (a pod the scheduler cannot place, a hook Job, a Warning event).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from tests.doubles import FakeClock
from tests.doubles.runner import RecordingRunner

from monitoring_conformance.diagnostics import Collector, Sources
from monitoring_conformance.helm_wait import HelmWaitReporter
from monitoring_conformance.install_watch import install_watched
from monitoring_conformance.tools.kubectl import Kubectl
from monitoring_conformance.wait import Clock

from .conftest import answer, pods_of

pytestmark = pytest.mark.unit

HELM_ENDS = 1040.0
PENDING_POD = {
    "kind": "Pod",
    "metadata": {"name": "prometheus-mon-0", "namespace": "monitoring"},
    "status": {"phase": "Pending", "conditions": [{
        "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
        "message": "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available",
    }]},
}  # fmt: skip
READY_POD = {
    "kind": "Pod",
    "metadata": {"name": "loki-0", "namespace": "monitoring"},
    "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
               "containerStatuses": [{"name": "loki", "ready": True, "state": {"running": {}}}]},
}  # fmt: skip
HOOK_JOB = {
    "kind": "Job",
    "metadata": {"name": "mon-admission-create", "namespace": "monitoring",
                 "annotations": {"helm.sh/hook": "pre-install,pre-upgrade"}},
    "status": {"active": 1},
}  # fmt: skip
WARNING = {
    "type": "Warning", "reason": "FailedScheduling", "lastTimestamp": "2026-12-05T10:00:05Z",
    "involvedObject": {"kind": "Pod", "name": "prometheus-mon-0"},
    "message": "0/1 nodes are available: 1 Insufficient cpu.",
}  # fmt: skip


def cluster_runner(items: list[dict[str, Any]], events: list[dict[str, Any]]) -> RecordingRunner:
    runner = RecordingRunner()
    answer(runner, pods_of("monitoring"), stdout=json.dumps({"kind": "List", "items": items}))
    answer(runner, lambda argv: argv[:3] == ("kubectl", "get", "events"),
           stdout=json.dumps({"kind": "EventList", "items": events}))
    return runner


def run_helm_for_40s(fake: FakeClock, reporter: HelmWaitReporter) -> None:
    """helm, blocked in its thread until the fake clock reaches HELM_ENDS."""
    release, returned = threading.Event(), threading.Event()

    def helm() -> None:
        release.wait(timeout=30)
        returned.set()

    def elapse(seconds: float) -> None:
        fake.elapse(seconds)
        if fake.now() >= HELM_ENDS:  # helm ends now: the fake time stands still until its thread returned
            release.set()
            returned.wait(timeout=30)

    clock = Clock(now=fake.now, sleep=elapse)
    reporter.clock = clock
    install_watched(helm, None, clock=clock, wall=fake.now, budget=600, reporter=reporter)


def test_a_long_helm_wait_reports_what_is_not_ready_every_15s(clock: FakeClock, tmp_path: Path) -> None:
    # before: nothing at all until helm ended ("context deadline exceeded" after 909 s on a real cluster)
    runner = cluster_runner([PENDING_POD, READY_POD, HOOK_JOB], [WARNING])
    printed: list[str] = []
    reporter = HelmWaitReporter(Kubectl(runner, "kubectl"), "monitoring", printed.append, clock.clock,
                                prefix="[kubeconfig]")  # fmt: skip

    run_helm_for_40s(clock, reporter)

    assert printed == reporter.lines
    assert [line.split(":", 1)[0] for line in printed] == [
        "[kubeconfig] helm still waiting after 15s", "[kubeconfig] helm still waiting after 30s",
    ]
    line = printed[0]
    pending = "monitoring/prometheus-mon-0 (Unschedulable: 0/1 nodes are available: 1 Insufficient cpu"
    assert f"not ready: {pending}" in line
    assert "loki-0" not in line
    assert "hook jobs: Job/mon-admission-create (pre-install,pre-upgrade, 1 active, 0 failed)" in line
    assert "warnings: Pod/prometheus-mon-0 FailedScheduling: 0/1 nodes are available" in line

    summary = Collector(tmp_path, Sources(helm_wait=reporter.lines)).helm_wait()
    assert summary == f"2 reports; last: {printed[-1]}"
    assert (tmp_path / "helm-wait.txt").read_text().splitlines() == printed


def test_a_look_that_fails_is_a_line_and_helm_goes_on(clock: FakeClock) -> None:
    runner = RecordingRunner()
    answer(runner, pods_of("monitoring"), stderr="Unable to connect to the server: dial tcp: i/o timeout",
           returncode=1)
    printed: list[str] = []
    reporter = HelmWaitReporter(Kubectl(runner, "kubectl"), "monitoring", printed.append, clock.clock)

    run_helm_for_40s(clock, reporter)

    assert len(printed) == 2
    assert "cannot look at namespace monitoring: " in printed[0]
    assert "i/o timeout" in printed[0]


def test_all_pods_ready_says_so(clock: FakeClock) -> None:
    printed: list[str] = []
    reporter = HelmWaitReporter(Kubectl(cluster_runner([READY_POD], []), "kubectl"), "monitoring",
                                printed.append, clock.clock)  # fmt: skip
    run_helm_for_40s(clock, reporter)
    assert printed[0].endswith("helm still waiting after 15s: all 1 pods ready")


def test_no_report_when_helm_ends_within_one_period(tmp_path: Path) -> None:
    assert Collector(tmp_path, Sources()).helm_wait().startswith("no report")
    assert not (tmp_path / "helm-wait.txt").exists()
