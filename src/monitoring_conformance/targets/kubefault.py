"""alerts.fire on a cluster (kind, kubeconfig): the chart's Alertmanager and two undoable faults.

* Backend down: Deployment ``todo-backend`` in the app namespace scaled to 0 replicas and back to the count
  it had, then a wait for the rollout. app.unchanged still holds afterwards: it counts container restarts,
  and the new pods start with none (the old pods were deleted, not restarted).
* 5xx burst: one more pod behind the app Service, made from the Deployment's own pod template with the
  fixture's ``TODO_LIST_STATUS=500``, and the suite's GETs of the task list through the Service; the pod is
  deleted afterwards. The app's own pods are never touched, so nothing restarts.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from monitoring_conformance.api.app import list_burst
from monitoring_conformance.api.http import API_SERVER_PROXY, Endpoint
from monitoring_conformance.errors import ToolError
from monitoring_conformance.stack import Alerting, Stack
from monitoring_conformance.targets.kubeaccess import Connection, service_proxy_url
from monitoring_conformance.tools.kubectl import Kubectl

#: The chart's Alertmanager Service (kube-prometheus-stack with fullnameOverride kps).
ALERTMANAGER_SERVICE = ("kps-alertmanager", 9093)
DEPLOYMENT = "todo-backend"
RULES_SOURCE = "the chart's PrometheusRule (rules/*.yaml), loaded by the Prometheus Operator"
#: The 5xx pod: its name, the fixture's switch it runs with, what the suite requests and how often per poll.
ERROR_POD = "todo-backend-5xx"
LIST_STATUS = ("TODO_LIST_STATUS", "500")
ERROR_PATH = "/api/mc-alerts/tasks"
BURST = 5
#: Seconds the 5xx pod may take to become ready, and to be gone after its deletion.
POD_READY_S = 120


class ScaleToZero:
    """``kubectl scale deployment/todo-backend --replicas=0``, then back to the replicas it had."""

    name = "backend down"

    def __init__(self, kubectl: Kubectl, namespace: str, deployment: str = DEPLOYMENT) -> None:
        self.kubectl, self.namespace, self.deployment = kubectl, namespace, deployment
        self.replicas: int | None = None

    def describe(self) -> str:
        back = self.replicas if self.replicas is not None else "its replica count"
        return f"Deployment {self.namespace}/{self.deployment} scaled to 0, then back to {back}"

    def induce(self) -> None:
        where = ("deployment", self.deployment, "--namespace", self.namespace)
        text = self.kubectl.text("get", *where, "-o", "jsonpath={.spec.replicas}").strip()
        if not text.isdigit() or int(text) < 1:
            raise ToolError(f"deployment {self.namespace}/{self.deployment}: no replicas to scale ({text!r})")
        self.replicas = int(text)
        self.kubectl.run("scale", *where, "--replicas=0")

    def undo(self) -> None:
        if self.replicas is None:
            return
        self.kubectl.run("scale", "deployment", self.deployment, "--namespace", self.namespace,
                         f"--replicas={self.replicas}")

    def sustain(self) -> None:
        """Nothing to keep up: a Deployment at 0 replicas stays down."""

    def wait_healthy(self, timeout: float) -> None:
        result = self.kubectl.rollout_status(f"deployment/{self.deployment}", self.namespace, timeout)
        if result.returncode != 0:
            raise ToolError(f"deployment {self.namespace}/{self.deployment} did not roll out again in "
                            f"{timeout:g}s: {result.stderr.strip()[-300:]}")


def error_pod(template: dict[str, Any], namespace: str) -> dict[str, Any]:
    """A Pod from a Deployment's pod template: same labels (so the Service and its ServiceMonitor select
    it), every container with ``TODO_LIST_STATUS=500`` added."""
    meta, spec = template.get("metadata") or {}, dict(template.get("spec") or {})
    name, value = LIST_STATUS
    containers = []
    for container in spec.get("containers") or []:
        env = [e for e in container.get("env") or [] if e.get("name") != name]
        containers.append({**container, "env": [*env, {"name": name, "value": value}]})
    if not containers:
        raise ToolError("the Deployment's pod template has no containers to run answering 5xx")
    labels = {**(meta.get("labels") or {}), "conformance.fault": "5xx-burst"}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": ERROR_POD, "namespace": namespace, "labels": labels},
            "spec": {**spec, "containers": containers}}


class ErrorPod:
    """A pod answering 5xx to the task list behind the app Service, and the suite's requests to it."""

    name = "5xx burst"

    def __init__(self, kubectl: Kubectl, namespace: str, app: Endpoint | None,
                 deployment: str = DEPLOYMENT) -> None:
        self.kubectl, self.namespace, self.app, self.deployment = kubectl, namespace, app, deployment
        self.created = False

    def describe(self) -> str:
        return (f"pod {self.namespace}/{ERROR_POD} (the pod template of Deployment {self.deployment} with "
                f"{'='.join(LIST_STATUS)}) behind the app Service, {BURST} GETs of {ERROR_PATH} per poll "
                "through the Service, then the pod deleted")

    def induce(self) -> None:
        if self.app is None:
            raise ToolError("no app endpoint to send the 5xx burst's requests to")
        text = self.kubectl.text("get", "deployment", self.deployment, "--namespace", self.namespace,
                                 "-o", "jsonpath={.spec.template}")
        try:
            template = json.loads(text)
        except ValueError:
            raise ToolError(f"deployment {self.namespace}/{self.deployment}: no pod template ({text[:80]!r})"
                            ) from None
        with tempfile.TemporaryDirectory(prefix="mc-fault-") as tmp:
            path = Path(tmp) / f"{ERROR_POD}.json"
            path.write_text(json.dumps(error_pod(template, self.namespace)), encoding="utf-8")
            self.created = True
            self.kubectl.apply(path)
        self.kubectl.run("wait", "--for=condition=Ready", f"pod/{ERROR_POD}", "--namespace", self.namespace,
                         f"--timeout={POD_READY_S}s", timeout=POD_READY_S + 10)

    def sustain(self) -> None:
        if self.app is not None:
            list_burst(self.app, ERROR_PATH, BURST)

    def undo(self) -> None:
        if not self.created:
            return
        self.kubectl.run("delete", "pod", ERROR_POD, "--namespace", self.namespace, "--ignore-not-found",
                         "--wait=true", f"--timeout={POD_READY_S}s", timeout=POD_READY_S + 10)
        self.created = False

    def wait_healthy(self, timeout: float) -> None:
        ScaleToZero(self.kubectl, self.namespace, self.deployment).wait_healthy(timeout)


def attach(stack: Stack, connection: Connection, kubectl: Kubectl) -> Stack:
    """Give ``stack`` the cluster's alerting: its Prometheus, the chart's Alertmanager, the scale fault."""
    if stack.prometheus is None:
        return stack
    session, api_base = connection.session()
    service, port = ALERTMANAGER_SERVICE
    url = service_proxy_url(api_base, connection.namespaces["monitoring"], service, port)
    alertmanager = Endpoint(url, session=session, via=API_SERVER_PROXY, name="Alertmanager", timeout=(10, 30))
    fault = ScaleToZero(kubectl, connection.namespaces["app"])
    errors = ErrorPod(kubectl, connection.namespaces["app"], stack.app)
    stack.alerting = Alerting(prometheus=stack.prometheus, alertmanager=alertmanager, fault=fault,
                              rules_source=RULES_SOURCE, error_fault=errors)
    return stack
