"""The Alertmanager HTTP API v2: readiness and the alerts it holds (``/api/v2/alerts``)."""

from __future__ import annotations

from monitoring_conformance.api.alerting import Alert, alertmanager_alerts
from monitoring_conformance.api.http import Endpoint, decode_json

HINTS = {
    404: "is this Alertmanager's HTTP port (9093) with API v2 (Alertmanager 0.16 or newer)?",
    503: "Alertmanager is not ready yet (starting, or its cluster is settling)",
}


class Alertmanager:
    """An Alertmanager reached through ``endpoint``."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        endpoint.add_hints(HINTS)

    def __repr__(self) -> str:
        return f"Alertmanager({self.endpoint.describe()!r})"

    def ready(self) -> str:
        """GET /-/ready: the body, or EndpointError while it is not ready."""
        return self.endpoint.get("/-/ready").text.strip()

    def alerts(self, alertname: str | None = None) -> list[Alert]:
        """The alerts Alertmanager holds (active, silenced and inhibited ones), optionally of one name."""
        params = {"filter": f'alertname="{alertname}"'} if alertname else None
        response = self.endpoint.get("/api/v2/alerts", params=params)
        return alertmanager_alerts(decode_json(self.endpoint, response, expect="Alertmanager JSON"))
