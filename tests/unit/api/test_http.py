"""Endpoint: explicit timeouts, one-line errors naming the service, evidence, and no credentials anywhere."""

from __future__ import annotations

import pytest
import requests
from tests.doubles import FakeClock, RecordedTransport, Reply, connection_refused

from monitoring_conformance.api.http import API_SERVER_PROXY, AuthError, Endpoint, decode_json
from monitoring_conformance.errors import EndpointError, Unrecoverable, WaitTimeout
from monitoring_conformance.redact import register_secret
from monitoring_conformance.wait import eventually

pytestmark = pytest.mark.unit


def make(
    double: RecordedTransport | None = None, *, name: str = "Prometheus", **kwargs: object
) -> tuple[RecordedTransport, Endpoint]:
    double = double or RecordedTransport(base_url="http://127.0.0.1:1")
    return double, double.endpoint(name=name, **kwargs)  # type: ignore[arg-type]


def test_connection_refused_is_one_line_naming_url_and_service() -> None:
    _, endpoint = make(RecordedTransport(base_url="http://127.0.0.1:1", fail_all=connection_refused()))
    with pytest.raises(EndpointError) as caught:
        endpoint.get("/api/v1/query", {"query": "up"})
    assert str(caught.value) == (
        "GET http://127.0.0.1:1/api/v1/query -> connection refused (Prometheus at http://127.0.0.1:1, direct)"
    )
    assert endpoint.last_request == "GET /api/v1/query?query=up -> connection refused"


@pytest.mark.parametrize(
    ("exc", "words"),
    [
        (
            requests.ConnectionError(
                "HTTPConnectionPool(host='prom.nowhere', port=9090): Max retries exceeded "
                "(Caused by NameResolutionError: Failed to resolve 'prom.nowhere' "
                "([Errno -2] Name or service not known))"
            ),
            "DNS lookup failed for 127.0.0.1",
        ),
        (requests.exceptions.ConnectTimeout("connect timed out"), "timed out connecting after 2s"),
        (requests.exceptions.ReadTimeout("read timed out"), "no answer within 7s (read timeout)"),
        (
            requests.exceptions.SSLError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"),
            "TLS error: certificate verify failed",
        ),
        (
            requests.ConnectionError("('Connection aborted.', RemoteDisconnected('closed'))"),
            "connection closed by the server without an answer",
        ),
    ],
)
def test_transport_failures_are_classified(exc: requests.RequestException, words: str) -> None:
    _, endpoint = make(RecordedTransport(base_url="http://127.0.0.1:1", fail_all=exc), timeout=(2, 7))
    with pytest.raises(EndpointError) as caught:
        endpoint.get("/-/ready")
    assert f"GET http://127.0.0.1:1/-/ready -> {words}" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_every_request_carries_connect_and_read_timeouts() -> None:
    double = RecordedTransport()
    double.route("GET", "/ok", lambda call, m: "fine")
    endpoint = double.endpoint(name="Prometheus", timeout=(1.5, 9))
    endpoint.get("/ok")
    endpoint.post_json("/ok", {"a": 1}, ok=range(200, 600))
    assert [call.timeout for call in double.calls] == [(1.5, 9.0), (1.5, 9.0)]


def test_a_single_timeout_applies_to_connect_and_read() -> None:
    _, endpoint = make(timeout=4)
    assert endpoint.timeouts == (4.0, 4.0)


def test_nonpositive_timeout_is_refused() -> None:
    with pytest.raises(ValueError, match="timeouts must be > 0"):
        Endpoint("http://x.test", name="Loki", timeout=0)


def test_401_is_unrecoverable_and_names_the_credentials_source() -> None:
    double = RecordedTransport(base_url="http://grafana.test", status_overrides={"/api/search": 401})
    endpoint = double.endpoint(name="Grafana")
    endpoint.hints[401] = "check MC_GRAFANA_USER/MC_GRAFANA_PASSWORD or the grafana Secret"
    with pytest.raises(AuthError) as caught:
        endpoint.get("/api/search")
    assert isinstance(caught.value, Unrecoverable)
    assert caught.value.status == 401
    assert str(caught.value) == (
        "Grafana at http://grafana.test answered 401 Unauthorized to GET /api/search:"
        " check MC_GRAFANA_USER/MC_GRAFANA_PASSWORD or the grafana Secret (direct)"
    )


def test_401_ends_a_wait_at_once() -> None:
    double = RecordedTransport(base_url="http://grafana.test", status_overrides={"/api/search": 401})
    endpoint = double.endpoint(name="Grafana")
    fake = FakeClock()
    with pytest.raises(AuthError):
        eventually(lambda: endpoint.get("/api/search"), timeout=60, what="search", clock=fake.clock, scale=1)
    assert len(double.calls) == 1
    assert fake.sleeps == []


def test_403_through_the_api_server_proxy_blames_the_kubeconfig() -> None:
    double = RecordedTransport(
        base_url="https://k8s.test/api/v1/namespaces/monitoring/services/http:grafana:80/proxy"
    )
    status = {
        "kind": "Status",
        "status": "Failure",
        "reason": "Forbidden",
        "code": 403,
        "message": 'services "grafana" is forbidden: User "ci" cannot get resource "services/proxy"',
    }
    double.route("GET", "/api/health", lambda call, m: Reply(403, status))
    endpoint = double.endpoint(name="Grafana", via=API_SERVER_PROXY)
    with pytest.raises(AuthError) as caught:
        endpoint.get("/api/health")
    message = str(caught.value)
    assert "the API server refused the kubeconfig credentials" in message
    assert "services/proxy" in message
    assert message.endswith("(API-server proxy)")


def test_404_names_the_path_and_the_fix() -> None:
    double = RecordedTransport(base_url="http://loki.test")
    endpoint = double.endpoint(name="Loki")
    endpoint.hints[404] = "is --loki-url the Loki HTTP port (3100)?"
    with pytest.raises(EndpointError) as caught:
        endpoint.get("/loki/api/v1/labels")
    assert caught.value.status == 404
    assert str(caught.value) == (
        "GET http://loki.test/loki/api/v1/labels -> 404 Not Found (Loki at http://loki.test, direct):"
        " 404 page not found: is --loki-url the Loki HTTP port (3100)?"
    )


def test_per_call_hint_overrides_the_endpoint_hint() -> None:
    double = RecordedTransport(base_url="http://grafana.test")
    endpoint = double.endpoint(name="Grafana")
    endpoint.hints[404] = "generic"
    with pytest.raises(EndpointError, match="dashboard uid x not found"):
        endpoint.get("/api/dashboards/uid/x", hints={404: "dashboard uid x not found"})


def test_5xx_shows_status_and_a_redacted_excerpt() -> None:
    register_secret("Adm1n-Pa55")
    body = "upstream failed: login admin/Adm1n-Pa55 rejected, Authorization: Basic YWRtaW46eHl6 " + "x" * 500
    double = RecordedTransport(base_url="http://prometheus.test")
    double.route("GET", "/api/v1/query", lambda call, m: Reply(502, body))
    endpoint = double.endpoint(name="Prometheus")
    with pytest.raises(EndpointError) as caught:
        endpoint.get("/api/v1/query", {"query": "up"})
    message = str(caught.value)
    assert message.startswith("GET http://prometheus.test/api/v1/query -> 502 Bad Gateway (Prometheus at")
    assert "Adm1n-Pa55" not in message
    assert "YWRtaW46eHl6" not in message
    assert len(message) < 400
    assert caught.value.status == 502


def test_statuses_listed_as_ok_are_returned() -> None:
    double = RecordedTransport()
    double.route("GET", "/busy", lambda call, m: Reply(503, "starting"))
    endpoint = double.endpoint(name="Loki")
    assert endpoint.get("/busy", ok=(200, 503)).status_code == 503
    with pytest.raises(EndpointError, match="503 Service Unavailable"):
        endpoint.get("/busy")


def test_last_request_records_path_query_and_status() -> None:
    double = RecordedTransport(base_url="http://prometheus.test")
    double.route("GET", "/api/v1/query", lambda call, m: {"status": "success"})
    endpoint = double.endpoint(name="Prometheus")
    assert endpoint.last_request is None
    endpoint.get("/api/v1/query", {"query": 'sum(rate(http_requests_total{job="todo-backend"}[1m]))'})
    assert (
        endpoint.last_request
        == 'GET /api/v1/query?query=sum(rate(http_requests_total{job="todo-backend"}[1m])) -> 200'
    )
    assert endpoint.requests_sent == 1


def test_evidence_is_recorded_only_by_the_endpoint_it_belongs_to() -> None:
    session = requests.Session()
    proxy = "https://k8s.test/api/v1/namespaces/monitoring/services"
    prom = RecordedTransport(base_url=f"{proxy}/http:kps-prometheus:9090/proxy")
    loki = RecordedTransport(base_url=f"{proxy}/http:loki:3100/proxy")
    prom.route("GET", "/-/ready", lambda call, m: "ready")
    loki.route("GET", "/ready", lambda call, m: "ready")
    prom_endpoint = prom.endpoint(name="Prometheus", via=API_SERVER_PROXY, session=session)
    loki_endpoint = loki.endpoint(name="Loki", via=API_SERVER_PROXY, session=session)
    prom_endpoint.get("/-/ready")
    assert prom_endpoint.last_request == "GET /-/ready -> 200"
    assert loki_endpoint.last_request is None
    loki_endpoint.get("/ready")
    assert loki_endpoint.last_request == "GET /ready -> 200"
    assert prom_endpoint.last_request == "GET /-/ready -> 200"


@pytest.mark.parametrize(
    "url", ["http://admin:Wh1sper-99@grafana.test", "http://admin@grafana.test/sub", "http://a:W/h@grafana.test"]
)
def test_credentials_in_the_url_are_refused_without_showing_them(url: str) -> None:
    with pytest.raises(ValueError, match=r"^Grafana: credentials in the base URL http://\*\*\*@") as caught:
        Endpoint(url, name="Grafana")
    assert "Wh1sper" not in str(caught.value)
    assert "admin" not in str(caught.value)


def test_describe_and_where() -> None:
    _, endpoint = make(RecordedTransport(base_url="http://127.0.0.1:9090/"))
    assert endpoint.describe() == "Prometheus at http://127.0.0.1:9090 (direct)"
    assert endpoint.where() == "Prometheus at http://127.0.0.1:9090, direct"
    assert endpoint.url("api/v1/query") == "http://127.0.0.1:9090/api/v1/query"


def test_decode_json_says_when_the_url_points_elsewhere() -> None:
    double = RecordedTransport(base_url="http://prometheus.test")
    double.route("GET", "/api/v1/status/buildinfo", lambda call, m: "<html><title>Grafana</title></html>")
    endpoint = double.endpoint(name="Prometheus")
    response = endpoint.get("/api/v1/status/buildinfo")
    with pytest.raises(EndpointError, match=r"body is not JSON .*is the URL pointing at Prometheus\?"):
        decode_json(endpoint, response)


def test_a_wait_on_a_refusing_endpoint_reports_the_last_error() -> None:
    _, endpoint = make(RecordedTransport(base_url="http://127.0.0.1:1", fail_all=connection_refused()))
    fake = FakeClock()
    with pytest.raises(WaitTimeout, match="connection refused"):
        eventually(
            lambda: endpoint.get("/-/ready"), timeout=5, interval=1, what="ready", clock=fake.clock, scale=1
        )
