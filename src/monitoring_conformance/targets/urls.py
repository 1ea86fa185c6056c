"""The urls target: a stack that already runs, reached at the URLs the user gives.

Only ``--prometheus-url`` is required; a system without a URL is ``None`` in the :class:`Stack`, and the
requirements that need it end up not_verified. Every URL given is probed once, with a short timeout, when
the target opens. Usage errors at start-up, not long waits:

* any URL whose host name does not resolve, that answers 404 (wrong port or path prefix), or 401/403
  (credentials);
* a Prometheus URL that cannot be reached at all (connection refused, timeout): nothing can be checked;
* a URL where another kind of server answers (node_exporter, an HTML page, the Todo backend where
  Prometheus is expected...): :mod:`~monitoring_conformance.targets.identify` names what answered;
* a Loki that needs a tenant (``X-Scope-OrgID``, sent from ``--loki-tenant``) and has none or refuses it.

A Grafana, Loki or Todo backend that refuses connections is *not* a usage error: it may still be starting
(grafana.ready_within_30s measures exactly that) or be down (app.unchanged must report it), so the
requirements that need it wait and fail with their own messages.
"""

from __future__ import annotations

import requests

from monitoring_conformance.api.http import Endpoint
from monitoring_conformance.api.loki import TENANT_HEADER
from monitoring_conformance.errors import UsageError
from monitoring_conformance.redact import register_secret
from monitoring_conformance.settings import OPTION_BY_NAME, Settings, rfc3339, show
from monitoring_conformance.stack import Stack
from monitoring_conformance.targets import identify

#: (connect, read) seconds for the start-up probe of each URL.
PROBE_TIMEOUT = (2.0, 5.0)
#: (connect, read) seconds for the clients' requests.
CLIENT_TIMEOUT = (5.0, 30.0)

#: option -> (system name, probe path, what a 404 means).
SYSTEMS = {
    "prometheus_url": ("Prometheus", "/api/v1/status/buildinfo", "is this Prometheus' address (port 9090)?"),
    "grafana_url": ("Grafana", "/api/health", "is this Grafana's address (port 3000, or 80 via a Service)?"),
    "loki_url": ("Loki", "/loki/api/v1/status/buildinfo", "is this Loki's HTTP address (port 3100)?"),
    "app_url": ("Todo backend", "/healthz", "is this the Todo backend (port 8000)?"),
}
GRAFANA_AUTH_PATH = "/api/search"
#: A Loki path that needs the tenant (buildinfo and /ready answer without one).
LOKI_TENANT_PATH = "/loki/api/v1/labels"


def t0_source(settings: Settings) -> str:
    """How t0 was given, for the report: ``--deployed-at 2026-11-27T10:00:00Z`` (or its env twin)."""
    if settings.deployed_at is None:
        return "unknown"
    origin = settings.sources.get("deployed_at", "default")
    return show(OPTION_BY_NAME["deployed_at"], origin, rfc3339(settings.deployed_at))


def _default_session(system: str) -> requests.Session:
    return requests.Session()


class UrlsTarget:
    """Reach an existing stack by URL; nothing is created and nothing is torn down."""

    name = "urls"

    def __init__(self, settings: Settings, *, session_factory: object = None) -> None:
        self.settings = settings
        self.session_factory = session_factory if callable(session_factory) else _default_session
        self.versions: dict[str, str] = {}
        #: systems that did not answer the start-up probe, and why (they may still be starting)
        self.unreachable: dict[str, str] = {}

    def plan(self) -> list[list[str]]:
        """The urls target runs no commands."""
        return []

    def open(self) -> Stack:
        settings = self.settings
        if not settings.prometheus_url:
            raise UsageError(
                "--prometheus-url is missing: --target urls needs at least Prometheus; pass"
                " --prometheus-url http://HOST:9090 or set MC_PROMETHEUS_URL"
            )
        endpoints: dict[str, Endpoint | None] = {}
        for option, (system, path, hint404) in SYSTEMS.items():
            url = getattr(settings, option)
            if not url:
                endpoints[option] = None
                continue
            session = self.session_factory(system)
            if system == "Grafana":
                self._authorize(session)
            if system == "Loki" and settings.loki_tenant:
                session.headers[TENANT_HEADER] = settings.loki_tenant
            endpoint = Endpoint(url, session=session, name=system, timeout=CLIENT_TIMEOUT)
            self._probe(endpoint, option, path, hint404)
            endpoints[option] = endpoint
        t0 = settings.deployed_at
        return Stack(
            target=self.name,
            prometheus=endpoints["prometheus_url"],
            grafana=endpoints["grafana_url"],
            loki=endpoints["loki_url"],
            app=endpoints["app_url"],
            t0=t0,
            t0_source=t0_source(settings),
            namespaces={"monitoring": settings.monitoring_namespace, "app": settings.app_namespace},
            versions=dict(self.versions),
            timings={},
        )

    def close(self, *, failed: bool) -> None:
        """Nothing to tear down: the stack belongs to the user."""

    def diagnostics(self, directory: object) -> dict[str, str]:
        """The urls target has no cluster to inspect; the API diagnostics cover it."""
        return {}

    # -- helpers --------------------------------------------------------------------------------------

    def _authorize(self, session: requests.Session) -> None:
        creds = self.settings.grafana
        for secret in creds.secrets():
            register_secret(secret)
        if creds.token:
            session.headers["Authorization"] = f"Bearer {creds.token}"
        elif creds.user and creds.password:
            session.auth = (creds.user, creds.password)

    def _probe(self, endpoint: Endpoint, option: str, path: str, hint404: str) -> None:
        """One quick request: transport errors, 404, 401/403 and a server of another kind become one-line
        usage errors. A Loki that demands a tenant the run lacks is refused too."""
        shown = self.settings.shown(option)
        system = endpoint.name
        response = self._get(endpoint, path, shown)
        if response is None:
            return
        if response.status_code in (401, 403):
            raise UsageError(self._auth_message(shown, system, path, response.status_code))
        wrong = response.status_code < 300 and not identify.is_system(system, response)
        if response.status_code == 404 or wrong:
            what = identify.what_answered(lambda p: self._quiet_get(endpoint, p), response, skip=system)
            if response.status_code == 404 and what.startswith("a server that is not"):
                raise UsageError(f"{shown}: GET {path} answered 404 Not Found; {hint404} Fix the URL")
            raise UsageError(f"{shown}: {what} answered there, not {system}; {hint404} Fix the URL")
        self._remember_version(system, response)
        if system == "Grafana":
            self._probe_grafana_auth(endpoint, shown)
        if system == "Loki":
            self._probe_loki_tenant(endpoint, shown)

    def _get(self, endpoint: Endpoint, path: str, shown: str) -> requests.Response | None:
        """GET ``path`` for the start-up probe; None (and the reason in :attr:`unreachable`) when a system
        other than Prometheus cannot be reached, a UsageError when the URL itself is wrong."""
        system = endpoint.name
        try:
            return endpoint.session.get(endpoint.url(path), timeout=PROBE_TIMEOUT, allow_redirects=False)
        except requests.RequestException as exc:
            reason = endpoint.classify(exc)
            if system == "Prometheus" or reason.startswith(("DNS lookup failed", "invalid URL")):
                raise UsageError(f"{shown}: {reason}; start {system} there or fix the URL") from None
            self.unreachable[system] = reason
            return None
        except ValueError as exc:  # the HTTP stack refusing the host name (IDNA, label length)
            reason = " ".join(str(exc).split())[:120]
            raise UsageError(f"{shown}: invalid URL ({reason}); fix the URL") from None

    @staticmethod
    def _quiet_get(endpoint: Endpoint, path: str) -> requests.Response | None:
        try:
            return endpoint.session.get(endpoint.url(path), timeout=PROBE_TIMEOUT, allow_redirects=False)
        except (requests.RequestException, ValueError):
            return None

    def _probe_loki_tenant(self, endpoint: Endpoint, shown: str) -> None:
        """buildinfo answers without a tenant; a path that needs one tells whether the run sends one."""
        response = self._get(endpoint, LOKI_TENANT_PATH, shown)
        if response is None or response.status_code not in (401, 403):
            return
        said = endpoint.excerpt(response.text) or str(response.status_code)
        tenant_opt = OPTION_BY_NAME["loki_tenant"]
        if self.settings.loki_tenant:
            raise UsageError(
                f"{shown}: Loki answered {response.status_code} ({said}) to GET {LOKI_TENANT_PATH} with the"
                f" tenant of {self.settings.shown('loki_tenant')}; check the tenant name"
            )
        raise UsageError(
            f"{shown}: Loki answered {response.status_code} ({said}) to GET {LOKI_TENANT_PATH}: it needs a"
            f" tenant (auth_enabled: true); pass {tenant_opt.flag} TENANT or set {tenant_opt.env}"
        )

    def _probe_grafana_auth(self, endpoint: Endpoint, shown: str) -> None:
        try:
            response = endpoint.session.get(
                endpoint.url(GRAFANA_AUTH_PATH), params={"limit": 1}, timeout=PROBE_TIMEOUT
            )
        except requests.RequestException as exc:
            self.unreachable["Grafana"] = endpoint.classify(exc)
            return
        if response.status_code in (401, 403):
            raise UsageError(self._auth_message(shown, "Grafana", GRAFANA_AUTH_PATH, response.status_code))

    def _auth_message(self, shown: str, system: str, path: str, status: int) -> str:
        if system == "Grafana":
            return (
                f"{shown}: Grafana answered {status} to GET {path} ({self.settings.grafana.describe()});"
                " set MC_GRAFANA_USER and MC_GRAFANA_PASSWORD, or MC_GRAFANA_TOKEN"
            )
        return f"{shown}: {system} answered {status} to GET {path}; it wants credentials the suite lacks"

    def _remember_version(self, system: str, response: requests.Response) -> None:
        try:
            body = response.json()
        except ValueError:
            return
        if not isinstance(body, dict):
            return
        data = body.get("data") if isinstance(body.get("data"), dict) else body
        version = data.get("version") if isinstance(data, dict) else None
        if version:
            self.versions[system.lower()] = str(version)
