"""The Loki HTTP API: readiness, labels, series and log queries.

Timestamps are integer nanoseconds since the epoch, as Loki returns them. A 503 from /ready carries Loki's
reason ("Ingester not ready: ...") into the EndpointError, so a wait shows why Loki is not ready yet.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from monitoring_conformance.api.http import Endpoint, decode_json, endpoint_error

#: The header that names the Loki tenant (Loki with ``auth_enabled: true`` answers 401 without it).
TENANT_HEADER = "X-Scope-OrgID"
HINTS = {
    404: "is --loki-url the Loki HTTP port (3100)?",
    401: (
        "Loki has multi-tenancy on ('no org id'): pass --loki-tenant TENANT (or set MC_LOKI_TENANT),"
        " or set loki.auth_enabled: false in the chart values"
    ),
    503: "Loki is not ready yet",
}
DIRECTIONS = ("backward", "forward")


@dataclass(frozen=True)
class Stream:
    """One log stream: its labels and its entries as (timestamp in ns, line), in the order Loki sent them."""

    labels: dict[str, str]
    entries: list[tuple[int, str]] = field(default_factory=list)

    @property
    def lines(self) -> list[str]:
        return [line for _, line in self.entries]

    def describe(self) -> str:
        labels = ", ".join(f'{k}="{v}"' for k, v in sorted(self.labels.items()))
        return f"{{{labels}}} ({len(self.entries)} lines)"


def line_filter(text: str) -> str:
    """A LogQL ``|=`` filter that matches ``text`` literally."""
    if "`" not in text:
        return f"|= `{text}`"
    return f"|= {json.dumps(text)}"


class Loki:
    """A Loki server reached through ``endpoint``."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        endpoint.add_hints(HINTS)

    def __repr__(self) -> str:
        return f"Loki({self.endpoint.describe()!r})"

    def ready(self) -> str:
        """GET /ready: ``ready``, or an EndpointError quoting Loki's reason (``Ingester not ready: ...``)."""
        return self.endpoint.get("/ready").text.strip()

    def buildinfo(self) -> dict[str, str]:
        """/loki/api/v1/status/buildinfo: version, revision, branch, goVersion..."""
        data = self._json("/loki/api/v1/status/buildinfo")
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def version(self) -> str | None:
        return self.buildinfo().get("version")

    def labels(self, *, start_ns: int | None = None, end_ns: int | None = None) -> list[str]:
        """The label names Loki has seen (default window: Loki's, the last 6h)."""
        return self._list("/loki/api/v1/labels", _window(start_ns, end_ns))

    def label_values(self, name: str, *, start_ns: int | None = None, end_ns: int | None = None) -> list[str]:
        """The values of label ``name``."""
        return self._list(f"/loki/api/v1/label/{name}/values", _window(start_ns, end_ns))

    def series(
        self, match: str | Sequence[str], *, start_ns: int | None = None, end_ns: int | None = None
    ) -> list[dict[str, str]]:
        """The label sets of the streams that match the selector(s)."""
        selectors = [match] if isinstance(match, str) else list(match)
        params: dict[str, Any] = {"match[]": selectors, **_window(start_ns, end_ns)}
        data = self._envelope("/loki/api/v1/series", params)
        return [{str(k): str(v) for k, v in item.items()} for item in data or [] if isinstance(item, dict)]

    def query_range(
        self,
        logql: str,
        *,
        start_ns: int,
        end_ns: int,
        limit: int = 100,
        direction: str = "backward",
    ) -> list[Stream]:
        """Run a log query over [start_ns, end_ns). A metric query (matrix result) is an EndpointError."""
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
        params = {"query": logql, "start": start_ns, "end": end_ns, "limit": limit, "direction": direction}
        data = self._envelope("/loki/api/v1/query_range", params, query=logql)
        kind = data.get("resultType") if isinstance(data, dict) else None
        if kind != "streams":
            raise endpoint_error(
                f"Loki answered {kind!r} for {logql!r}, expected log streams; use a log query, not a metric"
                f" query ({self.endpoint.where()})",
                url=self.endpoint.url("/loki/api/v1/query_range"),
            )
        return [_stream(item) for item in data.get("result") or [] if isinstance(item, dict)]

    def lines_containing(
        self, text: str, *, selector: str, start_ns: int, end_ns: int, limit: int = 100
    ) -> list[Stream]:
        """The streams under ``selector`` whose lines contain ``text`` (a literal, e.g. a canary token)."""
        return self.query_range(
            f"{selector} {line_filter(text)}", start_ns=start_ns, end_ns=end_ns, limit=limit
        )

    # -- plumbing -------------------------------------------------------------------------------------

    def _json(self, path: str, params: dict[str, Any] | None = None, *, query: str = "") -> Any:
        hints = {400: f"Loki rejected the query {query!r}"} if query else None
        response = self.endpoint.get(path, params, hints=hints)
        return decode_json(self.endpoint, response, expect="Loki JSON")

    def _envelope(self, path: str, params: dict[str, Any] | None = None, *, query: str = "") -> Any:
        body = self._json(path, params, query=query)
        if not isinstance(body, dict) or body.get("status") != "success":
            raise endpoint_error(
                f"GET {path} -> not a success envelope ({self.endpoint.where()}):"
                f" {self.endpoint.excerpt(json.dumps(body))}",
                url=self.endpoint.url(path),
            )
        return body.get("data")

    def _list(self, path: str, params: dict[str, Any]) -> list[str]:
        data = self._envelope(path, params)
        return [str(item) for item in data or []]


def _window(start_ns: int | None, end_ns: int | None) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if start_ns is not None:
        params["start"] = start_ns
    if end_ns is not None:
        params["end"] = end_ns
    return params


def _stream(item: dict[str, Any]) -> Stream:
    labels = {str(k): str(v) for k, v in (item.get("stream") or {}).items()}
    entries = []
    for value in item.get("values") or []:
        if isinstance(value, list | tuple) and len(value) >= 2:
            entries.append((int(value[0]), str(value[1])))
    return Stream(labels, entries)
