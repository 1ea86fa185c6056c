"""GrafanaDouble: the Grafana HTTP API over recorded payloads, plus helpers to build /api/ds/query answers."""

from __future__ import annotations

import base64
import copy
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from tests.doubles.transport import Call, FakeClock, RecordedTransport, Reply, connection_refused, payload

#: Answers one query of an /api/ds/query body with its per-refId result ({"status", "frames"} or {"error"}).
QueryResponder = Callable[[Mapping[str, Any]], Mapping[str, Any]]

BASE_MS = 1795000000 * 1000


def series_frames(ref_id: str, series: Sequence[tuple[Mapping[str, str], Sequence[float]]]) -> dict[str, Any]:
    """A per-refId result with one Prometheus time-series frame per (labels, values)."""
    frames = []
    for labels, values in series:
        times = [BASE_MS - 30_000 * (len(values) - 1 - i) for i in range(len(values))]
        frames.append(
            {
                "schema": {
                    "refId": ref_id,
                    "meta": {"type": "timeseries-multi", "custom": {"resultType": "matrix"}},
                    "fields": [
                        {"name": "Time", "type": "time"},
                        {"name": "Value", "type": "number", "labels": dict(labels)},
                    ],
                },
                "data": {"values": [times, list(values)]},
            }
        )
    return {"status": 200, "frames": frames}


def log_frames(ref_id: str, lines: Sequence[str], labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A per-refId result with one Loki log frame holding ``lines``."""
    stream = dict(labels or {"namespace": "todo", "app": "todo-backend"})
    stamps = [str((BASE_MS - 1000 * i) * 1_000_000) for i in range(len(lines))]
    fields = [
        {"name": "labels", "type": "other"},
        {"name": "Time", "type": "time"},
        {"name": "Line", "type": "string"},
        {"name": "tsNs", "type": "string"},
    ]
    values = [[stream] * len(lines), [int(s) // 1_000_000 for s in stamps], list(lines), stamps]
    return {
        "status": 200,
        "frames": [
            {
                "schema": {
                    "refId": ref_id,
                    "meta": {"custom": {"frameType": "LabeledTimeValues"}},
                    "fields": fields,
                },
                "data": {"values": values},
            }
        ],
    }


def empty_result(ref_id: str) -> dict[str, Any]:
    """A per-refId result for a query that matched nothing: one frame, no fields, no values."""
    return {"status": 200, "frames": [{"schema": {"refId": ref_id, "fields": []}, "data": {"values": []}}]}


def error_result(message: str) -> dict[str, Any]:
    """A per-refId result for a failed query."""
    return {"error": message, "errorSource": "downstream", "status": 400}


def recorded_result(query: Mapping[str, Any]) -> dict[str, Any]:
    """The recorded answer for the query's datasource type, re-labelled with its refId."""
    kind = (query.get("datasource") or {}).get("type", "prometheus")
    name = "grafana/ds-query-loki.json" if kind == "loki" else "grafana/ds-query-prometheus.json"
    result = copy.deepcopy(payload(name)["results"]["A"])
    for frame in result["frames"]:
        frame["schema"]["refId"] = query.get("refId", "A")
    return dict(result)


class GrafanaDouble(RecordedTransport):
    """Answers /api/health, /api/search, /api/dashboards/uid/*, /api/datasources/uid/*/health,
    /api/ds/query and /api/frontend/settings.

    ``search`` lists the search hits (default: one per dashboard in ``dashboards``, which defaults to the
    recorded ``todo-overview``). ``ds_query`` answers each query (default :func:`recorded_result`).
    ``credentials=(user, password)`` makes every endpoint except /api/health demand that basic auth (401
    otherwise). ``health_after=s`` with ``clock`` makes /api/health refuse connections (``unhealthy=
    "refused"``) or answer 503 ``failing`` (``unhealthy="failing"``) until ``s`` seconds after creation.
    """

    base_url = "http://grafana.test"
    not_found_body: ClassVar[Any] = {"message": "Not found"}

    def __init__(
        self,
        *,
        search: Sequence[Mapping[str, Any]] | None = None,
        dashboards: Mapping[str, Mapping[str, Any]] | None = None,
        ds_query: QueryResponder | None = None,
        datasource_health: Mapping[str, Mapping[str, Any]] | None = None,
        health: Mapping[str, Any] | None = None,
        credentials: tuple[str, str] | None = None,
        health_after: float | None = None,
        clock: FakeClock | None = None,
        unhealthy: str = "refused",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if dashboards is None:
            recorded = payload("grafana/dashboard-todo-overview.json")["dashboard"]
            dashboards = {recorded["uid"]: recorded}
        self.dashboards = {uid: dict(model) for uid, model in dashboards.items()}
        self.search = [dict(hit) for hit in search] if search is not None else self._search_from_dashboards()
        self.ds_query = ds_query or recorded_result
        self.datasource_health = dict(
            datasource_health
            if datasource_health is not None
            else {
                "prometheus": payload("grafana/datasource-health-prometheus-ok.json"),
                "loki": {"status": "OK", "message": "Successfully queried the Loki API."},
            }
        )
        self.health = dict(health) if health is not None else payload("grafana/health.json")
        self.credentials = credentials
        self.clock = clock
        self.healthy_at = None if health_after is None else (clock.now() if clock else 0.0) + health_after
        self.unhealthy = unhealthy
        self.route("GET", r"/api/health", self._health)
        self.route("GET", r"/api/search", self._guard(self._search))
        self.route("GET", r"/api/dashboards/uid/(?P<uid>[^/]+)", self._guard(self._dashboard))
        self.route("GET", r"/api/datasources/uid/(?P<uid>[^/]+)/health", self._guard(self._ds_health))
        self.route("POST", r"/api/ds/query", self._guard(self._ds_query))
        self.route(
            "GET",
            r"/api/frontend/settings",
            self._guard(lambda c, m: payload("grafana/frontend-settings.json")),
        )

    def error_body(self, status: int) -> Any:
        if status == 401:
            return payload("grafana/unauthorized.json")
        return {"message": f"status {status}", "statusCode": status}

    @property
    def ds_queries(self) -> list[dict[str, Any]]:
        """Every query received by /api/ds/query, in order."""
        return [q for c in self.calls if c.path == "/api/ds/query" for q in c.json()["queries"]]

    def _search_from_dashboards(self) -> list[dict[str, Any]]:
        return [
            {
                "uid": uid,
                "title": str(model.get("title", uid)),
                "type": "dash-db",
                "url": f"/d/{uid}/{uid}",
                "tags": list(model.get("tags", [])),
            }
            for uid, model in self.dashboards.items()
        ]

    def _guard(self, handler: Callable[[Call, re.Match[str]], Any]) -> Callable[[Call, re.Match[str]], Any]:
        def guarded(call: Call, match: re.Match[str]) -> Any:
            if self.credentials is not None:
                user, password = self.credentials
                expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
                if call.header("Authorization") != expected:
                    return Reply(401, payload("grafana/unauthorized.json"))
            return handler(call, match)

        return guarded

    def _health(self, call: Call, match: re.Match[str]) -> Any:
        if self.healthy_at is not None:
            now = self.clock.now() if self.clock else 0.0
            if now < self.healthy_at:
                if self.unhealthy == "refused":
                    raise connection_refused()
                return Reply(503, payload("grafana/health-failing.json"))
        return self.health

    def _search(self, call: Call, match: re.Match[str]) -> Any:
        text = (call.param("query") or "").lower()
        kind = call.param("type")
        return [
            hit
            for hit in self.search
            if text in str(hit.get("title", "")).lower() and (kind is None or hit.get("type") == kind)
        ]

    def _dashboard(self, call: Call, match: re.Match[str]) -> Any:
        uid = match.group("uid")
        if uid not in self.dashboards:
            return Reply(404, payload("grafana/dashboard-not-found.json"))
        return {"meta": {"slug": uid, "provisioned": True}, "dashboard": self.dashboards[uid]}

    def _ds_health(self, call: Call, match: re.Match[str]) -> Any:
        uid = match.group("uid")
        if uid not in self.datasource_health:
            return Reply(404, payload("grafana/datasource-not-found.json"))
        body = self.datasource_health[uid]
        return Reply(400 if body.get("status") == "ERROR" else 200, dict(body))

    def _ds_query(self, call: Call, match: re.Match[str]) -> Any:
        body = call.json()
        results = {str(q.get("refId", "A")): dict(self.ds_query(q)) for q in body.get("queries", [])}
        failed = any("error" in r for r in results.values())
        return Reply(400 if failed else 200, {"results": results})
