"""PrometheusDouble: the Prometheus HTTP API over recorded payloads and configured vectors."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from monitoring_conformance.api.prometheus import KEY_LABEL
from tests.doubles.transport import Call, RecordedTransport, Reply, payload

Series = Sequence[tuple[Mapping[str, str], float]]
#: A vector's value: fixed series, a whole envelope, or a callable giving the series at the moment asked.
VectorValue = Series | Mapping[str, Any] | Callable[[], Series]
#: The moment every vector is evaluated at.
EVAL_TIME = 1795000000.25

#: The freshness query of checks.evidence.age_expr: each series of the inner expression with its age.
_AGE = re.compile(r"^time\(\) - timestamp\((?P<expr>.*)\)$", re.DOTALL)
#: The age (seconds) of every series' newest sample unless ``ages`` says otherwise: fresh at any interval.
DEFAULT_AGE = 0.5

_KEY = r'"' + KEY_LABEL + r'", (?P<key>"(?:[^"\\]|\\.)*"), "", ""\)'
_AGE_EACH = re.compile(r"label_replace\(time\(\) - timestamp\((?P<expr>.*?)\), " + _KEY)
_COUNT_EACH = re.compile(
    r'label_replace\(count\((?P<expr>.*?)\), "' + KEY_LABEL + r'", (?P<key>"(?:[^"\\]|\\.)*"), "", ""\)'
)


def vector(series: Series) -> dict[str, Any]:
    """A success envelope holding an instant vector."""
    result = [{"metric": dict(labels), "value": [EVAL_TIME, repr(float(value))]} for labels, value in series]
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


def bad_data(message: str) -> Reply:
    """Prometheus's 400 answer to a query it cannot parse."""
    return Reply(400, {"status": "error", "errorType": "bad_data", "error": message})


class PrometheusDouble(RecordedTransport):
    """Answers /api/v1/query, /api/v1/targets, /api/v1/status/buildinfo and /-/ready.

    ``vectors`` maps an exact expression to its series ``[(labels, value), ...]``, to a whole envelope, or
    to a callable returning the series when asked (a counter that moves); unknown expressions give an
    empty vector. ``errors`` maps an expression to a ``bad_data`` message.
    ``query`` (a callable taking the expression) overrides both. count_each's combined expression is
    answered from ``vectors`` (the number of series of each inner expression).
    ``ready`` False (or a body string) makes /-/ready answer 503.
    ``time() - timestamp(expr)`` (the freshness query) gives each series of ``expr`` the age ``ages[expr]``
    (default :data:`DEFAULT_AGE`): like Prometheus, which returns a series for up to 5 minutes after its
    last sample, with that sample's timestamp.
    """

    base_url = "http://prometheus.test"

    def __init__(
        self,
        *,
        vectors: Mapping[str, VectorValue] | None = None,
        errors: Mapping[str, str] | None = None,
        query: Callable[[str], Reply | Any] | None = None,
        targets: Any = None,
        buildinfo: Any = None,
        ready: bool | str = True,
        ages: Mapping[str, float] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.ages = dict(ages or {})
        self.vectors = dict(vectors or {})
        self.errors = dict(errors or {})
        self.query_handler = query
        self.targets_payload = targets if targets is not None else payload("prometheus/targets.json")
        self.buildinfo_payload = buildinfo if buildinfo is not None else payload("prometheus/buildinfo.json")
        self.is_ready = ready
        self.route("GET", r"/api/v1/query", self._query)
        self.route("POST", r"/api/v1/query", self._query)
        self.route("GET", r"/api/v1/targets", lambda call, m: self.targets_payload)
        self.route("GET", r"/api/v1/status/buildinfo", lambda call, m: self.buildinfo_payload)
        self.route("GET", r"/-/ready", self._ready)

    @property
    def queries(self) -> list[str]:
        """Every expression received, in order."""
        return [c.param("query") or "" for c in self.calls if c.path == "/api/v1/query"]

    def _ready(self, call: Call, match: re.Match[str]) -> Reply:
        if self.is_ready is True:
            return Reply(200, "Prometheus Server is Ready.\n")
        body = self.is_ready if isinstance(self.is_ready, str) else "Service Unavailable"
        return Reply(503, body)

    def _query(self, call: Call, match: re.Match[str]) -> Reply | Any:
        expr = call.param("query") or ""
        if self.query_handler is not None:
            return self.query_handler(expr)
        if expr in self.errors:
            return bad_data(self.errors[expr])
        if expr in self.vectors:
            return self._answer(self.vectors[expr])
        each = list(_AGE_EACH.finditer(expr))
        if each:
            found: list[tuple[Mapping[str, str], float]] = []
            for part in each:
                inner = part.group("expr")
                if inner in self.errors:
                    return bad_data(self.errors[inner])
                key = {KEY_LABEL: _unquote(part.group("key"))}
                found += [({**labels, **key}, age) for labels, age in self._aged(inner)]
            return vector(found)
        aged = _AGE.match(expr)
        if aged:
            if aged.group("expr") in self.errors:
                return bad_data(self.errors[aged.group("expr")])
            return vector(self._aged(aged.group("expr")))
        parts = list(_COUNT_EACH.finditer(expr))
        if parts:
            counted = []
            for part in parts:
                inner = part.group("expr")
                if inner in self.errors:
                    return bad_data(self.errors[inner])
                n = len(self._series(inner))
                if n:
                    counted.append(({KEY_LABEL: _unquote(part.group("key"))}, float(n)))
            return vector(counted)
        return vector([])

    def _series(self, expr: str) -> Series:
        value = self.vectors.get(expr)
        if callable(value):
            value = value()
        if value is None:
            return []
        if isinstance(value, Mapping):
            return [(item["metric"], float(item["value"][1])) for item in value["data"]["result"]]
        return value

    def _aged(self, expr: str) -> list[tuple[Mapping[str, str], float]]:
        """The series of ``expr`` without their name, each with the age ``ages`` gives it."""
        age = self.ages.get(expr, DEFAULT_AGE)
        return [({k: v for k, v in dict(m).items() if k != "__name__"}, age) for m, _ in self._series(expr)]

    def _answer(self, value: VectorValue) -> Any:
        if callable(value):
            value = value()
        if isinstance(value, Mapping):
            return dict(value)
        return vector(value)


def _unquote(quoted: str) -> str:
    return str(json.loads(quoted))
