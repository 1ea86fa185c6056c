"""Kubernetes label selectors (matchLabels + matchExpressions), evaluated offline."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, Any]) -> bool:
    """True when ``labels`` satisfy ``selector``; an empty or missing selector matches everything.

    ValueError for a ``matchExpressions`` operator Kubernetes does not know: such a selector is invalid,
    and the API server would reject it rather than match anything.
    """
    if not selector:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if str(labels.get(key)) != str(value) or key not in labels:
            return False
    for expression in selector.get("matchExpressions") or []:
        key = expression.get("key")
        operator = expression.get("operator")
        if operator not in OPERATORS:
            raise ValueError(
                f"matchExpressions operator {operator!r} (key {key!r}) is not one of {', '.join(OPERATORS)}"
            )
        values = [str(v) for v in expression.get("values") or []]
        present = key in labels
        actual = str(labels.get(key, ""))
        if operator == "In" and not (present and actual in values):
            return False
        if operator == "NotIn" and present and actual in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def describe_selector(selector: Mapping[str, Any] | None) -> str:
    if not selector:
        return "{} (everything)"
    parts = [f"{k}={v}" for k, v in (selector.get("matchLabels") or {}).items()]
    for expression in selector.get("matchExpressions") or []:
        parts.append(
            f"{expression.get('key')} {expression.get('operator')} {expression.get('values') or ''}".strip()
        )
    return "{" + ", ".join(parts) + "}"
