"""Reaching a stack in a cluster through the API server's service proxy (kubeconfig and kind targets).

No port-forward processes: every service is addressed as
``<api>/api/v1/namespaces/<ns>/services/<scheme>:<name>:<port>/proxy/`` with a :class:`requests.Session`
built from the kubeconfig by the official ``kubernetes`` config loader (certificates, bearer tokens, exec
plugins). The API server drops the ``Authorization`` header before proxying (kubernetes/kubernetes#38775),
so Grafana gets its admin credentials by logging in once (``POST /login``); its session cookie then
travels through the proxy.
"""

from __future__ import annotations

import base64
import contextlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import requests
import yaml
from kubernetes import client as kube_client
from kubernetes import config as _kube_config
from kubernetes.config.config_exception import ConfigException

from monitoring_conformance.api.grafana import grafana_login
from monitoring_conformance.api.http import API_SERVER_PROXY, Endpoint, PinnedTrustSession
from monitoring_conformance.api.loki import TENANT_HEADER
from monitoring_conformance.errors import ConformanceError, ToolError, UsageError
from monitoring_conformance.identity import ServiceEndpoints
from monitoring_conformance.progress import terminal
from monitoring_conformance.redact import register_secret
from monitoring_conformance.settings import Settings
from monitoring_conformance.stack import Stack
from monitoring_conformance.tools.helm import Helm

Echo = Callable[[str], None]
#: The kubernetes config loader ships partial hints; it is used through an Any-typed alias.
kube_config: Any = _kube_config

#: Stable service names and ports of charts/monitoring and the Todo backend (docs/interfaces.md).
SERVICES = {
    "prometheus": ("monitoring", "kps-prometheus", 9090, "Prometheus"),
    "grafana": ("monitoring", "grafana", 80, "Grafana"),
    "loki": ("monitoring", "loki", 3100, "Loki"),
    "app": ("app", "todo-backend", 8000, "Todo backend"),
}
GRAFANA_SECRET = "grafana"  # noqa: S105 - the Secret's name, not a password
DEFAULT_SECRET_REF = (GRAFANA_SECRET, "admin-user", "admin-password")
DEFAULT_KUBECONFIG = "~/.kube/config"


# -- the session ----------------------------------------------------------------------------------------


class _KubeAuth(requests.auth.AuthBase):
    """Adds the kubeconfig's bearer token to every request (asking each time lets exec plugins refresh)."""

    def __init__(self, configuration: Any):
        self.configuration = configuration

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        for setting in self.configuration.auth_settings().values():
            if setting.get("in") == "header" and setting.get("value"):
                value = str(setting["value"])
                register_secret(value.split(" ", 1)[-1])
                request.headers[str(setting.get("key", "authorization"))] = value
        return request


def kubeconfig_paths(kubeconfig: str | None) -> list[Path]:
    """The files named by ``--kubeconfig``/KUBECONFIG (a path list like kubectl's), or ~/.kube/config."""
    raw = kubeconfig or DEFAULT_KUBECONFIG
    return [Path(part).expanduser() for part in raw.split(os.pathsep) if part]


def kube_session(
    kubeconfig: str | None,
    context: str | None,
    *,
    shown_kubeconfig: str = "--kubeconfig",
    shown_context: str = "--context",
) -> tuple[requests.Session, str]:
    """A session that authenticates to the API server as the kubeconfig says, and the API server's URL.

    A missing file or an unknown context is a one-line UsageError naming the option, the value, the
    contexts available and the fix. ``shown_*`` say how the user gave the options (flag or env twin).
    """
    paths = kubeconfig_paths(kubeconfig)
    if not any(path.is_file() for path in paths):
        given = kubeconfig or DEFAULT_KUBECONFIG
        raise UsageError(
            f"{shown_kubeconfig} {given}: kubeconfig file not found; pass an existing kubeconfig "
            "(e.g. `kind get kubeconfig --name NAME > kubeconfig`) or set KUBECONFIG"
        )
    config_file = os.pathsep.join(str(path) for path in paths if path.is_file())
    names, current = _contexts(paths, shown_kubeconfig)
    if context is not None and context not in names:
        raise UsageError(
            f"{shown_context} {context}: no such context in {config_file}; contexts available: "
            f"{', '.join(names) or 'none'}; pass one of them with --context"
        )
    if context is None and not current:
        raise UsageError(
            f"{shown_kubeconfig} {config_file}: no current-context set; pass --context "
            f"(contexts available: {', '.join(names) or 'none'})"
        )
    try:
        configuration = _configuration(config_file, context)
    except (ConfigException, OSError, ValueError) as exc:
        which = context or current
        raise UsageError(f"{shown_kubeconfig} {config_file}: context {which} cannot be loaded ({exc}); "
                         "check its cluster and user entries") from None
    return _session(configuration), str(configuration.host).rstrip("/")


def _contexts(paths: list[Path], shown_kubeconfig: str) -> tuple[list[str], str]:
    """Context names and the current context of the kubeconfig files (first current-context wins)."""
    names: list[str] = []
    current = ""
    for path in paths:
        if not path.is_file():
            continue
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            reason = getattr(exc, "problem", None) or type(exc).__name__
            raise UsageError(f"{shown_kubeconfig} {path}: not a readable kubeconfig ({reason}); "
                             "pass a kubeconfig file with clusters, users and contexts") from None
        if not isinstance(data, dict):
            raise UsageError(f"{shown_kubeconfig} {path}: not a kubeconfig (no mapping at the top); "
                             "pass a kubeconfig file with clusters, users and contexts")
        for entry in data.get("contexts") or []:
            if isinstance(entry, dict) and entry.get("name") and str(entry["name"]) not in names:
                names.append(str(entry["name"]))
        current = current or str(data.get("current-context") or "")
    return names, current


def _session(configuration: Any) -> requests.Session:
    session = PinnedTrustSession()
    session.auth = _KubeAuth(configuration)
    for setting in configuration.auth_settings().values():  # registered before any message can show it
        register_secret(str(setting.get("value") or "").split(" ", 1)[-1])
    if not configuration.verify_ssl:
        session.verify = False
    elif configuration.ssl_ca_cert:
        session.verify = str(configuration.ssl_ca_cert)
    if configuration.cert_file and configuration.key_file:
        session.cert = (str(configuration.cert_file), str(configuration.key_file))
    if configuration.proxy:
        session.proxies = {"http": str(configuration.proxy), "https": str(configuration.proxy)}
    return session


def core_api(kubeconfig: str | None, context: str | None) -> Any:
    """A CoreV1Api for the same kubeconfig/context (used to read the Grafana Secret)."""
    config_file = os.pathsep.join(str(p) for p in kubeconfig_paths(kubeconfig) if p.is_file())
    try:
        configuration = _configuration(config_file, context)
    except (ConfigException, OSError, ValueError) as exc:
        raise ConformanceError(f"cannot load the kubeconfig {kubeconfig or DEFAULT_KUBECONFIG} for the "
                               f"kubernetes client ({exc})") from None
    return kube_client.CoreV1Api(kube_client.ApiClient(configuration))


def _configuration(config_file: str, context: str | None) -> Any:
    configuration = kube_client.Configuration()
    kube_config.load_kube_config(config_file=config_file, context=context, client_configuration=configuration,
                                 persist_config=False)  # fmt: skip
    return configuration


def service_proxy_url(
    api_base: str, namespace: str, service: str, port: int | str, scheme: str = "http"
) -> str:
    """``<api>/api/v1/namespaces/<ns>/services/<scheme>:<name>:<port>/proxy`` (no trailing slash)."""
    return f"{api_base.rstrip('/')}/api/v1/namespaces/{namespace}/services/{scheme}:{service}:{port}/proxy"


# -- Grafana credentials --------------------------------------------------------------------------------


class SecretReader(Protocol):
    """The part of CoreV1Api this module uses (tests pass a CoreV1ApiDouble)."""

    def read_namespaced_secret(self, name: str, namespace: str) -> Any: ...


def grafana_secret_ref(values: Mapping[str, Any]) -> tuple[str, str, str]:
    """(secret name, user key, password key) from the release values (``admin.existingSecret`` or default)."""
    grafana = ((values.get("kube-prometheus-stack") or {}).get("grafana") or {}) if values else {}
    admin = grafana.get("admin") or {}
    name = str(admin.get("existingSecret") or GRAFANA_SECRET)
    return name, str(admin.get("userKey") or "admin-user"), str(admin.get("passwordKey") or "admin-password")


def read_grafana_credentials(
    api: SecretReader, namespace: str, ref: tuple[str, str, str] = DEFAULT_SECRET_REF
) -> tuple[str, str]:
    """(user, password) from the Secret; the password is registered for redaction at once."""
    name, user_key, password_key = ref
    try:
        secret = api.read_namespaced_secret(name, namespace)
    except kube_client.ApiException as exc:
        raise ConformanceError(
            f"cannot read Secret {namespace}/{name} for the Grafana admin login ({exc.status} {exc.reason}): "
            "grant `get secrets` in that namespace or set MC_GRAFANA_USER/MC_GRAFANA_PASSWORD"
        ) from None
    data = getattr(secret, "data", None) or {}
    decoded: dict[str, str] = {}
    for key in (user_key, password_key):
        if key not in data:
            raise ConformanceError(
                f"Secret {namespace}/{name} has no key {key}: set admin.userKey/admin.passwordKey in the "
                "chart values or MC_GRAFANA_USER/MC_GRAFANA_PASSWORD"
            )
        decoded[key] = base64.b64decode(data[key]).decode("utf-8")
    register_secret(decoded[password_key])
    return decoded[user_key], decoded[password_key]


# -- building the stack ---------------------------------------------------------------------------------


@dataclass
class Connection:
    """What both kube targets need to reach the stack."""

    kubeconfig: str | None
    context: str | None
    namespaces: dict[str, str] = field(default_factory=lambda: {"monitoring": "monitoring", "app": "todo"})
    shown_kubeconfig: str = "--kubeconfig"
    shown_context: str = "--context"
    #: Called with every session built (tests mount a transport double here).
    session_hook: Callable[[requests.Session], object] | None = None
    #: sent as X-Scope-OrgID on every Loki request (--loki-tenant)
    loki_tenant: str | None = None

    def session(self) -> tuple[requests.Session, str]:
        session, api_base = kube_session(
            self.kubeconfig, self.context,
            shown_kubeconfig=self.shown_kubeconfig, shown_context=self.shown_context,
        )
        if self.session_hook is not None:
            self.session_hook(session)
        return session, api_base

    def _endpoint(self, key: str, session: requests.Session, api_base: str) -> Endpoint:
        ns_key, service, port, name = SERVICES[key]
        url = service_proxy_url(api_base, self.namespaces[ns_key], service, port)
        return Endpoint(url, session=session, via=API_SERVER_PROXY, name=name, timeout=(10, 30))

    def grafana_endpoint(self) -> Endpoint:
        """Grafana through the API-server proxy, on a session of its own (for its login cookie)."""
        return self._endpoint("grafana", *self.session())

    def endpoints(self) -> dict[str, Endpoint]:
        """One Endpoint per service. Grafana gets a session of its own (its login cookie stays there), and
        so does Loki when a tenant is set (its X-Scope-OrgID header goes to Loki only)."""
        shared, api_base = self.session()
        result: dict[str, Endpoint] = {}
        for key in SERVICES:
            own = key == "grafana" or (key == "loki" and self.loki_tenant)
            session = self.session()[0] if own else shared
            if key == "loki" and self.loki_tenant:
                session.headers[TENANT_HEADER] = self.loki_tenant
            result[key] = self._endpoint(key, session, api_base)
        return result

    def stack(self, target: str, *, credentials: tuple[str, str] | None, t0: float | None, t0_source: str,
              versions: Mapping[str, str], timings: dict[str, float], echo: Echo = terminal) -> Stack:
        """The Stack, logged in to Grafana when ``credentials`` are given (``timings`` kept, not copied)."""
        endpoints = self.endpoints()
        if credentials is not None:
            try:
                grafana_login(endpoints["grafana"], *credentials)
            except ConformanceError as exc:
                echo(f"[{target}] Grafana login through the API-server proxy failed: {exc}")
        ns_key, service, _, _ = SERVICES["app"]
        session, api_base = self.session()  # a session of its own: its requests are not the app's
        identity = ServiceEndpoints(session, api_base, self.namespaces[ns_key], service)
        return Stack(target=target, prometheus=endpoints["prometheus"], grafana=endpoints["grafana"],
                     loki=endpoints["loki"], app=endpoints["app"], app_identity=identity, t0=t0,
                     t0_source=t0_source, namespaces=dict(self.namespaces), versions=dict(versions),
                     timings=timings)  # fmt: skip


def values_secret_ref(files: list[Path]) -> tuple[str, str, str]:
    """The Grafana admin Secret reference from values files (later files win), before the release exists."""
    merged: dict[str, Any] = {}
    for path in files:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            continue
        stack = data.get("kube-prometheus-stack") if isinstance(data, dict) else None
        grafana = stack.get("grafana") if isinstance(stack, dict) else None
        admin = grafana.get("admin") if isinstance(grafana, dict) else None
        if isinstance(admin, dict):
            merged.update({k: v for k, v in admin.items() if v not in (None, "")})
    return grafana_secret_ref({"kube-prometheus-stack": {"grafana": {"admin": merged}}})


def admin_login(
    settings: Settings, reader: Callable[[], SecretReader], namespace: str, ref: tuple[str, str, str]
) -> Callable[[], tuple[str, str] | None]:
    """The Grafana admin login as a callable: MC_GRAFANA_USER/PASSWORD, else a fresh read of the Secret
    (a ConformanceError until helm has created it)."""
    creds = settings.grafana

    def login() -> tuple[str, str] | None:
        for secret in creds.secrets():
            register_secret(secret)
        if creds.user and creds.password:
            return creds.user, creds.password
        return read_grafana_credentials(reader(), namespace, ref)

    return login


def grafana_credentials(
    settings: Settings, helm: Helm | None, reader: Callable[[], SecretReader], *, namespace: str,
    release: str, echo: Echo, target: str,
) -> tuple[str, str] | None:
    """Grafana admin (user, password): MC_GRAFANA_USER/PASSWORD, else the Secret the release's values name.

    A token cannot pass the API-server proxy (it drops Authorization), so MC_GRAFANA_TOKEN is not used.
    """
    creds, ref = settings.grafana, DEFAULT_SECRET_REF
    if not (creds.user and creds.password):
        if creds.token:
            echo(f"[{target}] MC_GRAFANA_TOKEN is not used: the API-server proxy drops the Authorization "
                 "header; using the admin login from the chart's Secret")
        if helm is not None:
            with contextlib.suppress(ToolError):
                ref = grafana_secret_ref(helm.get_values(release, namespace))
    try:
        return admin_login(settings, reader, namespace, ref)()
    except ConformanceError as exc:
        echo(f"[{target}] no Grafana login: {exc}")
        return None
