"""Loki client over LokiDouble: readiness, labels, series, log queries, and the canary scenarios."""

from __future__ import annotations

import pytest
from tests.doubles import (
    FakeClock,
    LogQLError,
    LogStream,
    LokiDouble,
    connection_refused,
    parse_logql,
    payload_text,
)

from monitoring_conformance.api.http import AuthError
from monitoring_conformance.api.loki import Loki, Stream, line_filter
from monitoring_conformance.errors import EndpointError, WaitTimeout
from monitoring_conformance.wait import eventually

pytestmark = pytest.mark.unit

T0 = 1795000000 * 10**9
START, END = T0 - 600 * 10**9, T0 + 600 * 10**9
TODO = {
    "namespace": "todo",
    "app": "todo-backend",
    "container": "todo-backend",
    "pod": "todo-backend-5c8d9f7b64-qm7tz",
}
SELECTOR = '{namespace="todo", app="todo-backend"}'


def client(double: LokiDouble) -> Loki:
    return Loki(double.endpoint(name="Loki"))


def canary_seen(loki: Loki, token: str) -> Stream:
    streams = loki.lines_containing(token, selector=SELECTOR, start_ns=START, end_ns=END)
    assert streams, f"canary {token} not found under {SELECTOR}"
    return streams[0]


def test_ready() -> None:
    assert client(LokiDouble()).ready() == "ready"


def test_not_ready_surfaces_lokis_reason() -> None:
    reason = payload_text("loki/ready-ingester-not-ready.txt").strip()
    with pytest.raises(EndpointError) as caught:
        client(LokiDouble(ready=reason)).ready()
    assert "GET http://loki.test/ready -> 503 Service Unavailable" in str(caught.value)
    assert "Ingester not ready: waiting for 15s after being ready" in str(caught.value)


def test_404_names_the_path_and_the_loki_port() -> None:
    double = LokiDouble(base_url="http://127.0.0.1:9090")  # Prometheus's port by mistake
    double.status_overrides["/loki/api/v1/labels"] = 404
    with pytest.raises(EndpointError) as caught:
        client(double).labels()
    assert "GET http://127.0.0.1:9090/loki/api/v1/labels -> 404 Not Found" in str(caught.value)
    assert "is --loki-url the Loki HTTP port (3100)?" in str(caught.value)


def test_no_org_id_is_unrecoverable_with_the_fix() -> None:
    with pytest.raises(AuthError, match="auth_enabled: false"):
        client(LokiDouble(tenant="team-a")).labels()


def test_tenant_header_from_the_session_is_accepted() -> None:
    double = LokiDouble(tenant="team-a")
    loki = client(double)
    loki.endpoint.session.headers["X-Scope-OrgID"] = "team-a"
    assert "namespace" in loki.labels()


def test_buildinfo_labels_values_series() -> None:
    loki = client(LokiDouble())
    assert loki.version() == "3.7.6"
    assert loki.labels() == ["app", "container", "namespace", "pod", "service_name"]
    assert loki.label_values("namespace") == ["todo"]
    [series] = loki.series('{namespace="todo"}')
    assert series["app"] == "todo-backend"
    assert loki.series(['{namespace="nowhere"}']) == []


def test_time_window_is_sent_in_nanoseconds() -> None:
    double = LokiDouble()
    client(double).labels(start_ns=1, end_ns=2)
    call = double.calls_to("/loki/api/v1/labels")[0]
    assert (call.param("start"), call.param("end")) == ("1", "2")


def test_query_range_returns_streams_newest_first() -> None:
    double = LokiDouble()
    [stream] = client(double).query_range(SELECTOR, start_ns=START, end_ns=END)
    assert stream.labels["pod"] == "todo-backend-5c8d9f7b64-qm7tz"
    assert [ts for ts, _ in stream.entries] == [1795000000412000123, 1794999998087000456]
    assert '"path":"/api/u1/tasks"' in stream.lines[0]
    call = double.calls_to("/loki/api/v1/query_range")[0]
    assert (call.param("limit"), call.param("direction")) == ("100", "backward")


def test_forward_direction_and_limit() -> None:
    [stream] = client(LokiDouble()).query_range(
        SELECTOR, limit=1, direction="forward", start_ns=START, end_ns=END
    )
    assert [ts for ts, _ in stream.entries] == [1794999998087000456]


def test_bad_direction_is_refused_before_sending() -> None:
    double = LokiDouble()
    with pytest.raises(ValueError, match="direction"):
        client(double).query_range(SELECTOR, direction="sideways", start_ns=START, end_ns=END)
    assert double.calls == []


def test_metric_query_is_an_endpoint_error() -> None:
    with pytest.raises(EndpointError, match="expected log streams"):
        client(LokiDouble()).query_range(f"sum(rate({SELECTOR}[1m]))", start_ns=START, end_ns=END)


def test_bad_logql_shows_lokis_parse_error() -> None:
    with pytest.raises(EndpointError) as caught:
        client(LokiDouble()).query_range("namespace=todo", start_ns=START, end_ns=END)
    assert "-> 400 Bad Request" in str(caught.value)
    assert "parse error at line 1" in str(caught.value)
    assert "Loki rejected the query 'namespace=todo'" in str(caught.value)


def test_canary_arrives() -> None:
    double = LokiDouble()
    double.push(TODO, '{"path":"/api/mc-canary/tasks","canary":"mc-4b1d"}', T0 + 5 * 10**9)
    stream = canary_seen(client(double), "mc-4b1d")
    assert stream.labels == TODO
    assert double.queries == [SELECTOR + " |= `mc-4b1d`"]


def test_canary_never_arrives() -> None:
    fake = FakeClock()
    loki = client(LokiDouble())
    with pytest.raises(WaitTimeout) as caught:
        eventually(
            lambda: canary_seen(loki, "mc-0000"),
            timeout=60,
            interval=2,
            what="canary in Loki",
            clock=fake.clock,
            scale=1,
        )
    assert "canary mc-0000 not found under" in str(caught.value)
    assert "(31 attempts)" in str(caught.value)


def test_canary_arrives_late_within_the_wait() -> None:
    fake = FakeClock()
    double = LokiDouble()
    loki = client(double)

    def probe() -> Stream:
        if fake.now() >= 1010:
            double.push(TODO, "canary=mc-late", T0)
        return canary_seen(loki, "mc-late")

    stream = eventually(probe, timeout=60, interval=2, what="canary", clock=fake.clock, scale=1)
    assert stream.lines == ["canary=mc-late"]


def test_canary_under_the_wrong_labels() -> None:
    double = LokiDouble()
    wrong = {"namespace": "default", "container": "todo-backend", "pod": "todo-backend-5c8d9f7b64-qm7tz"}
    double.push(wrong, '{"canary":"mc-9e2c"}', T0)
    loki = client(double)
    with pytest.raises(AssertionError, match="not found under"):
        canary_seen(loki, "mc-9e2c")
    [found] = loki.lines_containing("mc-9e2c", selector='{pod=~".+"}', start_ns=START, end_ns=END)
    assert found.labels == wrong
    assert "app" not in found.labels


def test_transport_failure() -> None:
    with pytest.raises(EndpointError, match=r"-> connection refused \(Loki at http://loki.test, direct\)"):
        client(LokiDouble(fail_all=connection_refused())).ready()


def test_line_filter_quoting() -> None:
    assert line_filter("mc-1") == "|= `mc-1`"
    assert line_filter("a`b") == '|= "a`b"'


def test_logql_subset_of_the_double() -> None:
    parsed = parse_logql('{namespace="todo", pod=~"todo-.*"} |= "GET" != `healthz`')
    assert parsed.selects({"namespace": "todo", "pod": "todo-1"})
    assert not parsed.selects({"namespace": "todo", "pod": "other"})
    assert parsed.keeps("GET /api")
    assert not parsed.keeps("GET /healthz")
    with pytest.raises(LogQLError, match="empty-compatible"):
        parse_logql('{pod=~".*"}')


def test_streams_can_be_given_to_the_double() -> None:
    double = LokiDouble(streams=[LogStream({"namespace": "todo", "app": "x"}, [(T0, "hello")])])
    [stream] = client(double).query_range('{app="x"}', start_ns=START, end_ns=END)
    assert stream.entries == [(T0, "hello")]
