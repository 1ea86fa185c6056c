"""alerts.fire on a cluster (kind, kubeconfig): the chart's Alertmanager and the Todo backend scaled to 0.

The fault scales Deployment ``todo-backend`` in the app namespace to 0 replicas and back to the count it
had, then waits for the rollout. app.unchanged still holds afterwards: it counts container restarts, and
the new pods start with none (the old pods were deleted, not restarted).
"""

from __future__ import annotations

from monitoring_conformance.api.http import API_SERVER_PROXY, Endpoint
from monitoring_conformance.errors import ToolError
from monitoring_conformance.stack import Alerting, Stack
from monitoring_conformance.targets.kubeaccess import Connection, service_proxy_url
from monitoring_conformance.tools.kubectl import Kubectl

#: The chart's Alertmanager Service (kube-prometheus-stack with fullnameOverride kps).
ALERTMANAGER_SERVICE = ("kps-alertmanager", 9093)
DEPLOYMENT = "todo-backend"
RULES_SOURCE = "the chart's PrometheusRule (rules/*.yaml), loaded by the Prometheus Operator"


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

    def wait_healthy(self, timeout: float) -> None:
        result = self.kubectl.rollout_status(f"deployment/{self.deployment}", self.namespace, timeout)
        if result.returncode != 0:
            raise ToolError(f"deployment {self.namespace}/{self.deployment} did not roll out again in "
                            f"{timeout:g}s: {result.stderr.strip()[-300:]}")


def attach(stack: Stack, connection: Connection, kubectl: Kubectl) -> Stack:
    """Give ``stack`` the cluster's alerting: its Prometheus, the chart's Alertmanager, the scale fault."""
    if stack.prometheus is None:
        return stack
    session, api_base = connection.session()
    service, port = ALERTMANAGER_SERVICE
    url = service_proxy_url(api_base, connection.namespaces["monitoring"], service, port)
    alertmanager = Endpoint(url, session=session, via=API_SERVER_PROXY, name="Alertmanager", timeout=(10, 30))
    fault = ScaleToZero(kubectl, connection.namespaces["app"])
    stack.alerting = Alerting(prometheus=stack.prometheus, alertmanager=alertmanager, fault=fault,
                              rules_source=RULES_SOURCE)
    return stack
