"""LogQL stream selectors: just enough parsing to check which labels a query uses and what it matches.

promql-parser reads PromQL only, so a LogQL query is tokenized here: strings, comments and
``line_format "{{.x}}"`` templates are skipped, and each ``{...}`` outside them is read into the same label
matchers as a PromQL selector (:class:`~tests.chart.chartcheck.vectors.Matcher`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from tests.chart.chartcheck.vectors import Matcher, selector_matches

__all__ = ["Matcher", "selector_matches", "stream_selectors"]

_COMMON = r"""
    (?P<space>\s+)
    |(?P<comment>\#[^\n]*)
    |(?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
    |(?P<number>0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[a-zA-Z0-9_]*)
    |(?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
    |(?P<variable>\$\{[^}]*\}|\$\w+|\[\[\w+(?::\w+)?\]\])
"""
#: PromQL's operators plus LogQL's pipeline ``|``, line filters ``|=``/``|~``/``|>`` and ``!>``.
_OPS = r"\|[=~>]?|!>|=~|!~|!=|==|>=|<=|[-+*/%^<>=,(){}\[\]@:]"
_TOKEN = re.compile(_COMMON + rf"|(?P<op>{_OPS})", re.VERBOSE)
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


def tokenize(expr: str) -> list[Token]:
    """LogQL tokens without spaces and comments; ValueError at the first character that starts none."""
    pattern = _TOKEN
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


def stream_selectors(expr: str) -> list[list[Matcher]]:
    """Every ``{...}`` stream selector in a LogQL query (log or metric query). ValueError when malformed."""
    tokens = tokenize(expr)
    selectors: list[list[Matcher]] = []
    index = 0
    while index < len(tokens):
        if tokens[index].kind == "op" and tokens[index].text == "{":
            end = closing_bracket(tokens, index, "{", "}")
            selectors.append(label_matchers(tokens, index, end))
            index = end
        index += 1
    return selectors
