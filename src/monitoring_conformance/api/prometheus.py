"""The Prometheus HTTP API: readiness, instant queries, targets.

Queries go through prometheus-api-client's ``PrometheusConnect`` on the endpoint's session. Its exception
carries no status, so the failed response itself is kept by a session hook (requests' public ``hooks``);
both become one-line :class:`~monitoring_conformance.errors.EndpointError` messages that carry Prometheus's
own ``error`` text (``bad_data: parse error ...``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import requests
from prometheus_api_client.exceptions import PrometheusApiClientException
from prometheus_api_client.prometheus_connect import PrometheusConnect
from urllib3.util.retry import Retry

from monitoring_conformance.api.alerting import (
    Alert,
    AlertRule,
    envelope_data,
    prometheus_alerts,
    prometheus_rules,
)
from monitoring_conformance.api.http import Endpoint, decode_json, endpoint_error, shorten
from monitoring_conformance.errors import EndpointError
from monitoring_conformance.redact import redact

T = TypeVar("T")

#: The label count_each() uses to tell its expressions apart in the one combined answer.
KEY_LABEL = "__mc_key"

HINTS = {
    404: "is --prometheus-url the Prometheus HTTP port (9090), without a path prefix?",
    401: "Prometheus needs credentials: check the session's auth (or the API-server proxy's RBAC)",
    503: "Prometheus is not ready yet (starting, or replaying its WAL)",
}

@dataclass(frozen=True)
class Sample:
    """One element of an instant vector: its labels and its value."""

    metric: dict[str, str]
    value: float


@dataclass(frozen=True)
class Series:
    """One series of a range query: its labels and its points (epoch seconds, value)."""

    metric: dict[str, str]
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Target:
    """One active scrape target, as ``/api/v1/targets`` reports it."""

    job: str
    health: str
    scrape_url: str
    last_error: str
    last_scrape: str
    scrape_pool: str
    labels: dict[str, str] = field(default_factory=dict)
    #: ``scrapeInterval`` in seconds (Prometheus >= 2.30 reports it per target); None when not reported.
    scrape_interval: float | None = None

    @property
    def up(self) -> bool:
        return self.health == "up"


@dataclass(frozen=True)
class JobUp:
    """How many ``up`` series of one job are 1 and how many are 0."""

    job: str
    up: int
    down: int

    @property
    def total(self) -> int:
        return self.up + self.down


def count_each_expr(exprs: Mapping[str, str]) -> str:
    """The one PromQL expression :meth:`Prometheus.count_each` sends for ``{key: expr}``."""
    if not exprs:
        raise ValueError("count_each needs at least one expression")
    parts = []
    for key, expr in exprs.items():
        quoted = json.dumps(key)  # a valid PromQL double-quoted string
        parts.append(f'label_replace(count({expr}), "{KEY_LABEL}", {quoted}, "", "")')
    return " or ".join(parts)


class Prometheus:
    """A Prometheus server reached through ``endpoint``."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        endpoint.add_hints(HINTS)
        # PrometheusConnect mounts its own retrying adapter on the session; keep the session's adapters
        # (test doubles, TLS settings) and fail fast instead of retrying with back-off.
        saved = dict(endpoint.session.adapters)
        self.client = PrometheusConnect(
            url=endpoint.base_url,
            session=endpoint.session,
            timeout=endpoint.timeouts,  # type: ignore[arg-type]  # requests accepts (connect, read)
            retry=Retry(total=0),
        )
        endpoint.session.adapters.clear()
        for prefix, adapter in saved.items():
            endpoint.session.mount(prefix, adapter)
        #: The last non-200 response of this endpoint: what PrometheusConnect's exception stood for.
        self._failed: requests.Response | None = None
        endpoint.session.hooks.setdefault("response", []).append(self._keep_failure)

    def __repr__(self) -> str:
        return f"Prometheus({self.endpoint.describe()!r})"

    # -- status ---------------------------------------------------------------------------------------

    def ready(self) -> str:
        """GET /-/ready: the body ("Prometheus Server is Ready.") or EndpointError while it is not ready."""
        return self.endpoint.get("/-/ready").text.strip()

    def buildinfo(self) -> dict[str, str]:
        """``/api/v1/status/buildinfo`` data: version, revision, branch, goVersion..."""
        response = self.endpoint.get("/api/v1/status/buildinfo")
        data = decode_json(self.endpoint, response, expect="Prometheus JSON").get("data") or {}
        return {str(k): str(v) for k, v in data.items()}

    def version(self) -> str | None:
        """The server's version, e.g. ``3.14.0``."""
        return self.buildinfo().get("version")

    # -- queries --------------------------------------------------------------------------------------

    def query(self, expr: str) -> list[Sample]:
        """Run an instant query: one Sample per vector series; a scalar gives one Sample without labels."""
        result = self._call("/api/v1/query", {"query": expr}, lambda: self.client.custom_query(expr))
        return _samples(result, expr)

    def scalar(self, expr: str) -> float | None:
        """A scalar's value, or the sum of a vector's values; ``None`` when the vector is empty."""
        samples = self.query(expr)
        if not samples:
            return None
        return math.fsum(s.value for s in samples)

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[Series]:
        """``/api/v1/query_range`` from ``start`` to ``end`` (epoch seconds) every ``step`` seconds: one
        Series per result series, its points as (epoch s, value); a NaN from Prometheus stays NaN.

        prometheus-api-client sends whole seconds (rounded), so the window is widened to whole seconds
        outwards first: the last point is never before ``end`` (a rate a check saw just before ``end``
        is in the range, not cut off by up to half a second)."""
        start, end = float(math.floor(start)), float(math.ceil(end))
        params = {"query": expr, "start": f"{start:.0f}", "end": f"{end:.0f}", "step": f"{step:g}"}
        response = self._call(
            "/api/v1/query_range",
            params,
            lambda: self.client.custom_query_range(
                expr, start_time=_utc(start), end_time=_utc(end), step=params["step"]
            ),
        )
        found = []
        for item in response or []:
            if not isinstance(item, dict):
                continue
            metric = {str(k): str(v) for k, v in (item.get("metric") or {}).items()}
            points = tuple((float(t), _number(v)) for t, v in item.get("values") or [])
            found.append(Series(metric, points))
        return found

    def count_each(self, exprs: Mapping[str, str]) -> dict[str, int]:
        """How many series each expression returns, in ONE request. Keys with no series are present as 0.

        Each expression must be an instant vector (it is wrapped in ``count(...)``).
        """
        combined = count_each_expr(exprs)
        counts = dict.fromkeys(exprs, 0)
        for sample in self.query(combined):
            key = sample.metric.get(KEY_LABEL)
            if key in counts:
                counts[key] = int(sample.value)
        return counts

    def targets(self, state: str = "active") -> list[Target]:
        """The scrape targets (``/api/v1/targets``), active ones by default."""
        data = self._call("/api/v1/targets", {"state": state}, lambda: self.client.get_targets(state=state))
        targets = []
        for item in (data or {}).get("activeTargets", []):
            labels = {str(k): str(v) for k, v in (item.get("labels") or {}).items()}
            targets.append(
                Target(
                    job=labels.get("job", ""),
                    health=str(item.get("health", "unknown")),
                    scrape_url=str(item.get("scrapeUrl", "")),
                    last_error=redact(str(item.get("lastError", ""))),
                    last_scrape=str(item.get("lastScrape", "")),
                    scrape_pool=str(item.get("scrapePool", "")),
                    labels=labels,
                    scrape_interval=parse_duration(item.get("scrapeInterval")),
                )
            )
        return targets

    def alerts(self) -> list[Alert]:
        """The pending and firing alerts (``/api/v1/alerts``)."""
        response = self.endpoint.get("/api/v1/alerts")
        body = decode_json(self.endpoint, response, expect="Prometheus JSON")
        return prometheus_alerts(envelope_data(body))

    def rules(self) -> list[AlertRule]:
        """The alerting rules Prometheus loaded: state, ``for``, group interval (``/api/v1/rules``)."""
        response = self.endpoint.get("/api/v1/rules", params={"type": "alert"})
        body = decode_json(self.endpoint, response, expect="Prometheus JSON")
        return prometheus_rules(envelope_data(body))

    def up_by_job(self) -> dict[str, JobUp]:
        """``up`` grouped by job: how many targets of each job are up and down."""
        tally: dict[str, list[int]] = {}
        for sample in self.query("up"):
            job = sample.metric.get("job", "")
            pair = tally.setdefault(job, [0, 0])
            pair[0 if sample.value == 1 else 1] += 1
        return {job: JobUp(job, up, down) for job, (up, down) in sorted(tally.items())}

    # -- plumbing -------------------------------------------------------------------------------------

    def _call(self, path: str, params: dict[str, str], call: Callable[[], T]) -> T:
        """Run a PrometheusConnect call; turn its exceptions into EndpointError/AuthError."""
        url = self.endpoint.url(path)
        self._failed = None
        try:
            return call()
        except PrometheusApiClientException as exc:
            failed = self._failed  # the library raises it for a non-200 response, which the hook kept
            status, body = (0, type(exc).__name__) if failed is None else (failed.status_code, failed.text)
            raise self._api_error(url, status, body, params) from None
        except requests.exceptions.JSONDecodeError:
            raise self._not_prometheus(url, "not JSON") from None
        except requests.RequestException as exc:
            raise self.endpoint.transport_error("GET", url, exc, params=params) from None
        except (ValueError, KeyError, TypeError) as exc:
            what = f"JSON without the expected fields ({type(exc).__name__})"
            raise self._not_prometheus(url, what) from None

    def _keep_failure(self, response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        if response.status_code != 200 and (response.url or "").startswith(self.endpoint.base_url):
            self._failed = response
        return response

    def _not_prometheus(self, url: str, what: str) -> EndpointError:
        return endpoint_error(
            f"GET {url} -> 200 but the body is {what} ({self.endpoint.where()});"
            " is --prometheus-url pointing at Prometheus?",
            url=url,
        )

    def _api_error(self, url: str, status: int, body: str, params: dict[str, str]) -> Exception:
        error = _api_error_text(body)
        if status in (400, 422) and error is not None:
            return endpoint_error(
                f"Prometheus rejected the query {shorten(params.get('query', ''), 160)!r}: {error}"
                f" (GET {url} -> {status}, {self.endpoint.where()})",
                url=url,
                status=status,
            )
        return self.endpoint.status_error("GET", url, status, error or body)


def _api_error_text(body: str) -> str | None:
    """``errorType: error`` from a Prometheus error envelope, or None when the body is not one."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict) or "error" not in data:
        return None
    kind = data.get("errorType")
    return f"{kind}: {data['error']}" if kind else str(data["error"])


def _samples(result: Any, expr: str) -> list[Sample]:
    if result is None:
        return []
    # A scalar (or string) result is [timestamp, "value"]; a vector is a list of {metric, value}.
    if isinstance(result, list) and len(result) == 2 and not isinstance(result[0], dict):
        return [Sample({}, _number(result[1]))]
    samples = []
    for item in result:
        if not isinstance(item, dict):
            continue
        metric = {str(k): str(v) for k, v in (item.get("metric") or {}).items()}
        if "value" in item:
            samples.append(Sample(metric, _number(item["value"][1])))
        elif item.get("values"):  # a range vector: take the newest point
            samples.append(Sample(metric, _number(item["values"][-1][1])))
    return samples


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _number(text: Any) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0, "y": 31536000.0}


def parse_duration(text: Any) -> float | None:
    """A Prometheus duration (``15s``, ``1m30s``, ``500ms``) in seconds; None for anything else."""
    if not isinstance(text, str) or not text:
        return None
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(n) * _UNIT_S[u] for n, u in parts)
