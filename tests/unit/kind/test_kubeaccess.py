"""The API-server proxy access: session from a kubeconfig, proxy URLs, bad input, the Grafana Secret."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import pytest
import requests
from bootstrap_doubles import EnvRecordingRunner
from kubernetes.client import ApiException, V1ObjectMeta, V1Secret
from tests.doubles import RecordedTransport, Reply
from tests.doubles.runner import RecordingRunner

from monitoring_conformance.api.http import API_SERVER_PROXY
from monitoring_conformance.errors import ConformanceError, UsageError
from monitoring_conformance.redact import redact
from monitoring_conformance.release import ClusterHelm
from monitoring_conformance.settings import Settings
from monitoring_conformance.targets.kubeaccess import (
    Connection,
    core_api,
    grafana_secret_ref,
    read_grafana_credentials,
    values_secret_ref,
)
from monitoring_conformance.targets.kubeconfig import KubeconfigTarget, kube_session, service_proxy_url
from monitoring_conformance.tools.kubectl import Kubectl

from .conftest import API_SERVER, TOKEN, write_kubeconfig

pytestmark = pytest.mark.unit


class CoreV1ApiDouble:
    """Stands in for kubernetes.client.CoreV1Api: answers read_namespaced_secret from hand-made objects."""

    def __init__(self, secrets: dict[tuple[str, str], V1Secret] | None = None, *, status: int | None = None):
        self.secrets = secrets or {}
        self.status = status
        self.reads: list[tuple[str, str]] = []

    def read_namespaced_secret(self, name: str, namespace: str) -> V1Secret:
        self.reads.append((namespace, name))
        if self.status is not None:
            raise ApiException(status=self.status, reason="Forbidden")
        if (namespace, name) not in self.secrets:
            raise ApiException(status=404, reason="Not Found")
        return self.secrets[(namespace, name)]


def grafana_secret(name: str = "grafana", **data: str) -> V1Secret:
    encoded: dict[str, bytes | str] = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    return V1Secret(metadata=V1ObjectMeta(name=name, namespace="monitoring"), data=encoded, type="Opaque")


# -- session --------------------------------------------------------------------------------------------


def test_session_authenticates_with_the_kubeconfig_token(tmp_path: Path) -> None:
    config = write_kubeconfig(tmp_path / "kubeconfig")
    session, api_base = kube_session(str(config), None)
    transport = RecordedTransport(base_url=API_SERVER)
    transport.route("GET", "/version", lambda call, match: {"gitVersion": "v1.36.1"})
    transport.mount(session)

    session.get(f"{api_base}/version", timeout=5)

    assert api_base == API_SERVER
    assert transport.calls[0].header("Authorization") == f"Bearer {TOKEN}"
    assert session.verify is False  # insecure-skip-tls-verify in the kubeconfig
    assert TOKEN not in redact(f"token {TOKEN} leaked")


def test_named_context_is_used(tmp_path: Path) -> None:
    config = write_kubeconfig(tmp_path / "kubeconfig", contexts=("a", "b"), current="a")

    _, api_base = kube_session(str(config), "b")

    assert api_base == API_SERVER


def test_proxy_url_shape() -> None:
    assert service_proxy_url("https://10.0.0.1:6443/", "monitoring", "kps-prometheus", 9090) == (
        "https://10.0.0.1:6443/api/v1/namespaces/monitoring/services/http:kps-prometheus:9090/proxy"
    )
    assert service_proxy_url("https://h", "m", "loki", 3100, scheme="https").endswith(
        "/https:loki:3100/proxy"
    )


def test_missing_kubeconfig_is_a_usage_error_naming_option_value_and_fix(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "config"

    with pytest.raises(UsageError) as error:
        kube_session(str(missing), None)

    message = str(error.value)
    assert message.startswith(f"--kubeconfig {missing}: kubeconfig file not found")
    assert "kind get kubeconfig" in message
    assert "\n" not in message


def test_env_twin_is_named_when_the_path_came_from_kubeconfig_env(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"^KUBECONFIG= /x/config: kubeconfig file not found"):
        kube_session("/x/config", None, shown_kubeconfig="KUBECONFIG=")


def test_unknown_context_lists_the_available_ones(tmp_path: Path) -> None:
    config = write_kubeconfig(tmp_path / "kubeconfig", contexts=("kind-a", "prod"))

    with pytest.raises(UsageError) as error:
        kube_session(str(config), "kind-zzz")

    assert str(error.value) == (
        f"--context kind-zzz: no such context in {config}; contexts available: kind-a, prod; "
        "pass one of them with --context"
    )


def test_no_current_context_asks_for_one(tmp_path: Path) -> None:
    config = write_kubeconfig(tmp_path / "kubeconfig", contexts=("a",), current="")

    with pytest.raises(UsageError, match="no current-context set; pass --context"):
        kube_session(str(config), None)


def test_garbage_kubeconfig_is_a_usage_error(tmp_path: Path) -> None:
    config = tmp_path / "kubeconfig"
    config.write_text("just: text\n")

    with pytest.raises(UsageError, match=f"--kubeconfig {config}: "):
        kube_session(str(config), None)


def test_connection_builds_proxied_endpoints(tmp_path: Path) -> None:
    config = write_kubeconfig(tmp_path / "kubeconfig")
    connection = Connection(str(config), None, {"monitoring": "mon", "app": "todo"})

    endpoints = connection.endpoints()

    assert (
        endpoints["prometheus"].base_url
        == f"{API_SERVER}/api/v1/namespaces/mon/services/http:kps-prometheus:9090/proxy"
    )
    assert endpoints["grafana"].base_url.endswith("/namespaces/mon/services/http:grafana:80/proxy")
    assert endpoints["loki"].base_url.endswith("/namespaces/mon/services/http:loki:3100/proxy")
    assert endpoints["app"].base_url.endswith("/namespaces/todo/services/http:todo-backend:8000/proxy")
    assert {e.via for e in endpoints.values()} == {API_SERVER_PROXY}
    assert endpoints["grafana"].session is not endpoints["prometheus"].session
    assert endpoints["loki"].session is endpoints["prometheus"].session


def test_grafana_login_posts_once_through_the_proxy(tmp_path: Path) -> None:
    config = write_kubeconfig(tmp_path / "kubeconfig")
    transport = RecordedTransport(base_url=API_SERVER)
    transport.route(
        "POST",
        r".*/services/http:grafana:80/proxy/login",
        lambda call, match: Reply(200, {"message": "Logged in"}),
    )
    connection = Connection(str(config), None, session_hook=transport.mount)

    stack = connection.stack("kubeconfig", credentials=("admin", "pa55-w0rd"), t0=None, t0_source="unknown",
                             versions={}, timings={}, echo=lambda line: None)  # fmt: skip

    assert [c.path for c in transport.calls] == [
        "/api/v1/namespaces/monitoring/services/http:grafana:80/proxy/login"
    ]
    assert transport.calls[0].json() == {"user": "admin", "password": "pa55-w0rd"}
    assert stack.grafana is not None
    assert stack.target == "kubeconfig"
    assert "pa55-w0rd" not in redact("password pa55-w0rd")


def test_grafana_login_failure_is_reported_not_raised(tmp_path: Path) -> None:
    config = write_kubeconfig(tmp_path / "kubeconfig")
    transport = RecordedTransport(base_url=API_SERVER)
    transport.route(
        "POST", r".*/login", lambda call, match: Reply(401, {"message": "invalid username or password"})
    )
    lines: list[str] = []
    connection = Connection(str(config), None, session_hook=transport.mount)

    connection.stack("kind", credentials=("admin", "wrong-pass-123"), t0=None, t0_source="unknown",
                     versions={}, timings={}, echo=lines.append)  # fmt: skip

    assert len(lines) == 1
    assert "Grafana login through the API-server proxy failed" in lines[0]
    assert "wrong-pass-123" not in lines[0]


# -- Grafana Secret ---------------------------------------------------------------------------------------


def test_secret_is_read_and_its_password_registered_for_redaction() -> None:
    api = CoreV1ApiDouble(
        {
            ("monitoring", "grafana"): grafana_secret(
                **{"admin-user": "admin", "admin-password": "Zr7-secret-pw"}
            )
        }
    )

    user, password = read_grafana_credentials(api, "monitoring")

    assert (user, password) == ("admin", "Zr7-secret-pw")
    assert api.reads == [("monitoring", "grafana")]
    assert redact("login Zr7-secret-pw") == "login ***"


def test_existing_secret_named_in_the_values_is_used() -> None:
    values: dict[str, Any] = {
        "kube-prometheus-stack": {
            "grafana": {"admin": {"existingSecret": "my-grafana-admin", "userKey": "u", "passwordKey": "p"}}
        }
    }
    api = CoreV1ApiDouble(
        {
            ("monitoring", "my-grafana-admin"): grafana_secret(
                "my-grafana-admin", u="root", p="pw-from-own-secret"
            )
        }
    )

    ref = grafana_secret_ref(values)

    assert ref == ("my-grafana-admin", "u", "p")
    assert read_grafana_credentials(api, "monitoring", ref) == ("root", "pw-from-own-secret")


def test_default_secret_ref_when_values_say_nothing() -> None:
    assert grafana_secret_ref({}) == ("grafana", "admin-user", "admin-password")


def test_missing_key_names_the_secret_and_the_fix() -> None:
    api = CoreV1ApiDouble({("monitoring", "grafana"): grafana_secret(**{"admin-user": "admin"})})

    with pytest.raises(ConformanceError, match="Secret monitoring/grafana has no key admin-password: set"):
        read_grafana_credentials(api, "monitoring")


def test_forbidden_secret_read_says_what_to_grant() -> None:
    with pytest.raises(ConformanceError, match=r"\(403 Forbidden\): grant `get secrets`"):
        read_grafana_credentials(CoreV1ApiDouble(status=403), "monitoring")


def test_session_is_a_requests_session(tmp_path: Path) -> None:
    session, _ = kube_session(str(write_kubeconfig(tmp_path / "kc")), None)

    assert isinstance(session, requests.Session)


# -- a KUBECONFIG path list (a:b) ----------------------------------------------------------------------------


def two_kubeconfigs(tmp_path: Path) -> str:
    """``first:second``: the context this run wants is in the second file, with its own server and token."""
    first = write_kubeconfig(tmp_path / "first", contexts=("other",))
    second = tmp_path / "second"
    second.write_text(
        "apiVersion: v1\nkind: Config\n"
        "clusters:\n- name: c2\n  cluster:\n    server: https://10.9.9.9:6443\n"
        "    insecure-skip-tls-verify: true\n"
        "users:\n- name: u2\n  user:\n    token: second-token-0123456789\n"
        "contexts:\n- name: kind-mc-test\n  context: {cluster: c2, user: u2}\n",
        encoding="utf-8",
    )
    return f"{first}{os.pathsep}{second}"


def test_path_list_goes_to_helm_and_kubectl_in_the_environment(tmp_path: Path, tools: Path) -> None:
    listed = two_kubeconfigs(tmp_path)
    runner = EnvRecordingRunner()
    runner.on(["helm", "status"], stdout='{"info": {"status": "deployed"}}')

    Kubectl(runner, kubeconfig=listed, context="kind-mc-test").pods("monitoring")
    ClusterHelm(runner, "helm", kubeconfig=listed, context="kind-mc-test").status("monitoring", "monitoring")

    assert all("--kubeconfig" not in call for call in runner.calls)
    assert runner.commands()[0][:3] == ("kubectl", "--context", "kind-mc-test")
    assert runner.commands()[1][-2:] == ("--kube-context", "kind-mc-test")
    assert runner.envs == [{"KUBECONFIG": listed}, {"KUBECONFIG": listed}]


def test_one_kubeconfig_file_stays_a_flag(tmp_path: Path, tools: Path) -> None:
    runner = EnvRecordingRunner()

    Kubectl(runner, kubeconfig=tmp_path / "one").pods("monitoring")

    assert runner.calls[0][1:3] == ("--kubeconfig", str(tmp_path / "one"))
    assert runner.envs == [None]


def test_path_list_is_merged_by_the_kubernetes_client(tmp_path: Path) -> None:
    listed = two_kubeconfigs(tmp_path)

    session, api_base = kube_session(listed, "kind-mc-test")
    api = core_api(listed, "kind-mc-test")

    assert api_base == "https://10.9.9.9:6443"
    assert api.api_client.configuration.host == "https://10.9.9.9:6443"
    request = requests.Request("GET", f"{api_base}/version")
    prepared = session.prepare_request(request)
    assert prepared.headers["Authorization"] == "Bearer second-token-0123456789"


def test_path_list_plan_names_the_environment_not_a_flag(tmp_path: Path, tools: Path) -> None:
    listed = two_kubeconfigs(tmp_path)
    settings = Settings(target="kubeconfig", kubeconfig=listed, context="kind-mc-test", install_chart=True)

    plan = KubeconfigTarget(settings, RecordingRunner()).plan()

    assert [f"# helm and kubectl get KUBECONFIG={listed} in the environment (a path list)"] in plan
    assert all("--kubeconfig" not in argv for argv in plan)


def test_a_kubeconfig_the_client_cannot_load_is_a_conformance_error(tmp_path: Path) -> None:
    (empty := tmp_path / "empty").write_text("")

    with pytest.raises(ConformanceError, match=r"^cannot load the kubeconfig .*empty for the kubernetes"):
        core_api(str(empty), None)


def test_admin_secret_reference_comes_from_the_values_files(tmp_path: Path) -> None:
    chart_values = tmp_path / "values.yaml"
    chart_values.write_text("kube-prometheus-stack: {grafana: {admin: {existingSecret: '', userKey: u}}}\n")
    ours = tmp_path / "ours.yaml"
    ours.write_text("kube-prometheus-stack: {grafana: {admin: {existingSecret: mine, passwordKey: pw}}}\n")

    assert values_secret_ref([chart_values]) == ("grafana", "u", "admin-password")
    assert values_secret_ref([chart_values, ours, tmp_path / "missing.yaml"]) == ("mine", "u", "pw")
