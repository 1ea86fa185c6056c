"""The 5xx fault of alerts.fire on a cluster, through recorded kubectl commands only (no cluster here)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.doubles import TodoAppDouble, connection_refused
from tests.doubles.runner import RecordingRunner

from monitoring_conformance.api.app import list_burst
from monitoring_conformance.errors import ToolError
from monitoring_conformance.targets.kubefault import ERROR_POD, ErrorPod, error_pod
from monitoring_conformance.tools.kubectl import Kubectl

pytestmark = pytest.mark.unit

TEMPLATE: dict[str, Any] = {
    "metadata": {"labels": {"app.kubernetes.io/name": "todo-backend"}},
    "spec": {"containers": [{"name": "todo-backend", "image": "todo-backend:0.1.0",
                             "env": [{"name": "TODO_LIST_STATUS", "value": "404"},
                                     {"name": "A", "value": "1"}]}]},
}


def fault(runner: RecordingRunner, app: TodoAppDouble | None = None) -> ErrorPod:
    endpoint = app.endpoint(name="Todo backend") if app is not None else None
    return ErrorPod(Kubectl(runner, "kubectl"), "todo", endpoint)


def test_the_5xx_pod_is_the_deployments_template_answering_500_under_the_services_labels() -> None:
    pod = error_pod(TEMPLATE, "todo")

    assert pod["metadata"]["name"] == ERROR_POD
    assert pod["metadata"]["labels"]["app.kubernetes.io/name"] == "todo-backend"  # the Service selects it
    (container,) = pod["spec"]["containers"]
    assert container["image"] == "todo-backend:0.1.0"
    assert container["env"] == [{"name": "A", "value": "1"}, {"name": "TODO_LIST_STATUS", "value": "500"}]
    assert TEMPLATE["spec"]["containers"][0]["env"][0]["value"] == "404"  # the template is not changed


def test_induce_sustain_undo_run_these_commands_and_never_touch_the_apps_pods() -> None:
    runner = RecordingRunner()
    runner.on(["kubectl", "get", "deployment", "todo-backend"], stdout=json.dumps(TEMPLATE))
    app = TodoAppDouble(broken={"list": 500})
    error = fault(runner, app)

    error.undo()  # nothing induced yet: nothing to undo
    error.induce()
    error.sustain()
    error.undo()
    error.undo()  # twice is safe
    error.wait_healthy(60)

    commands = [c[1:] for c in runner.commands()]
    assert commands[0] == ("get", "deployment", "todo-backend", "--namespace", "todo", "-o",
                           "jsonpath={.spec.template}")
    assert commands[1][:2] == ("apply", "-f")
    assert commands[1][2].endswith(f"{ERROR_POD}.json")
    assert commands[2:] == [
        ("wait", "--for=condition=Ready", f"pod/{ERROR_POD}", "--namespace", "todo", "--timeout=120s"),
        ("delete", "pod", ERROR_POD, "--namespace", "todo", "--ignore-not-found", "--wait=true",
         "--timeout=120s"),
        ("rollout", "status", "deployment/todo-backend", "--namespace", "todo", "--timeout=60s"),
    ]
    assert not [c for c in commands if c[0] == "scale" or (c[0] == "delete" and c[2] != ERROR_POD)]
    assert [c.path for c in app.calls] == ["/api/mc-alerts/tasks"] * 5


def test_a_pod_that_never_gets_ready_is_still_deleted() -> None:
    runner = RecordingRunner()
    runner.on(["kubectl", "get", "deployment"], stdout=json.dumps(TEMPLATE))
    runner.fail(["kubectl", "wait"], ToolError("kubectl wait: timed out waiting for the condition"))
    error = fault(runner, TodoAppDouble())

    with pytest.raises(ToolError, match="timed out"):
        error.induce()
    error.undo()

    assert [c[1] for c in runner.commands()] == ["get", "apply", "wait", "delete"]


def test_a_deployment_without_a_pod_template_fails_before_creating_anything() -> None:
    runner = RecordingRunner()
    runner.on(["kubectl", "get", "deployment"], stderr='Error from server (NotFound): "todo-backend"')
    error = fault(runner, TodoAppDouble())

    with pytest.raises(ToolError, match="no pod template"):
        error.induce()
    error.undo()

    assert [c[1] for c in runner.commands()] == ["get"]


def test_the_burst_counts_5xx_answers_and_stops_at_a_request_without_answer() -> None:
    errors = TodoAppDouble(broken={"list": 500})
    assert list_burst(errors.endpoint(name="Todo backend"), "/api/mc-alerts/tasks", 4) == 4

    healthy = TodoAppDouble()
    assert list_burst(healthy.endpoint(name="Todo backend"), "/api/mc-alerts/tasks", 3) == 0

    gone = TodoAppDouble(fail_all=connection_refused())
    assert list_burst(gone.endpoint(name="Todo backend"), "/api/mc-alerts/tasks", 5) == 0
    assert len(gone.calls) == 1
