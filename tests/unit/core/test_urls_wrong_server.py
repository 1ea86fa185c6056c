"""The urls target refuses, at start-up, a URL where another kind of server answers, and a Loki that needs a
tenant the run does not send (Grafana and Loki are doubles here; the real servers are in tests/live)."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from tests.doubles import GrafanaDouble, LokiDouble, PrometheusDouble, TodoAppDouble
from tests.doubles.transport import RecordedTransport, Reply
from tests.unit.core.test_urls_target import factory, healthy, settings
from tests.unit.kind.conftest import write_kubeconfig

from monitoring_conformance.errors import UsageError
from monitoring_conformance.targets import identify
from monitoring_conformance.targets.kubeaccess import Connection
from monitoring_conformance.targets.urls import UrlsTarget

pytestmark = pytest.mark.unit

LOKI, GRAFANA = LokiDouble.base_url, GrafanaDouble.base_url
APP, PROM = TodoAppDouble.base_url, PrometheusDouble.base_url


class HtmlPageDouble(RecordedTransport):
    """A server that answers every GET with the same HTML page, as node_exporter's landing page does."""

    def __init__(self, *, title: str = "Node Exporter", **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        page = f"<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>"
        self.route("GET", r"/.*", lambda c, m: Reply(200, page, {"Content-Type": "text/html; charset=utf-8"}))


def refused(**doubles: RecordedTransport) -> str:
    with pytest.raises(UsageError) as caught:
        UrlsTarget(settings(), session_factory=factory(healthy(**doubles))).open()
    return str(caught.value)


@pytest.mark.parametrize(
    ("doubles", "expected"),
    [
        ({"Loki": PrometheusDouble(base_url=LOKI)},
         "--loki-url http://loki.test: a Prometheus (GET /api/v1/status/buildinfo answered like one) answered"
         " there, not Loki"),
        ({"Grafana": LokiDouble(base_url=GRAFANA)},
         "--grafana-url http://grafana.test: a Loki (GET /loki/api/v1/status/buildinfo answered like one)"
         " answered there, not Grafana"),
        ({"Todo backend": GrafanaDouble(base_url=APP)},
         "--app-url http://todo-backend.test: a Grafana (GET /api/health answered like one) answered there,"
         " not Todo backend"),
        ({"Prometheus": TodoAppDouble(base_url=PROM)},
         "--prometheus-url http://prometheus.test: a Todo backend (GET /healthz answered like one) answered"
         " there, not Prometheus"),
        ({"Loki": HtmlPageDouble(base_url=LOKI)},
         '--loki-url http://loki.test: an HTML page titled "Node Exporter" answered there, not Loki'),
        ({"Prometheus": HtmlPageDouble(base_url=PROM, title="Welcome")},
         '--prometheus-url http://prometheus.test: an HTML page titled "Welcome" answered there,'
         " not Prometheus"),
    ],
    ids=["prometheus-as-loki", "loki-as-grafana", "grafana-as-app", "app-as-prometheus", "html-as-loki",
         "html-as-prometheus"],
)  # fmt: skip
def test_another_kind_of_server_is_refused_naming_what_answered(
    doubles: dict[str, RecordedTransport], expected: str
) -> None:
    message = refused(**doubles)

    assert message.startswith(expected), message
    assert message.endswith("Fix the URL")
    assert "\n" not in message


def test_json_that_matches_no_system_is_named_by_its_answer() -> None:
    odd = RecordedTransport(base_url=GRAFANA)
    odd.route("GET", r"/.*", lambda c, m: {"hello": "world"})

    message = refused(Grafana=odd)

    assert message.startswith(
        "--grafana-url http://grafana.test: a server that is not Grafana (GET /api/health -> 200,"
        " application/json) answered there"
    ), message


def test_grafana_with_a_failing_database_is_still_grafana() -> None:
    grafana = GrafanaDouble()
    grafana.route("GET", r"/api/health", lambda c, m: Reply(503, {"database": "failing"}), first=True)

    stack = UrlsTarget(settings(), session_factory=factory(healthy(Grafana=grafana))).open()

    assert stack.grafana is not None


@pytest.mark.parametrize("system", ["Prometheus", "Loki", "Grafana", "Todo backend"])
def test_each_identity_shape_matches_only_its_own_system(system: str) -> None:
    doubles = {"Prometheus": PrometheusDouble(), "Loki": LokiDouble(), "Grafana": GrafanaDouble(),
               "Todo backend": TodoAppDouble()}  # fmt: skip
    double = doubles[system]
    response = double.mount(requests.Session()).get(double.base_url + identify.IDENTITY_PATHS[system])

    assert [name for name in identify.IDENTITY_PATHS if identify.is_system(name, response)] == [system]


# -- the Loki tenant --------------------------------------------------------------------------------------


def test_loki_that_needs_a_tenant_is_refused_naming_the_option() -> None:
    loki = LokiDouble(tenant="team-a")

    message = refused(Loki=loki)

    assert message == (
        "--loki-url http://loki.test: Loki answered 401 (no org id) to GET /loki/api/v1/labels: it needs a"
        " tenant (auth_enabled: true); pass --loki-tenant TENANT or set MC_LOKI_TENANT"
    )
    assert [c.path for c in loki.calls] == ["/loki/api/v1/status/buildinfo", "/loki/api/v1/labels"]


def test_loki_tenant_is_sent_on_every_loki_request_and_only_there() -> None:
    doubles = healthy(Loki=LokiDouble(tenant="team-a"))

    stack = UrlsTarget(settings(loki_tenant="team-a"), session_factory=factory(doubles)).open()

    assert stack.loki is not None
    loki = doubles["Loki"]
    assert isinstance(loki, LokiDouble)
    assert loki.tenants_seen == ["team-a", "team-a"]
    answer = stack.loki.get("/loki/api/v1/query_range", params={"query": '{namespace="todo"}'})
    assert answer.status_code == 200
    assert loki.tenants_seen[-1] == "team-a"
    others = [c for name, d in doubles.items() if name != "Loki" for c in d.calls]
    assert others
    assert all(c.header("X-Scope-OrgID") is None for c in others)


def test_loki_tenant_from_the_environment_is_named_when_refused() -> None:
    loki = LokiDouble(tenant="team-a")
    loki.status_overrides["/loki/api/v1/labels"] = 403
    target = UrlsTarget(settings({"MC_LOKI_TENANT": "team-b"}), session_factory=factory(healthy(Loki=loki)))

    with pytest.raises(UsageError) as caught:
        target.open()

    assert str(caught.value).startswith(
        "--loki-url http://loki.test: Loki answered 403 (403 Forbidden) to GET /loki/api/v1/labels with the"
        " tenant of MC_LOKI_TENANT=team-b; check the tenant name"
    ), str(caught.value)


def test_loki_double_answers_buildinfo_and_ready_without_a_tenant() -> None:
    double = LokiDouble(tenant="team-a")
    session = double.mount(requests.Session())

    assert session.get(LOKI + "/ready").status_code == 200
    assert session.get(LOKI + "/loki/api/v1/status/buildinfo").json()["version"]
    for path in ("/loki/api/v1/labels", "/loki/api/v1/query_range", "/loki/api/v1/series"):
        response = session.get(LOKI + path)
        assert (response.status_code, response.text) == (401, "no org id\n"), path
    assert session.post(LOKI + "/loki/api/v1/push", json={"streams": []}).status_code == 401
    session.headers["X-Scope-OrgID"] = "team-a"
    assert session.post(LOKI + "/loki/api/v1/push", json={"streams": []}).status_code == 204


def test_kube_connection_sends_the_tenant_to_loki_only(tmp_path: Path) -> None:
    config = write_kubeconfig(tmp_path / "kubeconfig")

    endpoints = Connection(str(config), None, loki_tenant="team-a").endpoints()

    assert endpoints["loki"].session.headers["X-Scope-OrgID"] == "team-a"
    assert all("X-Scope-OrgID" not in e.session.headers for k, e in endpoints.items() if k != "loki")
