"""PromQL vector selectors: find every ``metric{...}`` in an expression and match it against input series.

promtool 2.42 cannot list the selectors of an expression, and ``count(expr) > 0`` is fooled by
``... or vector(0)``: a selector with a label typo then still "returns a series". So the selectors are read
here, skipping what is not one (strings, comments, function and aggregation names, ``by``/``without``/``on``/
``ignoring``/``group_left``/``group_right`` label lists, ``[range]`` and subquery brackets, keywords,
numbers and durations), and each one must match at least one of the input series.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from tests.chart.chartcheck.findings import Finding
from tests.chart.chartcheck.promql import Query, SeriesFile

#: Keywords followed by a parenthesised list of label names (skipped as a whole).
LABEL_LIST_KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
#: Keywords that are neither metric names nor functions.
KEYWORDS = frozenset({"bool", "and", "or", "unless", "offset", "atan2", "inf", "nan"})

#: Token patterns PromQL and LogQL share; each language adds its own operators.
_COMMON = r"""
    (?P<space>\s+)
    |(?P<comment>\#[^\n]*)
    |(?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
    |(?P<number>0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[a-zA-Z0-9_]*)
    |(?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
    |(?P<variable>\$\{[^}]*\}|\$\w+|\[\[\w+(?::\w+)?\]\])
"""
_PROMQL_OPS = r"=~|!~|!=|==|>=|<=|[-+*/%^<>=,(){}\[\]@:]"
#: LogQL's pipeline adds ``|``, the line filters ``|=``/``|~``/``|>`` and ``!>``.
_LOGQL_OPS = r"\|[=~>]?|!>|" + _PROMQL_OPS
_TOKEN = re.compile(_COMMON + rf"|(?P<op>{_PROMQL_OPS})", re.VERBOSE)
_LOGQL_TOKEN = re.compile(_COMMON + rf"|(?P<op>{_LOGQL_OPS})", re.VERBOSE)
_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


@dataclass(frozen=True)
class Token:
    kind: str  # string | number | ident | variable (Grafana, left unfilled) | op
    text: str
    position: int

    @property
    def value(self) -> str:
        """A string token's decoded value (Go escapes for "..." and '...', none for `...`)."""
        body = self.text[1:-1]
        if self.text.startswith("`"):
            return body
        return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), body)


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


def tokenize(expr: str, *, logql: bool = False) -> list[Token]:
    """PromQL (or LogQL) tokens without spaces and comments; ValueError at the first character that starts
    none."""
    pattern = _LOGQL_TOKEN if logql else _TOKEN
    tokens: list[Token] = []
    position = 0
    while position < len(expr):
        match = pattern.match(expr, position)
        if not match:
            raise ValueError(f"unexpected {expr[position]!r} at character {position + 1}")
        kind = str(match.lastgroup)
        if kind not in ("space", "comment"):
            tokens.append(Token(kind, match.group(0), position))
        position = match.end()
    return tokens


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


def closing_bracket(tokens: Sequence[Token], start: int, opening: str, closing: str) -> int:
    """Index of the token that closes the bracket at ``start``."""
    depth = 0
    for index in range(start, len(tokens)):
        if tokens[index].text == opening:
            depth += 1
        elif tokens[index].text == closing:
            depth -= 1
            if depth == 0:
                return index
    raise ValueError(f"{opening!r} at character {tokens[start].position + 1} is never closed")


def label_matchers(tokens: Sequence[Token], start: int, end: int) -> list[Matcher]:
    """The matchers between ``{`` at ``start`` and ``}`` at ``end``."""
    found: list[Matcher] = []
    index = start + 1
    while index < end:
        token = tokens[index]
        following = tokens[index + 1] if index + 1 < end else None
        if token.kind == "string" and (following is None or following.text == ","):
            found.append(Matcher("__name__", "=", token.value))  # {"metric.name", ...} (Prometheus 3)
            index += 2
            continue
        value = tokens[index + 2] if index + 2 < end else None
        if (
            token.kind not in ("ident", "string")
            or following is None
            or following.text not in ("=", "!=", "=~", "!~")
            or value is None
            or value.kind != "string"
        ):
            raise ValueError(f"cannot read the label matcher at character {token.position + 1}")
        label = token.value if token.kind == "string" else token.text
        found.append(Matcher(label, following.text, value.value))
        index += 3
        if index < end:
            if tokens[index].text != ",":
                raise ValueError(f"expected ',' at character {tokens[index].position + 1}")
            index += 1
    return found


def vector_selectors(expr: str) -> list[VectorSelector]:
    """Every vector selector of a PromQL expression, in order. ValueError when the text cannot be read."""
    tokens = tokenize(expr)
    selectors: list[VectorSelector] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        if token.kind == "ident" and token.text.lower() in LABEL_LIST_KEYWORDS:
            index = (
                closing_bracket(tokens, index + 1, "(", ")") + 1
                if following and following.text == "("
                else index + 1
            )
        elif token.text == "[":
            index = closing_bracket(tokens, index, "[", "]") + 1
        elif token.kind == "ident" and (
            token.text.lower() in KEYWORDS
            or (following is not None and following.text == "(")
            or (following is not None and following.text.lower() in ("by", "without"))
        ):
            index += 1  # a keyword, a function or an aggregation with its grouping first
        elif token.kind == "ident" or token.text == "{":
            matchers = [Matcher("__name__", "=", token.text)] if token.kind == "ident" else []
            brace = index + 1 if token.kind == "ident" else index
            end = index
            if brace < len(tokens) and tokens[brace].text == "{":
                end = closing_bracket(tokens, brace, "{", "}")
                matchers += label_matchers(tokens, brace, end)
            text = expr[token.position : tokens[end].position + len(tokens[end].text)]
            selectors.append(VectorSelector(tuple(matchers), text))
            index = end + 1
        else:
            index += 1
    return selectors


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
