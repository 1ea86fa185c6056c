"""The Grafana HTTP API: health, dashboards, datasource health, and running panel queries (/api/ds/query).

``ds_query`` parses Grafana's columnar data frames per refId into a :class:`RefResult` (error, frames,
series, rows, a sample of values), also when Grafana answers 400 because one of the queries failed.
``panel_queries`` (from :mod:`monitoring_conformance.api.panels`) turns a dashboard panel into the
``queries`` of such a call.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from monitoring_conformance.api.http import Endpoint, decode_json, endpoint_error
from monitoring_conformance.api.panels import DATASOURCE_UIDS, panel_queries, resolve_datasource
from monitoring_conformance.errors import EndpointError
from monitoring_conformance.redact import redact, register_secret

__all__ = [
    "DATASOURCE_UIDS",
    "DatasourceHealth",
    "DsResult",
    "Grafana",
    "RefResult",
    "panel_queries",
    "parse_ds_response",
    "resolve_datasource",
]

HINTS = {
    401: "check MC_GRAFANA_USER/MC_GRAFANA_PASSWORD (or MC_GRAFANA_TOKEN) or the grafana Secret",
    404: "is --grafana-url Grafana's HTTP address (Service grafana, port 80)?",
}
#: How many values RefResult.sample keeps.
SAMPLE_SIZE = 3
#: Names of the log line field in Loki frames (``Line``; ``body`` in the newer log frame format).
LINE_FIELDS = ("Line", "body")


@dataclass(frozen=True)
class DatasourceHealth:
    """``/api/datasources/uid/<uid>/health``: status ``OK`` or ``ERROR`` and Grafana's message."""

    uid: str
    status: str
    message: str

    @property
    def ok(self) -> bool:
        return self.status.upper() == "OK"


@dataclass(frozen=True)
class RefResult:
    """What one query (one refId) of /api/ds/query returned."""

    ref_id: str
    status: int | None
    error: str | None
    frames: int
    series: int  # frames that hold at least one data row
    rows: int  # rows with a finite number (or log lines), over all frames; nulls/NaN do not count
    sample: list[Any] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None

    def describe(self) -> str:
        if self.error is not None:
            return f"{self.ref_id}: error {self.error}"
        return f"{self.ref_id}: {self.series} series, {self.rows} rows in {self.frames} frames"


@dataclass(frozen=True)
class DsResult:
    """The answer of one /api/ds/query call, by refId."""

    http_status: int
    results: dict[str, RefResult]

    def __getitem__(self, ref_id: str) -> RefResult:
        return self.results[ref_id]

    @property
    def errors(self) -> dict[str, str]:
        return {ref: r.error for ref, r in self.results.items() if r.error is not None}

    @property
    def rows(self) -> int:
        return sum(r.rows for r in self.results.values())

    def describe(self) -> str:
        """``A: 2 series, 6 rows in 2 frames; B: error bad_data: ...``."""
        return "; ".join(r.describe() for r in self.results.values()) or "no results"


def grafana_login(endpoint: Endpoint, user: str, password: str) -> None:
    """Log in once; Grafana's session cookie then rides along (also through the API-server proxy, which
    drops an Authorization header)."""
    register_secret(password)
    endpoint.post_json("login", {"user": user, "password": password})


class Grafana:
    """A Grafana server reached through ``endpoint`` (credentials live in the endpoint's session)."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        endpoint.add_hints(HINTS)

    def __repr__(self) -> str:
        return f"Grafana({self.endpoint.describe()!r})"

    def health(self) -> dict[str, str]:
        """GET /api/health (no auth needed): ``{"database": "ok", "version": ...}``.

        Raises EndpointError unless the database is ``ok`` (Grafana answers 503 ``failing`` while it is not).
        """
        response = self.endpoint.get("/api/health", ok=(200, 503))
        data = decode_json(self.endpoint, response, expect="Grafana health JSON")
        health = {str(k): str(v) for k, v in (data or {}).items()} if isinstance(data, dict) else {}
        if health.get("database") != "ok":
            raise endpoint_error(
                f"Grafana is not healthy: database is {health.get('database', 'unknown')!r}"
                f" (GET /api/health -> {response.status_code}, {self.endpoint.where()})",
                url=self.endpoint.url("/api/health"),
                status=response.status_code,
            )
        return health

    def buildinfo(self) -> dict[str, str]:
        """``buildInfo`` from /api/frontend/settings (needs credentials unless anonymous access is on)."""
        data = decode_json(self.endpoint, self.endpoint.get("/api/frontend/settings"))
        info = data.get("buildInfo") if isinstance(data, dict) else None
        return {str(k): str(v) for k, v in (info or {}).items()}

    def version(self) -> str | None:
        """Grafana's version: from /api/health, else from the frontend settings; None when hidden."""
        version = self.health().get("version")
        if version:
            return version
        try:
            return self.buildinfo().get("version") or None
        except EndpointError:
            return None

    def search_dashboards(self, query: str | None = None) -> list[dict[str, Any]]:
        """GET /api/search?type=dash-db: every dashboard (uid, title, url, tags, folder...)."""
        params: dict[str, str | int] = {"type": "dash-db", "limit": 5000}
        if query:
            params["query"] = query
        data = decode_json(self.endpoint, self.endpoint.get("/api/search", params))
        if not isinstance(data, list):
            raise endpoint_error(
                f"GET /api/search answered {type(data).__name__}, not a list ({self.endpoint.where()})",
                url=self.endpoint.url("/api/search"),
            )
        return [item for item in data if isinstance(item, dict) and item.get("type", "dash-db") == "dash-db"]

    def dashboard(self, uid: str) -> dict[str, Any]:
        """The dashboard model (panels, templating...) of ``uid``. EndpointError when it does not exist."""
        path = f"/api/dashboards/uid/{uid}"
        hint = f"dashboard uid {uid} not found; check that the chart provisions dashboards/{uid}.json"
        data = decode_json(self.endpoint, self.endpoint.get(path, hints={404: hint}))
        model = data.get("dashboard") if isinstance(data, dict) else None
        if not isinstance(model, dict):
            raise endpoint_error(f"GET {path} answered without a dashboard ({self.endpoint.where()})")
        return model

    def datasource_health(self, uid: str) -> DatasourceHealth:
        """GET /api/datasources/uid/<uid>/health. An ERROR status is returned, not raised."""
        path = f"/api/datasources/uid/{uid}/health"
        hint = f"datasource uid {uid} not found; check the chart's datasource provisioning"
        response = self.endpoint.get(path, ok=(200, 400, 500, 503), hints={404: hint})
        data = decode_json(self.endpoint, response)
        if not isinstance(data, dict) or "status" not in data:
            raise self.endpoint.status_error("GET", response.url, response.status_code, response.text)
        return DatasourceHealth(uid, str(data["status"]), redact(str(data.get("message", ""))))

    def ds_query(
        self,
        queries: Sequence[Mapping[str, Any]],
        *,
        from_: str | int | float = "now-5m",
        to: str | int | float = "now",
    ) -> DsResult:
        """POST /api/ds/query. ``from_``/``to`` are Grafana times (``now-5m``) or epoch milliseconds.

        Per-query errors come back in the result (Grafana answers 400 when a query fails), not as exceptions.
        """
        body = {"queries": [dict(q) for q in queries], "from": _time(from_), "to": _time(to)}
        response = self.endpoint.post_json("/api/ds/query", body, ok=range(200, 600))
        data = None
        if response.text.strip():
            try:
                data = response.json()
            except ValueError:
                data = None
        if not isinstance(data, dict) or not isinstance(data.get("results"), dict):
            self.endpoint.check(response)  # 401, 404, 5xx...: the usual error
            raise endpoint_error(
                f"POST /api/ds/query -> {response.status_code} without per-query results"
                f" ({self.endpoint.where()}): {self.endpoint.excerpt(response.text)}",
                url=self.endpoint.url("/api/ds/query"),
                status=response.status_code,
            )
        return parse_ds_response(data, response.status_code, [str(q.get("refId", "")) for q in queries])


def parse_ds_response(data: Mapping[str, Any], http_status: int, ref_ids: Sequence[str] = ()) -> DsResult:
    """Per-refId summaries of an /api/ds/query body; refIds asked for but missing count as errors."""
    results: dict[str, RefResult] = {}
    for ref_id, raw in (data.get("results") or {}).items():
        results[str(ref_id)] = _ref_result(str(ref_id), raw if isinstance(raw, dict) else {})
    for ref_id in ref_ids:
        if ref_id and ref_id not in results:
            results[ref_id] = RefResult(ref_id, None, "Grafana returned no result for this query", 0, 0, 0)
    return DsResult(http_status, results)


def _ref_result(ref_id: str, raw: Mapping[str, Any]) -> RefResult:
    frames = [f for f in raw.get("frames") or [] if isinstance(f, dict)]
    rows = 0
    series = 0
    sample: list[Any] = []
    for frame in frames:
        count = _frame_rows(frame)
        rows += count
        if count:
            series += 1
            if not sample:
                sample = _frame_sample(frame)
    error = raw.get("error")
    status = raw.get("status")
    return RefResult(
        ref_id=ref_id,
        status=int(status) if isinstance(status, int) else None,
        error=redact(str(error)) if error else None,
        frames=len(frames),
        series=series,
        rows=rows,
        sample=sample,
    )


def _columns(frame: Mapping[str, Any]) -> list[list[Any]]:
    data = frame.get("data") or {}
    values = data.get("values") if isinstance(data, dict) else None
    return [col if isinstance(col, list) else [] for col in values or []]


def _fields(frame: Mapping[str, Any]) -> list[dict[str, Any]]:
    schema = frame.get("schema") or {}
    raw_fields = schema.get("fields") if isinstance(schema, dict) else None
    return [f if isinstance(f, dict) else {} for f in raw_fields or []]


def _line_index(fields: Sequence[Mapping[str, Any]]) -> int | None:
    """The log line field of a log frame (``Line``, or ``body`` in the newer log frame format)."""
    found = (i for i, f in enumerate(fields) if f.get("name") in LINE_FIELDS and f.get("type") != "number")
    return next(found, None)


def _is_data(value: Any) -> bool:
    """A finite number (not a bool): null, NaN and infinities are not data (Grafana sends NaN as null)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _frame_rows(frame: Mapping[str, Any]) -> int:
    """Rows that hold data: for a log frame, non-empty lines; otherwise rows with at least one finite
    number in a field that is not a time field. A frame of nulls (or NaN) has no data rows."""
    columns = _columns(frame)
    fields = _fields(frame)
    line = _line_index(fields)
    if line is not None and line < len(columns):
        return sum(1 for v in columns[line] if isinstance(v, str) and v.strip())
    numeric = [
        col
        for i, col in enumerate(columns)
        if (fields[i].get("type") if i < len(fields) else None) in (None, "number")
        and (fields[i].get("name") if i < len(fields) else None) != "Time"
    ]
    length = max((len(col) for col in numeric), default=0)
    return sum(1 for row in range(length) if any(row < len(col) and _is_data(col[row]) for col in numeric))


def _frame_sample(frame: Mapping[str, Any]) -> list[Any]:
    """The first few values of the frame's most telling field: the log line, else the first number field."""
    columns = _columns(frame)
    fields = _fields(frame)
    index = _line_index(fields)
    if index is None:
        index = next((i for i, f in enumerate(fields) if f.get("type") == "number"), None)
    if index is None or index >= len(columns):
        index = len(columns) - 1
    return list(columns[index][:SAMPLE_SIZE]) if columns else []


def _time(value: str | int | float) -> str:
    return value if isinstance(value, str) else str(int(value))
