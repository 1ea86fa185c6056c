"""LogQL stream selectors: just enough parsing to check which labels a query uses and what it matches."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_SELECTOR = re.compile(r"\{([^{}]*)\}")
_MATCHER = re.compile(r'\s*([A-Za-z_]\w*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|`[^`]*`)\s*(?:,|$)')


@dataclass(frozen=True)
class Matcher:
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


def stream_selectors(expr: str) -> list[list[Matcher]]:
    """Every ``{...}`` stream selector in a LogQL query (log or metric query). ValueError when malformed."""
    selectors = []
    for match in _SELECTOR.finditer(expr):
        body = match.group(1).strip()
        matchers: list[Matcher] = []
        position = 0
        while position < len(body):
            found = _MATCHER.match(body, position)
            if not found:
                raise ValueError(f"cannot read the stream selector {{{body}}} at {body[position:]!r}")
            label, op, quoted = found.groups()
            value = quoted[1:-1]
            if quoted.startswith('"'):
                value = bytes(value, "utf-8").decode("unicode_escape")
            matchers.append(Matcher(label, op, value))
            position = found.end()
        selectors.append(matchers)
    return selectors


def selector_matches(matchers: list[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)
