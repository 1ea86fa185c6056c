"""The urls target: probing URLs at start-up (usage errors vs. systems still starting), credentials."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pytest
import requests
from tests.doubles import GrafanaDouble, LokiDouble, PrometheusDouble, TodoAppDouble, connection_refused
from tests.doubles.runner import RecordingRunner
from tests.doubles.transport import RecordedTransport

from monitoring_conformance import redact, targets
from monitoring_conformance.errors import UsageError
from monitoring_conformance.settings import Settings, resolve
from monitoring_conformance.targets.urls import UrlsTarget, t0_source

pytestmark = pytest.mark.unit

URLS = {
    "prometheus_url": PrometheusDouble.base_url,
    "grafana_url": GrafanaDouble.base_url,
    "loki_url": LokiDouble.base_url,
    "app_url": TodoAppDouble.base_url,
}


def factory(doubles: Mapping[str, RecordedTransport]) -> Callable[[str], requests.Session]:
    def make(system: str) -> requests.Session:
        return doubles[system].mount(requests.Session())

    return make


def healthy(**overrides: RecordedTransport) -> dict[str, RecordedTransport]:
    doubles: dict[str, RecordedTransport] = {
        "Prometheus": PrometheusDouble(),
        "Grafana": GrafanaDouble(),
        "Loki": LokiDouble(),
        "Todo backend": TodoAppDouble(),
    }
    doubles.update({name.replace("_", " "): double for name, double in overrides.items()})
    return doubles


def settings(env: Mapping[str, str] | None = None, **cli: object) -> Settings:
    return resolve({**URLS, **cli}, dict(env or {}))


def test_opens_every_given_url_and_reads_versions() -> None:
    doubles = healthy()

    stack = UrlsTarget(settings(deployed_at="1795773600"), session_factory=factory(doubles)).open()

    assert stack.target == "urls"
    assert stack.prometheus is not None
    assert stack.prometheus.base_url == "http://prometheus.test"
    assert stack.app is not None
    assert stack.t0 == 1795773600.0
    assert stack.t0_source == "--deployed-at 2026-11-27T10:00:00Z"
    assert stack.versions["grafana"] == "13.2.0"
    assert set(stack.versions) == {"prometheus", "grafana", "loki"}
    assert stack.namespaces == {"monitoring": "monitoring", "app": "todo"}


def test_prometheus_url_is_required() -> None:
    target = UrlsTarget(resolve({}, {}), session_factory=factory(healthy()))

    with pytest.raises(
        UsageError, match=r"^--prometheus-url is missing: --target urls needs at least Prometheus"
    ):
        target.open()


def test_unreachable_prometheus_is_a_usage_error_at_once() -> None:
    doubles = healthy(Prometheus=PrometheusDouble(fail_all=connection_refused()))

    with pytest.raises(UsageError) as caught:
        UrlsTarget(settings(), session_factory=factory(doubles)).open()

    assert str(caught.value) == (
        "--prometheus-url http://prometheus.test: connection refused; start Prometheus there or fix the URL"
    )
    assert len(doubles["Prometheus"].calls) == 1


def test_env_twin_is_named_when_the_url_came_from_it() -> None:
    doubles = healthy(Prometheus=PrometheusDouble(fail_all=connection_refused()))
    from_env = resolve({}, {"MC_PROMETHEUS_URL": "http://prometheus.test"})

    with pytest.raises(UsageError, match=r"^MC_PROMETHEUS_URL=http://prometheus.test: connection refused"):
        UrlsTarget(from_env, session_factory=factory(doubles)).open()


def test_grafana_401_is_a_usage_error_naming_the_credentials_source() -> None:
    doubles = healthy(Grafana=GrafanaDouble(credentials=("admin", "right")))
    env = {"MC_GRAFANA_USER": "admin", "MC_GRAFANA_PASSWORD": "wrong-pw-77"}

    with pytest.raises(UsageError) as caught:
        UrlsTarget(settings(env), session_factory=factory(doubles)).open()

    message = str(caught.value)
    assert message.startswith("--grafana-url http://grafana.test: Grafana answered 401 to GET /api/search")
    assert "user/password from MC_GRAFANA_USER/MC_GRAFANA_PASSWORD" in message
    assert "wrong-pw-77" not in message
    assert redact.redact("pw is wrong-pw-77") == "pw is ***"


def test_grafana_credentials_go_into_the_session() -> None:
    doubles = healthy(Grafana=GrafanaDouble(credentials=("admin", "right-pw")))
    env = {"MC_GRAFANA_USER": "admin", "MC_GRAFANA_PASSWORD": "right-pw"}

    stack = UrlsTarget(settings(env), session_factory=factory(doubles)).open()

    assert stack.grafana is not None
    assert stack.grafana.session.auth == ("admin", "right-pw")


def test_grafana_token_becomes_a_bearer_header() -> None:
    stack = UrlsTarget(settings({"MC_GRAFANA_TOKEN": "glsa_tok"}), session_factory=factory(healthy())).open()

    assert stack.grafana is not None
    assert stack.grafana.session.headers["Authorization"] == "Bearer glsa_tok"
    assert redact.redact("glsa_tok") == "***"


def test_loki_404_is_a_usage_error_about_the_port() -> None:
    doubles = healthy(Loki=LokiDouble(status_overrides={"/loki/api/v1/status/buildinfo": 404}))

    with pytest.raises(UsageError) as caught:
        UrlsTarget(settings(), session_factory=factory(doubles)).open()

    assert str(caught.value) == (
        "--loki-url http://loki.test: GET /loki/api/v1/status/buildinfo answered 404 Not Found;"
        " is this Loki's HTTP address (port 3100)? Fix the URL"
    )


@pytest.mark.parametrize(
    ("system", "option"), [("Grafana", "grafana_url"), ("Loki", "loki_url"), ("Todo backend", "app_url")]
)
def test_a_refusing_grafana_loki_or_app_is_left_to_the_checks(system: str, option: str) -> None:
    refusing = RecordedTransport(base_url=URLS[option], fail_all=connection_refused())
    doubles = healthy(**{system.replace(" ", "_"): refusing})
    target = UrlsTarget(settings(), session_factory=factory(doubles))

    stack = target.open()

    assert target.unreachable == {system: "connection refused"}
    assert stack.prometheus is not None


def test_missing_optional_urls_are_none() -> None:
    stack = UrlsTarget(
        resolve({"prometheus_url": URLS["prometheus_url"]}, {}), session_factory=factory(healthy())
    ).open()

    assert (stack.grafana, stack.loki, stack.app) == (None, None, None)
    assert stack.t0 is None
    assert stack.t0_source == "unknown"


def test_plan_runs_nothing() -> None:
    assert UrlsTarget(settings()).plan() == []


def test_create_dispatches_by_name() -> None:
    target = targets.create(settings(), RecordingRunner())

    assert target.name == "urls"


def test_create_names_a_missing_target_implementation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        targets.TARGET_CLASSES, "kind", ("monitoring_conformance.no_such_module", "KindTarget")
    )

    with pytest.raises(UsageError, match=r"^--target kind: this installation has no KindTarget"):
        targets.create(resolve({"target": "kind"}, {}), RecordingRunner())


@pytest.mark.parametrize(
    ("cli", "env", "ini", "expected"),
    [
        ({"deployed_at": "1795773600"}, {}, {}, "--deployed-at 2026-11-27T10:00:00Z"),
        ({}, {"MC_DEPLOYED_AT": "2026-11-27T10:00:00Z"}, {}, "MC_DEPLOYED_AT=2026-11-27T10:00:00Z"),
        ({}, {}, {"deployed_at": "1795773600"}, "ini mc_deployed_at = 2026-11-27T10:00:00Z"),
        ({}, {}, {}, "unknown"),
    ],
    ids=["cli", "env", "ini", "not-given"],
)
def test_t0_source_names_the_option_as_given(
    cli: dict[str, str], env: dict[str, str], ini: dict[str, str], expected: str
) -> None:
    settings = resolve({"prometheus_url": PrometheusDouble.base_url, **cli}, env, ini)

    assert t0_source(settings) == expected
