"""LogQL stream selectors: just enough parsing to check which labels a query uses and what it matches.

The query is read with the PromQL tokenizer of :mod:`tests.chart.chartcheck.vectors` (plus
LogQL's pipe operators), so strings, comments and ``line_format "{{.x}}"`` templates are skipped, and each
``{...}`` outside them is read by the same label-matcher reader as a PromQL selector.
"""

from __future__ import annotations

from tests.chart.chartcheck.vectors import (
    Matcher,
    closing_bracket,
    label_matchers,
    selector_matches,
    tokenize,
)

__all__ = ["Matcher", "selector_matches", "stream_selectors"]


def stream_selectors(expr: str) -> list[list[Matcher]]:
    """Every ``{...}`` stream selector in a LogQL query (log or metric query). ValueError when malformed."""
    tokens = tokenize(expr, logql=True)
    selectors: list[list[Matcher]] = []
    index = 0
    while index < len(tokens):
        if tokens[index].kind == "op" and tokens[index].text == "{":
            end = closing_bracket(tokens, index, "{", "}")
            selectors.append(label_matchers(tokens, index, end))
            index = end
        index += 1
    return selectors
