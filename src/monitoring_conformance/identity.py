"""Which pods serve the app Service the suite talks to (kube targets): the identity the metric checks need.

On a cluster the suite reaches the Todo backend through its Service, so "the process the suite sends
traffic to" is any ready endpoint of that Service. :class:`ServiceEndpoints` reads the Service's
``Endpoints`` object through the API-server session the kube targets already hold; :func:`parse_endpoints`
turns the API object into :class:`AppEndpoints` (testable with recorded objects).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from monitoring_conformance.api.http import Endpoint, decode_json


@dataclass(frozen=True)
class AppEndpoints:
    """The ready endpoints behind the app Service: pod IP -> pod name (empty name: no targetRef)."""

    namespace: str
    service: str
    pods: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        shown = ", ".join(f"{name or '?'} ({ip})" for ip, name in sorted(self.pods.items()))
        return f"Service {self.namespace}/{self.service} endpoints: {shown or 'none ready'}"

    def holds(self, labels: Mapping[str, str]) -> bool:
        """True when a scraped series' ``pod`` label or ``instance`` address is one of these endpoints."""
        pod = labels.get("pod")
        if pod and pod in self.pods.values():
            return True
        host = labels.get("instance", "").rsplit(":", 1)[0].strip("[]")
        return bool(host) and host in self.pods


def parse_endpoints(obj: Mapping[str, Any], *, namespace: str, service: str) -> AppEndpoints:
    """An ``Endpoints`` API object (v1) as :class:`AppEndpoints`; not-ready addresses are left out."""
    pods: dict[str, str] = {}
    for subset in obj.get("subsets") or []:
        for address in subset.get("addresses") or []:
            ip = str(address.get("ip", ""))
            ref = address.get("targetRef") or {}
            if ip:
                pods[ip] = str(ref.get("name", "")) if ref.get("kind", "Pod") == "Pod" else ""
    return AppEndpoints(namespace, service, pods)


class ServiceEndpoints:
    """Reads the app Service's endpoints on each call (pods come and go during a run)."""

    def __init__(self, session: requests.Session, api_base: str, namespace: str, service: str) -> None:
        self.namespace = namespace
        self.service = service
        self.endpoint = Endpoint(api_base, session=session, via="API server", name="Kubernetes API")

    def __call__(self) -> AppEndpoints:
        path = f"/api/v1/namespaces/{self.namespace}/endpoints/{self.service}"
        response = self.endpoint.get(path)
        data = decode_json(self.endpoint, response, expect="Endpoints JSON")
        return parse_endpoints(data, namespace=self.namespace, service=self.service)
