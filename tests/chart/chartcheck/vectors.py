"""PromQL vector selectors: find every ``metric{...}`` in an expression and match it against input series.

promtool 2.42 cannot list the selectors of an expression, and ``count(expr) > 0`` is fooled by
``... or vector(0)``: a selector with a label typo then still "returns a series". So the expression is parsed
with promql-parser (Prometheus' grammar, as a Python wheel), every vector selector of its syntax tree is
collected, and each one must match at least one of the input series.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import promql_parser

from tests.chart.chartcheck.findings import Finding
from tests.chart.chartcheck.promql import Query, SeriesFile

#: promql-parser's match operators as PromQL writes them (its enum is not hashable: no dict).
_OPS = (
    (promql_parser.MatchOp.Equal, "="),
    (promql_parser.MatchOp.NotEqual, "!="),
    (promql_parser.MatchOp.Re, "=~"),
    (promql_parser.MatchOp.NotRe, "!~"),
)


@dataclass(frozen=True)
class Matcher:
    """One label matcher, ``label op "value"``, of a PromQL vector or LogQL stream selector."""

    label: str
    op: str
    value: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.label, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        hit = re.fullmatch(self.value, actual) is not None
        return hit if self.op == "=~" else not hit

    def __str__(self) -> str:
        return f'{self.label}{self.op}"{self.value}"'


def selector_matches(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    """True when ``labels`` satisfy every matcher."""
    return all(m.matches(labels) for m in matchers)


@dataclass(frozen=True)
class VectorSelector:
    """One ``metric{label op "value", ...}`` of an expression (the metric name is a ``__name__`` matcher)."""

    matchers: tuple[Matcher, ...]
    text: str

    @property
    def metric(self) -> str | None:
        return next((m.value for m in self.matchers if m.label == "__name__" and m.op == "="), None)

    def matches(self, labels: Mapping[str, str]) -> bool:
        return selector_matches(self.matchers, labels)

    def __str__(self) -> str:
        return self.text


def _selector(node: promql_parser.VectorSelector) -> VectorSelector:
    if node.matchers.or_matchers:
        raise ValueError(f"{node}: `or` between label matchers is not supported here")
    named = [Matcher("__name__", "=", node.name)] if node.name else []
    matchers = [
        Matcher(m.name, next(s for op, s in _OPS if op == m.op), m.value) for m in node.matchers.matchers
    ]
    inside = ", ".join(str(m) for m in matchers)
    text = f"{node.name or ''}{{{inside}}}" if inside else str(node.name)
    return VectorSelector((*named, *matchers), text)


def vector_selectors(expr: str) -> list[VectorSelector]:
    """Every vector selector of a PromQL expression, in order. ValueError when it does not parse."""
    try:
        tree = promql_parser.parse(expr)
    except ValueError as exc:
        raise ValueError(f"PromQL does not parse: {exc}") from None
    nodes: list[promql_parser.VectorSelector] = []

    def visit(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            nodes.append(node)

    promql_parser.walk(tree, visit)
    return [_selector(node) for node in nodes]


def series_labels(series: str) -> dict[str, str]:
    """The label set (with ``__name__``) of a promtool input series, e.g. ``up{job="x"}``."""
    selectors = vector_selectors(series)
    if len(selectors) != 1 or any(m.op != "=" for m in selectors[0].matchers):
        raise ValueError(f'{series!r} is not a series: expected metric{{label="value", ...}}')
    return {m.label: m.value for m in selectors[0].matchers}


def _hint(selector: VectorSelector, label_sets: Sequence[Mapping[str, str]]) -> str:
    """Why a selector matches nothing: which matcher rules out every series of its metric."""
    metric = selector.metric
    named = [labels for labels in label_sets if metric is None or labels.get("__name__") == metric]
    if not named:
        return f"no input series is named {metric}"
    for matcher in selector.matchers:
        if matcher.label == "__name__" or any(matcher.matches(labels) for labels in named):
            continue
        seen = sorted({labels[matcher.label] for labels in named if matcher.label in labels})
        if not seen:
            return f"no {metric} series has a label {matcher.label!r}"
        return f"{matcher} matches none of the {metric} series ({matcher.label} is one of {seen})"
    return f"no single {metric} series satisfies all of its matchers"


def check_selectors(queries: Iterable[Query], series: SeriesFile) -> list[Finding]:
    """A finding for every vector selector that matches none of the input series (or cannot be read)."""
    try:
        label_sets = [series_labels(str(entry["series"])) for entry in series.input_series]
    except ValueError as exc:
        return [Finding(str(series.path), "input_series", str(exc))]
    findings: list[Finding] = []
    for query in queries:
        try:
            selectors = vector_selectors(query.expr)
        except ValueError as exc:
            findings.append(query.finding(f"cannot read the vector selectors ({exc})"))
            continue
        for selector in selectors:
            if not any(selector.matches(labels) for labels in label_sets):
                findings.append(
                    query.finding(
                        f"selector {selector} matches none of the input series of {series.path.name}: "
                        f"{_hint(selector, label_sets)}"
                    )
                )
    return findings
