"""No secret survives into any message a client produces, whatever the server sends back."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests
from tests.doubles import GrafanaDouble, LokiDouble, PrometheusDouble, RecordedTransport, Reply, TodoAppDouble
from tests.doubles.grafana import error_result

from monitoring_conformance.api.app import TodoApp
from monitoring_conformance.api.grafana import Grafana
from monitoring_conformance.api.loki import Loki
from monitoring_conformance.api.prometheus import Prometheus
from monitoring_conformance.redact import register_secret

pytestmark = pytest.mark.unit

SECRET = "Qx7-very-secret-9Lm"
LEAKY = f"backend said: password={SECRET} Authorization: Bearer glsa_abc123_{SECRET} user:{SECRET}"


def leaky(status: int) -> Callable[..., Reply]:
    return lambda call, match: Reply(status, LEAKY)


def prometheus_5xx() -> object:
    double = PrometheusDouble(query=lambda expr: Reply(500, LEAKY))
    return Prometheus(double.endpoint(name="Prometheus")).query("up")


def prometheus_400() -> object:
    double = PrometheusDouble(errors={"up": LEAKY})
    return Prometheus(double.endpoint(name="Prometheus")).query("up")


def grafana_401() -> object:
    double = GrafanaDouble()
    double.route("GET", "/api/search", leaky(401), first=True)
    return Grafana(double.endpoint(name="Grafana")).search_dashboards()


def grafana_html() -> object:
    double = GrafanaDouble()
    double.route("GET", "/api/dashboards/uid/x", leaky(200), first=True)
    return Grafana(double.endpoint(name="Grafana")).dashboard("x")


def grafana_ds_error() -> object:
    double = GrafanaDouble(ds_query=lambda q: error_result(LEAKY))
    result = Grafana(double.endpoint(name="Grafana")).ds_query([{"refId": "A", "expr": "up"}])
    raise AssertionError(result.describe())


def grafana_ds_health() -> object:
    double = GrafanaDouble(datasource_health={"loki": {"status": "ERROR", "message": LEAKY}})
    health = Grafana(double.endpoint(name="Grafana")).datasource_health("loki")
    raise AssertionError(health.message)


def loki_ready() -> object:
    return Loki(LokiDouble(ready=LEAKY).endpoint(name="Loki")).ready()


def loki_400() -> object:
    double = LokiDouble()
    double.route("GET", "/loki/api/v1/query_range", leaky(400), first=True)
    return Loki(double.endpoint(name="Loki")).query_range(f'{{app="{SECRET}"}}', start_ns=0, end_ns=1)


def app_health() -> object:
    double = TodoAppDouble()
    double.route("GET", "/healthz", leaky(200), first=True)
    return TodoApp(double.endpoint(name="Todo backend")).health()


def app_roundtrip() -> object:
    double = TodoAppDouble()
    double.route("GET", r"/api/[^/]+/tasks/\d+", leaky(500), first=True)
    return TodoApp(double.endpoint(name="Todo backend")).roundtrip("u")


def transport() -> object:
    double = RecordedTransport(fail_all=requests.ConnectionError(LEAKY))
    return double.endpoint(name="Loki").get("/ready")


@pytest.mark.parametrize(
    "action",
    [
        prometheus_5xx,
        prometheus_400,
        grafana_401,
        grafana_html,
        grafana_ds_error,
        grafana_ds_health,
        loki_ready,
        loki_400,
        app_health,
        app_roundtrip,
        transport,
    ],
)
def test_no_secret_in_any_error_message(action: Callable[[], object]) -> None:
    register_secret(SECRET)
    with pytest.raises(Exception) as caught:  # noqa: PT011 - every kind of error is checked for leaks
        action()
    message = str(caught.value)
    assert message, "the action must fail with a message"
    assert SECRET not in message
    assert "glsa_abc123" not in message
