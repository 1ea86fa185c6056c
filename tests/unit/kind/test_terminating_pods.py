"""Pods being deleted (``metadata.deletionTimestamp``) neither hold a readiness wait up nor end it early:
an old replica in CrashLoopBackOff that a rollout is replacing says nothing about the new one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.doubles import FakeClock
from tests.doubles.runner import RecordingRunner

from monitoring_conformance.errors import Unrecoverable, WaitTimeout
from monitoring_conformance.tools.kubectl import (
    Kubectl,
    not_ready,
    pod_failures,
    pod_state,
    wait_pods_ready,
    wait_rollout,
)

from .conftest import kind_payload

pytestmark = pytest.mark.unit

#: hand-made: a rollout's old pod, terminating in CrashLoopBackOff, next to the new pod (ready)
PAYLOAD = "pods-todo-terminating-crashloop.json"


def listing(*, terminating: bool = True, keep_new: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(kind_payload(PAYLOAD))
    old, new = data["items"]
    if not terminating:
        del old["metadata"]["deletionTimestamp"]
    data["items"] = [old, new] if keep_new else [old]
    return data


def kubectl_answering(data: dict[str, Any]) -> Kubectl:
    runner = RecordingRunner()
    runner.on(["kubectl", "--kubeconfig", "/k/config", "get"], stdout=json.dumps(data))
    runner.on(["kubectl", "--kubeconfig", "/k/config", "rollout"], stdout="successfully rolled out\n")
    return Kubectl(runner, kubeconfig="/k/config")


def test_a_terminating_pod_is_neither_stuck_nor_waited_for() -> None:
    old, new = listing()["items"]

    state = pod_state(old)
    assert state.terminating
    assert state.stuck is None
    assert not state.blocks
    assert state.describe() == "todo/todo-backend-7c9d8f6b5-x2lkq (terminating)"
    assert pod_failures([old, new]) == []
    assert not_ready([old, new]) == []


def test_the_same_pod_not_being_deleted_is_stuck() -> None:
    old, _ = listing(terminating=False)["items"]

    state = pod_state(old)
    assert not state.terminating
    assert state.stuck is not None
    assert state.stuck.startswith("CrashLoopBackOff in container todo-backend")


def test_pods_ready_wait_ignores_a_terminating_crash_looping_pod(tools: Path) -> None:
    clock = FakeClock()

    wait_pods_ready(kubectl_answering(listing()), "todo", timeout=30, clock=clock.clock)

    assert clock.sleeps == []  # ready at the first look


def test_pods_ready_wait_still_stops_early_on_a_live_crash_looping_pod(tools: Path) -> None:
    clock = FakeClock()
    kubectl = kubectl_answering(listing(terminating=False))

    with pytest.raises(Unrecoverable, match=r"namespace todo cannot become ready: .*CrashLoopBackOff"):
        wait_pods_ready(kubectl, "todo", timeout=30, clock=clock.clock)
    assert clock.sleeps == []


def test_only_terminating_pods_are_not_a_ready_namespace(tools: Path) -> None:
    clock = FakeClock()
    kubectl = kubectl_answering(listing(keep_new=False))

    with pytest.raises(WaitTimeout, match=r"no pods in namespace todo yet \(1 terminating\)"):
        wait_pods_ready(kubectl, "todo", timeout=30, clock=clock.clock)


def test_rollout_wait_ignores_a_terminating_crash_looping_pod(tools: Path) -> None:
    clock = FakeClock()

    kubectl = kubectl_answering(listing())

    wait_rollout(kubectl, "deployment/todo-backend", "todo", timeout=30, clock=clock.clock)

    assert clock.sleeps == []


def test_rollout_wait_still_stops_early_on_a_live_crash_looping_pod(tools: Path) -> None:
    clock = FakeClock()
    kubectl = kubectl_answering(listing(terminating=False))

    with pytest.raises(Unrecoverable, match="deployment/todo-backend in namespace todo cannot become ready"):
        wait_rollout(kubectl, "deployment/todo-backend", "todo", timeout=30, clock=clock.clock)
