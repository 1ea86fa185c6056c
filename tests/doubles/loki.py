"""LokiDouble: the Loki HTTP API over streams held in memory, with a small LogQL subset.

The LogQL subset: a stream selector with ``=``, ``!=``, ``=~``, ``!~`` matchers, followed by line filters
``|=``, ``!=``, ``|~``, ``!~`` with "double-quoted" or `backtick` strings. Anything that starts with a
function (``sum``, ``rate``, ``count_over_time``...) is a metric query and gets the recorded matrix.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.chart.chartcheck.vectors import Matcher, selector_matches
from tests.doubles.transport import Call, RecordedTransport, Reply, payload

_MATCHER = re.compile(r'\s*(?P<name>\w+)\s*(?P<op>=~|!~|!=|=)\s*"(?P<value>(?:[^"\\]|\\.)*)"\s*,?')
_FILTER = re.compile(r'\s*(?P<op>\|=|!=|\|~|!~)\s*(?:`(?P<raw>[^`]*)`|"(?P<quoted>(?:[^"\\]|\\.)*)")')


class LogQLError(ValueError):
    """The query is outside the subset (or not LogQL at all)."""


@dataclass
class LogStream:
    """A stream the double holds: labels and (ns, line) entries."""

    labels: dict[str, str]
    entries: list[tuple[int, str]] = field(default_factory=list)


@dataclass(frozen=True)
class ParsedQuery:
    matchers: list[Matcher]
    filters: list[tuple[str, str]]

    def selects(self, labels: Mapping[str, str]) -> bool:
        return selector_matches(self.matchers, labels)

    def keeps(self, line: str) -> bool:
        return all(_filter(op, line, text) for op, text in self.filters)


def _filter(op: str, line: str, text: str) -> bool:
    if op == "|=":
        return text in line
    if op == "!=":
        return text not in line
    hit = re.search(text, line) is not None
    return hit if op == "|~" else not hit


def parse_logql(query: str) -> ParsedQuery:
    """Parse the supported subset; LogQLError with Loki-like wording otherwise."""
    text = query.strip()
    if not text.startswith("{") or "}" not in text:
        raise LogQLError("parse error at line 1, col 1: syntax error: unexpected IDENTIFIER, expecting {")
    selector, rest = text[1:].split("}", 1)
    matchers = []
    position = 0
    while position < len(selector.strip()):
        match = _MATCHER.match(selector, position)
        if not match:
            raise LogQLError(
                f"parse error at line 1, col {position + 2}: syntax error: unexpected {selector!r}"
            )
        value = json.loads(f'"{match.group("value")}"')
        matchers.append(Matcher(match.group("name"), match.group("op"), value))
        position = match.end()
    if not matchers or selector_matches(matchers, {}):
        raise LogQLError(
            "queries require at least one regexp or equality matcher"
            " that does not have an empty-compatible value"
        )
    filters = []
    position = 0
    while rest[position:].strip():
        match = _FILTER.match(rest, position)
        if not match:
            raise LogQLError(f"parse error: unsupported pipeline stage {rest[position:].strip()!r}")
        raw = match.group("raw")
        filters.append(
            (match.group("op"), raw if raw is not None else json.loads(f'"{match.group("quoted")}"'))
        )
        position = match.end()
    return ParsedQuery(matchers, filters)


class LokiDouble(RecordedTransport):
    """Answers /ready, /loki/api/v1/{query_range,labels,label/<name>/values,series,status/buildinfo}.

    ``streams`` holds the logs (default: the recorded Todo backend stream); :meth:`push` adds a line, e.g.
    the canary arriving. ``ready`` True, or a string that /ready answers with 503 ("Ingester not ready...").
    ``tenant`` set models Loki 3.x with ``auth_enabled: true``: /ready and /loki/api/v1/status/buildinfo
    answer without a tenant, every tenant-scoped path (query_range, labels, label values, series, push)
    answers 401 ``no org id`` when ``X-Scope-OrgID`` is missing. Loki does not authenticate tenants, so any
    tenant is answered (this double holds one tenant's streams; :attr:`tenants_seen` lists what was sent).
    """

    base_url = "http://loki.test"

    def __init__(
        self,
        *,
        streams: Iterable[LogStream] | None = None,
        ready: bool | str = True,
        tenant: str | None = None,
        buildinfo: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.streams = list(streams) if streams is not None else self._recorded_streams()
        self.is_ready = ready
        self.tenant = tenant
        self.buildinfo_payload = buildinfo if buildinfo is not None else payload("loki/buildinfo.json")
        #: Called with the LogQL of each query_range after its answer was made (e.g. a line landing between
        #: two queries, as it does against real Loki).
        self.after_query: Callable[[str], None] | None = None
        self.route("GET", r"/ready", self._ready)
        self.route("GET", r"/loki/api/v1/status/buildinfo", lambda c, m: self.buildinfo_payload)
        self.route("GET", r"/loki/api/v1/query_range", self._tenant(self._query_range))
        self.route("GET", r"/loki/api/v1/labels", self._tenant(self._labels))
        self.route("GET", r"/loki/api/v1/label/(?P<name>\w+)/values", self._tenant(self._label_values))
        self.route("GET", r"/loki/api/v1/series", self._tenant(self._series))
        self.route("POST", r"/loki/api/v1/push", self._tenant(lambda c, m: Reply(204)))

    @staticmethod
    def _recorded_streams() -> list[LogStream]:
        result = payload("loki/query-range-streams.json")["data"]["result"]
        return [LogStream(dict(r["stream"]), [(int(ts), line) for ts, line in r["values"]]) for r in result]

    def push(self, labels: Mapping[str, str], line: str, ts_ns: int) -> None:
        """Add one line to the stream with exactly ``labels`` (created when new)."""
        wanted = dict(labels)
        for stream in self.streams:
            if stream.labels == wanted:
                stream.entries.append((ts_ns, line))
                return
        self.streams.append(LogStream(wanted, [(ts_ns, line)]))

    @property
    def tenants_seen(self) -> list[str | None]:
        return [c.header("X-Scope-OrgID") for c in self.calls]

    @property
    def queries(self) -> list[str]:
        return [c.param("query") or "" for c in self.calls if c.path == "/loki/api/v1/query_range"]

    def _tenant(self, handler: Any) -> Any:
        def checked(call: Call, match: re.Match[str]) -> Any:
            if self.tenant is not None and not call.header("X-Scope-OrgID"):
                return Reply(401, "no org id\n")
            return handler(call, match)

        return checked

    def _ready(self, call: Call, match: re.Match[str]) -> Reply:
        if self.is_ready is True:
            return Reply(200, "ready\n")
        reason = self.is_ready if isinstance(self.is_ready, str) else "Ingester not ready"
        return Reply(503, reason + "\n")

    def _query_range(self, call: Call, match: re.Match[str]) -> Any:
        query = call.param("query") or ""
        if re.match(r"\s*[a-z_]+\s*(by|without|\()", query):
            return payload("loki/query-range-matrix.json")
        try:
            parsed = parse_logql(query)
        except LogQLError as exc:
            return Reply(400, str(exc) + "\n")
        start = int(call.param("start") or 0)
        end = int(call.param("end") or 2**63 - 1)
        limit = int(call.param("limit") or 100)
        backward = (call.param("direction") or "backward") == "backward"
        picked: list[tuple[int, int, str]] = []
        for index, stream in enumerate(self.streams):
            if parsed.selects(stream.labels):
                picked.extend(
                    (ts, index, line)
                    for ts, line in stream.entries
                    if start <= ts < end and parsed.keeps(line)
                )
        picked.sort(key=lambda e: e[0], reverse=backward)
        picked = picked[:limit]
        result = []
        for index, stream in enumerate(self.streams):
            values = [[str(ts), line] for ts, i, line in picked if i == index]
            if values:
                result.append({"stream": dict(stream.labels), "values": values})
        if self.after_query is not None:
            self.after_query(query)
        return {"status": "success", "data": {"resultType": "streams", "result": result, "stats": {}}}

    def _labels(self, call: Call, match: re.Match[str]) -> Any:
        names = sorted({name for stream in self.streams for name in stream.labels})
        return {"status": "success", "data": names}

    def _label_values(self, call: Call, match: re.Match[str]) -> Any:
        name = match.group("name")
        values = sorted({s.labels[name] for s in self.streams if name in s.labels})
        return {"status": "success", "data": values}

    def _series(self, call: Call, match: re.Match[str]) -> Any:
        selectors: Sequence[str] = call.params.get("match[]", [])
        if not selectors:
            return Reply(400, "at least one match[] argument is required\n")
        try:
            parsed = [parse_logql(s) for s in selectors]
        except LogQLError as exc:
            return Reply(400, str(exc) + "\n")
        data = [dict(s.labels) for s in self.streams if any(p.selects(s.labels) for p in parsed)]
        return {"status": "success", "data": data}
