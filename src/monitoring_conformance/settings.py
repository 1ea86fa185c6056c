"""Options of the conformance suite, resolved once at start-up into a frozen :class:`Settings`.

Every option has a CLI flag, an environment twin, an ini key (``mc_<name>``) and a default. The order is
CLI > env > ini > default. :func:`resolve` is pure: the plugin hands it the three sources as mappings.
``report_dir`` has no ini twin: the CLI prepares the report folder (JUnit path, earlier reports removed)
before pytest reads its configuration, so an ini value could not reach it; ``mc_report_dir`` is refused.
Grafana credentials come only from the environment (or the cluster's Secret), never from a flag.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from monitoring_conformance.errors import UsageError
from monitoring_conformance.redact import mask_userinfo

TARGETS = ("urls", "kubeconfig", "kind", "local")
KEEP_CLUSTER = ("never", "on-failure", "always")
DEFAULT_PROFILE = {"urls": "host", "kubeconfig": "managed", "kind": "kind", "local": "host"}
URL_OPTIONS = ("prometheus_url", "grafana_url", "loki_url", "app_url")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
MAX_LABEL_LENGTH, MAX_HOST_LENGTH = 63, 253


@dataclass(frozen=True)
class Option:
    """One option: its flag, environment twin, default and one-line help."""

    name: str
    flag: str
    env: str
    default: str | None
    help: str
    kind: str = "str"  # str | choice | bool | float | url | path | time
    choices: tuple[str, ...] = ()
    negative_flag: str | None = None
    in_ini: bool = True  # False: no ini twin (an ini value is refused with a UsageError)

    @property
    def dest(self) -> str:
        return f"mc_{self.name}"

    @property
    def ini(self) -> str:
        return f"mc_{self.name}"


OPTIONS: tuple[Option, ...] = (
    Option("target", "--target", "MC_TARGET", "urls",
           "how the stack is reached: urls, kubeconfig, kind or local",
           kind="choice", choices=TARGETS),
    Option("profile", "--profile", "MC_PROFILE", None,
           "requirement profile: a name in fixtures/profiles or a YAML path"
           " (default per target: urls host, kubeconfig managed, kind kind, local host)"),
    Option("report_dir", "--report-dir", "MC_REPORT_DIR", "reports",
           "folder for acceptance.json, acceptance.md, junit.xml and diagnostics/", kind="path",
           in_ini=False),
    Option("strict", "--strict", "MC_STRICT", "true",
           "treat not_verified requirements as failures (--no-strict: report them only)",
           kind="bool", negative_flag="--no-strict"),
    Option("timeout_scale", "--timeout-scale", "MC_TIMEOUT_SCALE", "1",
           "factor applied to every wait budget of the profile", kind="float"),
    Option("prometheus_url", "--prometheus-url", "MC_PROMETHEUS_URL", None,
           "Prometheus base URL (urls target: required)", kind="url"),
    Option("grafana_url", "--grafana-url", "MC_GRAFANA_URL", None,
           "Grafana base URL (urls target)", kind="url"),
    Option("loki_url", "--loki-url", "MC_LOKI_URL", None, "Loki base URL (urls target)", kind="url"),
    Option("loki_tenant", "--loki-tenant", "MC_LOKI_TENANT", None,
           "Loki tenant, sent as X-Scope-OrgID on every Loki request (Loki with auth_enabled: true)"),
    Option("app_url", "--app-url", "MC_APP_URL", None, "Todo backend base URL (urls target)", kind="url"),
    Option("deployed_at", "--deployed-at", "MC_DEPLOYED_AT", None,
           "deployment start, RFC3339 or epoch seconds (t0 of grafana.ready_within_30s)",
           kind="time"),
    Option("kubeconfig", "--kubeconfig", "KUBECONFIG", None,
           "kubeconfig file (kubeconfig target)", kind="path"),
    Option("context", "--context", "MC_CONTEXT", None, "kubeconfig context (default: the current context)"),
    Option("monitoring_namespace", "--monitoring-namespace", "MC_MONITORING_NAMESPACE", "monitoring",
           "namespace of the monitoring release"),
    Option("app_namespace", "--app-namespace", "MC_APP_NAMESPACE", "todo", "namespace of the Todo backend"),
    Option("release", "--release", "MC_RELEASE", "monitoring", "Helm release name of charts/monitoring"),
    Option("install_chart", "--install-chart", "MC_INSTALL_CHART", "false",
           "install or upgrade charts/monitoring before checking (kubeconfig target)", kind="bool"),
    Option("plan", "--plan", "MC_PLAN", "false", "print the commands the target would run, run nothing",
           kind="bool"),
    Option("keep_cluster", "--keep-cluster", "MC_KEEP_CLUSTER", "on-failure",
           "kind cluster retention: never, on-failure or always (never when CI is set)",
           kind="choice", choices=KEEP_CLUSTER),
    Option("cluster_name", "--cluster-name", "MC_CLUSTER_NAME", "monitoring-conformance",
           "kind cluster name"),
    Option("values", "--values", "MC_VALUES", None,
           "chart values file (kind default: charts/monitoring/ci/kind-values.yaml)", kind="path"),
)
OPTION_BY_NAME = {opt.name: opt for opt in OPTIONS}


@dataclass(frozen=True)
class GrafanaCredentials:
    """Grafana credentials from the environment. ``repr`` never shows the secrets."""

    user: str | None = field(default=None)
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)

    @property
    def present(self) -> bool:
        return bool(self.token or (self.user and self.password))

    def describe(self) -> str:
        """Where the credentials came from, for messages (never the values)."""
        if self.token:
            return "token from MC_GRAFANA_TOKEN"
        if self.user and self.password:
            return "user/password from MC_GRAFANA_USER/MC_GRAFANA_PASSWORD"
        return "no credentials (anonymous)"

    def secrets(self) -> list[str]:
        """The secret values, for redaction."""
        return [s for s in (self.password, self.token) if s]


@dataclass(frozen=True)
class Settings:
    """Every option, resolved once. ``sources`` says where each value came from (cli/env/ini/default)."""

    target: str = "urls"
    profile: str = "host"
    report_dir: Path = Path("reports")
    strict: bool = True
    timeout_scale: float = 1.0
    prometheus_url: str | None = None
    grafana_url: str | None = None
    loki_url: str | None = None
    loki_tenant: str | None = None
    app_url: str | None = None
    deployed_at: float | None = None
    kubeconfig: str | None = None
    context: str | None = None
    monitoring_namespace: str = "monitoring"
    app_namespace: str = "todo"
    release: str = "monitoring"
    install_chart: bool = False
    plan: bool = False
    keep_cluster: str = "on-failure"
    cluster_name: str = "monitoring-conformance"
    values: Path | None = None
    grafana: GrafanaCredentials = field(default_factory=GrafanaCredentials)
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)

    def shown(self, name: str) -> str:
        """The option and its value as given: ``--flag value``, ``ENV=value`` or ``ini key = value``."""
        return show(OPTION_BY_NAME[name], self.sources.get(name, "default"), getattr(self, name))

    def urls(self) -> dict[str, str | None]:
        return {name: getattr(self, name) for name in URL_OPTIONS}


def resolve(
    cli: Mapping[str, object | None],
    env: Mapping[str, str],
    ini: Mapping[str, str | None] | None = None,
) -> Settings:
    """Resolve every option (CLI > env > ini > default) and validate it; raise a one-line UsageError."""
    ini = ini or {}
    values: dict[str, object] = {}
    sources: dict[str, str] = {}
    for opt in OPTIONS:
        raw, origin = _pick(opt, cli, env, ini)
        sources[opt.name] = origin
        values[opt.name] = _convert(opt, raw, show(opt, origin, raw))
    if values["keep_cluster"] == "on-failure" and sources["keep_cluster"] == "default" and _is_ci(env):
        values["keep_cluster"] = "never"
    if values["profile"] is None:
        values["profile"] = DEFAULT_PROFILE[str(values["target"])]
    credentials = GrafanaCredentials(
        user=env.get("MC_GRAFANA_USER") or None,
        password=env.get("MC_GRAFANA_PASSWORD") or None,
        token=env.get("MC_GRAFANA_TOKEN") or None,
    )
    if credentials.password and not credentials.user:
        raise UsageError("MC_GRAFANA_PASSWORD is set but MC_GRAFANA_USER is empty; set MC_GRAFANA_USER too")
    return Settings(grafana=credentials, sources=sources, **values)  # type: ignore[arg-type]


def env_timeout_scale(env: Mapping[str, str]) -> float:
    """MC_TIMEOUT_SCALE alone: the factor of a pytest run that opens no suite (a harness's own waits)."""
    opt = OPTION_BY_NAME["timeout_scale"]
    raw, origin = _pick(opt, {}, env, {})
    return float(_convert(opt, raw, show(opt, origin, raw)))  # type: ignore[arg-type]


def show(opt: Option, origin: str, value: object) -> str:
    """Name an option and its value the way the user gave it."""
    if origin == "env":
        return f"{opt.env}={value}"
    if origin == "ini":
        return f"ini {opt.ini} = {value}"
    if isinstance(value, bool):
        return opt.flag if value or not opt.negative_flag else opt.negative_flag
    return f"{opt.flag} {value}" if value is not None else opt.flag


def _pick(
    opt: Option, cli: Mapping[str, object | None], env: Mapping[str, str], ini: Mapping[str, str | None]
) -> tuple[object | None, str]:
    if not opt.in_ini and ini.get(opt.name) not in (None, ""):
        raise UsageError(
            f"ini {opt.ini} = {ini[opt.name]}: {opt.flag} has no ini key; remove it from the ini file and"
            f" pass {opt.flag} {ini[opt.name]} or set {opt.env}={ini[opt.name]}"
        )
    value = cli.get(opt.name)
    if value is not None:
        return value, "cli"
    if env.get(opt.env, "") != "":
        return env[opt.env], "env"
    if ini.get(opt.name) not in (None, ""):
        return ini[opt.name], "ini"
    return opt.default, "default"


def _convert(opt: Option, raw: object | None, shown: str) -> object:
    if raw is None:
        return None
    if opt.kind == "bool":
        return parse_bool(raw, shown)
    text = str(raw).strip()
    if opt.kind == "choice":
        if text not in opt.choices:
            raise UsageError(f"{shown}: unknown value; use one of {', '.join(opt.choices)}")
        return text
    if opt.kind == "float":
        return _to_positive_float(text, shown)
    if opt.kind == "url":
        return check_url(text, shown)
    if opt.kind == "time":
        return parse_time(text, shown)
    if opt.kind == "path":
        if not text:
            raise UsageError(f"{shown}: empty path; give a file or folder path")
        if opt.name == "values":
            return check_values_file(Path(text), shown)
        return text if opt.name == "kubeconfig" else Path(text)
    return text


def check_values_file(path: Path, shown: str) -> Path:
    """A chart values file that exists and is readable; else a one-line UsageError naming the option."""
    if not path.exists():
        reason = "file not found"
    elif not path.is_file():
        reason = "not a file"
    elif not os.access(path, os.R_OK):
        reason = "file not readable"
    else:
        return path
    raise UsageError(f"{shown}: {reason}; pass a values file such as charts/monitoring/ci/kind-values.yaml")


def parse_bool(raw: object, shown: str) -> bool:
    """A yes/no value as every option reads it (true/false, 1/0, yes/no, on/off); else a UsageError."""
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise UsageError(f"{shown}: not a yes/no value; use true or false")


def _to_positive_float(text: str, shown: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{shown}: not a number; give a positive number such as 2") from None
    if not math.isfinite(value) or value <= 0:
        raise UsageError(f"{shown}: must be greater than 0; give a positive number such as 2")
    return value


def check_url(text: str, shown: str) -> str:
    """Return ``text`` without a trailing slash if it is an http(s) URL with a host; else a UsageError.

    Credentials in a URL (``http://user:password@host``) are refused before anything else, and the error
    shows the URL masked (``http://***@host``): they would end up in process listings, shell history and
    CI logs. Grafana credentials come from MC_GRAFANA_USER/MC_GRAFANA_PASSWORD (or MC_GRAFANA_TOKEN).
    """
    masked = mask_userinfo(text)
    if masked != text:
        raise UsageError(
            f"{shown.replace(text, masked)}: credentials in the URL are not accepted; remove the"
            " user:password@ part and set MC_GRAFANA_USER and MC_GRAFANA_PASSWORD (or MC_GRAFANA_TOKEN)"
        )
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https"):
        raise UsageError(f"{shown}: scheme must be http or https; give a URL such as http://127.0.0.1:9090")
    try:
        port = parts.port
    except ValueError:
        raise UsageError(f"{shown}: bad port; give a URL such as http://127.0.0.1:9090") from None
    if not parts.hostname:
        raise UsageError(f"{shown}: no host; give a URL such as http://127.0.0.1:9090")
    del port
    problem = host_problem(parts.hostname)
    if problem:
        raise UsageError(f"{shown}: bad host name ({problem}); give a URL such as http://127.0.0.1:9090")
    return text.rstrip("/")


def host_problem(host: str) -> str | None:
    """Why ``host`` (a URL's host name, without brackets) cannot be looked up, or None.

    DNS allows labels of 1 to 63 characters and names of at most 253; an empty label (``127..0.1``) or a
    longer one would otherwise fail deep in the HTTP stack with a traceback. IPv6 literals pass unchecked.
    """
    if ":" in host:
        return None
    name = host[:-1] if host.endswith(".") else host
    if len(name) > MAX_HOST_LENGTH:
        return f"{len(name)} characters, DNS allows {MAX_HOST_LENGTH}"
    for label in name.split("."):
        if not label:
            return "an empty label between dots"
        if len(label) > MAX_LABEL_LENGTH:
            return f"the label {label[:20]}… has {len(label)} characters, DNS allows {MAX_LABEL_LENGTH}"
        if any(ch.isspace() for ch in label):
            return "white space in the name"
    return None


def parse_time(text: str, shown: str) -> float:
    """RFC3339 (with a zone) or epoch seconds -> epoch seconds."""
    try:
        value = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(value) or value <= 0:
            raise UsageError(f"{shown}: epoch seconds must be positive; give e.g. 2026-11-27T10:00:00Z")
        return value
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"{shown}: not RFC3339 or epoch seconds; give e.g. 2026-11-27T10:00:00Z or 1795773600"
        ) from None
    if stamp.tzinfo is None:
        raise UsageError(f"{shown}: no time zone; add one, e.g. 2026-11-27T10:00:00Z")
    return stamp.timestamp()


def rfc3339(epoch: float) -> str:
    """Epoch seconds -> RFC3339 in UTC (the inverse of :func:`parse_time`)."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _is_ci(env: Mapping[str, str]) -> bool:
    return env.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def check_report_dir(settings: Settings) -> Path:
    """Create the report folder if needed and prove it is writable; else a UsageError naming the option."""
    return ensure_writable(settings.report_dir, settings.shown("report_dir"))


def ensure_writable(directory: Path, shown: str) -> Path:
    """Create ``directory`` and write (and remove) a uniquely named file in it; else a one-line UsageError."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".mc-write-check-"):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UsageError(f"{shown}: not writable ({reason}); pass a writable folder") from None
    return directory


def environment() -> dict[str, str]:
    """The process environment as a plain dict (one call site, easy to replace in tests)."""
    return dict(os.environ)

