"""Prometheus client over PrometheusDouble: queries, count_each, targets, and readable errors."""

from __future__ import annotations

import math

import pytest
import requests
from tests.doubles import PrometheusDouble, RecordedTransport, Reply, connection_refused, payload

from monitoring_conformance.api.http import AuthError
from monitoring_conformance.api.prometheus import KEY_LABEL, Prometheus, count_each_expr
from monitoring_conformance.errors import EndpointError
from monitoring_conformance.redact import register_secret

pytestmark = pytest.mark.unit

TODO_UP = ({"job": "todo-backend", "namespace": "todo"}, 1.0)


def client(double: PrometheusDouble) -> Prometheus:
    return Prometheus(double.endpoint(name="Prometheus"))


def test_query_returns_one_sample_per_series() -> None:
    prom = client(PrometheusDouble(vectors={"up": payload("prometheus/query-up.json")}))
    samples = prom.query("up")
    assert len(samples) == 6
    todo = next(s for s in samples if s.metric["job"] == "todo-backend")
    assert todo.value == 1.0
    assert todo.metric["namespace"] == "todo"


def test_query_of_a_scalar_gives_one_unlabelled_sample() -> None:
    prom = client(PrometheusDouble(vectors={"2+2": payload("prometheus/query-scalar.json")}))
    [sample] = prom.query("2+2")
    assert sample.metric == {}
    assert sample.value == 4.0


def test_scalar_sums_a_vector() -> None:
    prom = client(PrometheusDouble(vectors={"rate": payload("prometheus/query-request-rate.json")}))
    assert prom.scalar("rate") == pytest.approx(1.4)


def test_scalar_of_an_empty_vector_is_none() -> None:
    prom = client(PrometheusDouble(vectors={"absent": payload("prometheus/query-empty.json")}))
    assert prom.scalar("absent") is None
    assert prom.query("absent") == []


def test_non_numeric_values_become_nan() -> None:
    envelope = {
        "status": "success",
        "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1, "x"]}]},
    }
    prom = client(PrometheusDouble(vectors={"odd": envelope}))
    assert math.isnan(prom.query("odd")[0].value)


def test_bad_data_surfaces_prometheus_error_text() -> None:
    message = payload("prometheus/query-error-bad-data.json")["error"]
    prom = client(PrometheusDouble(errors={"sum(rate(up[5m]": message}))
    with pytest.raises(EndpointError) as caught:
        prom.query("sum(rate(up[5m]")
    text = str(caught.value)
    assert text.startswith("Prometheus rejected the query 'sum(rate(up[5m]': bad_data: invalid parameter")
    assert "unclosed left parenthesis" in text
    assert "-> 400, Prometheus at http://prometheus.test, direct)" in text
    assert caught.value.status == 400
    assert "HTTP Status Code" not in text


def test_connection_refused_through_prometheus_connect() -> None:
    prom = client(PrometheusDouble(base_url="http://127.0.0.1:1", fail_all=connection_refused()))
    with pytest.raises(EndpointError) as caught:
        prom.query("up")
    assert str(caught.value) == (
        "GET http://127.0.0.1:1/api/v1/query -> connection refused (Prometheus at http://127.0.0.1:1, direct)"
    )


def test_read_timeout_through_prometheus_connect() -> None:
    double = PrometheusDouble(fail_all=requests.exceptions.ReadTimeout("slow"))
    prom = Prometheus(double.endpoint(name="Prometheus", timeout=(1, 3)))
    with pytest.raises(EndpointError, match=r"no answer within 3s"):
        prom.targets()
    assert double.calls[0].timeout == (1.0, 3.0)


def test_queries_keep_the_session_adapters_and_do_not_retry() -> None:
    double = PrometheusDouble(query=lambda expr: Reply(503, "Service Unavailable"))
    prom = client(double)
    with pytest.raises(EndpointError, match="503 Service Unavailable"):
        prom.query("up")
    assert len(double.calls) == 1  # the double answered (not a real socket), once (no retries)


def test_401_from_prometheus_is_unrecoverable() -> None:
    prom = client(PrometheusDouble(status_overrides={"/api/v1/query": 401}))
    with pytest.raises(AuthError, match="answered 401 Unauthorized"):
        prom.query("up")


def test_404_suggests_the_prometheus_port() -> None:
    double = PrometheusDouble(base_url="http://127.0.0.1:3000", status_overrides={"/api/v1/query": 404})
    with pytest.raises(
        EndpointError, match=r"-> 404 .*is --prometheus-url the Prometheus HTTP port \(9090\)"
    ):
        client(double).query("up")


def test_html_answer_says_the_url_is_not_prometheus() -> None:
    prom = client(PrometheusDouble(query=lambda expr: "<!doctype html><title>Grafana</title>"))
    with pytest.raises(EndpointError, match=r"not JSON .*is --prometheus-url pointing at Prometheus\?"):
        prom.query("up")


def test_error_text_is_redacted() -> None:
    register_secret("T0ken-XYZ-123")
    prom = client(PrometheusDouble(errors={"up": "unknown header T0ken-XYZ-123"}))
    with pytest.raises(EndpointError) as caught:
        prom.query("up")
    assert "T0ken-XYZ-123" not in str(caught.value)


def test_count_each_sends_one_request_for_all_expressions() -> None:
    double = PrometheusDouble(
        vectors={
            'up{job="todo-backend"}': [TODO_UP],
            "node_cpu_seconds_total": [({"cpu": str(i)}, 10.0) for i in range(4)],
        }
    )
    counts = client(double).count_each(
        {"todo": 'up{job="todo-backend"}', "cpu": "node_cpu_seconds_total", "absent": "no_such_metric"}
    )
    assert counts == {"todo": 1, "cpu": 4, "absent": 0}
    assert len(double.calls) == 1
    [sent] = double.queries
    assert sent.count("label_replace(count(") == 3
    assert sent.count(" or ") == 2


def test_count_each_expression_shape() -> None:
    expr = count_each_expr({"a": "up", 'we"ird': "x"})
    assert expr == (
        f'label_replace(count(up), "{KEY_LABEL}", "a", "", "") or '
        f'label_replace(count(x), "{KEY_LABEL}", "we\\"ird", "", "")'
    )
    with pytest.raises(ValueError, match="at least one"):
        count_each_expr({})


def test_count_each_fails_as_a_whole_on_a_bad_expression() -> None:
    double = PrometheusDouble(errors={"rate(up)": 'expected type range vector in call to function "rate"'})
    with pytest.raises(EndpointError, match="range vector"):
        client(double).count_each({"ok": "up", "bad": "rate(up)"})


def test_targets_are_parsed() -> None:
    targets = client(PrometheusDouble()).targets()
    assert [t.job for t in targets] == ["kubelet", "todo-backend", "kube-controller-manager"]
    down = targets[2]
    assert not down.up
    assert down.health == "down"
    assert "connection refused" in down.last_error
    assert down.scrape_pool == "serviceMonitor/monitoring/kps-kube-controller-manager/0"
    assert targets[1].up
    assert targets[1].labels["namespace"] == "todo"
    assert targets[1].scrape_url == "http://10.244.0.21:8000/metrics"
    assert targets[1].last_scrape.startswith("2026-11-18T11:06:38")


def test_up_by_job_counts_up_and_down() -> None:
    jobs = client(PrometheusDouble(vectors={"up": payload("prometheus/query-up.json")})).up_by_job()
    assert jobs["todo-backend"].up == 1
    assert jobs["todo-backend"].down == 0
    assert jobs["kube-controller-manager"].down == 1
    assert jobs["kube-controller-manager"].total == 1


def test_ready_and_buildinfo() -> None:
    prom = client(PrometheusDouble())
    assert prom.ready() == "Prometheus Server is Ready."
    assert prom.version() == "3.14.0"
    assert prom.buildinfo()["goVersion"] == "go1.26.5"


def test_not_ready_is_an_endpoint_error() -> None:
    prom = client(PrometheusDouble(ready=False))
    with pytest.raises(EndpointError, match=r"/-/ready -> 503 .*not ready yet"):
        prom.ready()


def test_evidence_of_the_last_query() -> None:
    prom = client(PrometheusDouble(vectors={"up": [TODO_UP]}))
    prom.query("up")
    assert prom.endpoint.last_request == "GET /api/v1/query?query=up -> 200"


def test_a_plain_transport_works_too() -> None:
    double = RecordedTransport(base_url="http://prometheus.test")
    double.route("GET", "/api/v1/query", lambda call, m: payload("prometheus/query-container-cpu.json"))
    prom = Prometheus(double.endpoint(name="Prometheus"))
    assert prom.query("cpu")[0].metric["container"] == "todo-backend"


def test_query_range_widens_the_window_to_whole_seconds_outwards() -> None:
    """The client rounds to whole seconds: 88.427 would become 88 and cut off a rate seen at 88.2."""
    double = PrometheusDouble()
    matrix = {"resultType": "matrix", "result": [{"metric": {"job": "todo-backend"},
                                                  "values": [[86, "1"], [89, "2"]]}]}  # fmt: skip
    double.route("GET", r"/api/v1/query_range", lambda c, m: {"status": "success", "data": matrix})

    [series] = client(double).query_range("up", 85.745, 88.427, 1.0)

    [call] = [c for c in double.calls if c.path == "/api/v1/query_range"]
    assert (call.param("start"), call.param("end"), call.param("step")) == ("85", "89", "1")
    assert series.points == ((86.0, 1.0), (89.0, 2.0))
