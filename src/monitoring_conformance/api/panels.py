"""Building Grafana /api/ds/query bodies from dashboard panels.

Grafana's backend fills in its interval macros (``$__interval``, ``$__rate_interval``, ``$__range``) but not
dashboard variables, and it needs a concrete datasource uid and a refId for every query: this module
supplies all three, the way the Grafana frontend would.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from monitoring_conformance.dashboards import MACRO_DEFAULTS, VariableValue, panel_targets, substitute

#: The provisioned datasource uid for each datasource type (chart fact: uids `prometheus` and `loki`).
DATASOURCE_UIDS: dict[str, str] = {"prometheus": "prometheus", "loki": "loki"}
MIXED = "-- Mixed --"
DEFAULT_INTERVAL_MS = 15_000
DEFAULT_MAX_DATA_POINTS = 300
DEFAULT_MAX_LINES = 100

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_VARIABLE_REF = re.compile(r"^\$\{?(\w+)(?::\w+)?\}?$|^\[\[(\w+)\]\]$")


def panel_queries(
    panel: Mapping[str, Any],
    variables: Mapping[str, VariableValue] | None = None,
    *,
    datasources: Mapping[str, str] | None = None,
    interval_ms: int | None = None,
    max_data_points: int | None = None,
) -> list[dict[str, Any]]:
    """The /api/ds/query ``queries`` for ``panel``: one per visible target.

    refIds A, B, C... are assigned where missing. Each target's datasource is its own, else the panel's
    (``-- Mixed --`` panels always use the target's); ``${datasource}``-style references resolve through
    ``variables`` or to the provisioned uid of the type (:data:`DATASOURCE_UIDS`). Dashboard variables are
    substituted here; Grafana's interval macros are left for Grafana.
    """
    uids = {**DATASOURCE_UIDS, **(datasources or {})}
    values = dict(variables or {})
    # Keep the macros as they are: Grafana substitutes them with the real interval/range.
    macros: dict[str, VariableValue] = {name: f"${name}" for name in MACRO_DEFAULTS}
    step_ms = interval_ms or _duration_ms(panel.get("interval")) or DEFAULT_INTERVAL_MS
    points = max_data_points or _positive_int(panel.get("maxDataPoints")) or DEFAULT_MAX_DATA_POINTS
    targets = panel_targets(panel)
    ref_ids = _assign_ref_ids(targets)
    panel_ref = panel.get("datasource")
    queries = []
    for target, ref_id in zip(targets, ref_ids, strict=True):
        if target.get("hide"):
            continue
        if _is_mixed(panel_ref) or target.get("datasource") is not None:
            ref = target.get("datasource")
        else:
            ref = panel_ref
        ds_type, ds_uid = resolve_datasource(ref, values, uids)
        expr = substitute(str(target.get("expr", "")), {**macros, **values})
        query: dict[str, Any] = {
            "refId": ref_id,
            "datasource": {"type": ds_type, "uid": ds_uid},
            "expr": expr,
            "intervalMs": step_ms,
            "maxDataPoints": points,
        }
        if target.get("legendFormat"):
            query["legendFormat"] = target["legendFormat"]
        if ds_type == "prometheus":
            instant = bool(target.get("instant")) and not target.get("range")
            query.update(range=not instant, instant=instant, format=target.get("format") or "time_series")
        elif ds_type == "loki":
            query.update(
                queryType=target.get("queryType") or "range",
                maxLines=_positive_int(target.get("maxLines")) or DEFAULT_MAX_LINES,
                direction=target.get("direction") or "backward",
            )
        else:
            extra = {k: v for k, v in target.items() if k not in query and k not in ("datasource", "hide")}
            query.update(extra)
        queries.append(query)
    return queries


def resolve_datasource(
    ref: Any, variables: Mapping[str, VariableValue], uids: Mapping[str, str] | None = None
) -> tuple[str, str]:
    """(type, uid) for a panel/target datasource reference (dict, legacy name string, variable, or None)."""
    known = {**DATASOURCE_UIDS, **(uids or {})}
    ds_type: str | None = None
    uid: str | None = None
    if isinstance(ref, dict):
        ds_type = str(ref["type"]) if ref.get("type") else None
        uid = str(ref["uid"]) if ref.get("uid") else None
    elif isinstance(ref, str) and ref:
        uid = ref
    if ds_type == "datasource" or _is_mixed(ref):
        ds_type = None  # a reference to a datasource variable or to Mixed: decide by uid below
        if uid == MIXED:
            uid = None
    if uid is not None:
        match = _VARIABLE_REF.match(uid)
        if match:
            value = variables.get(match.group(1) or match.group(2) or "")
            uid = value if isinstance(value, str) else (value[0] if value else None)
    if uid is not None and uid not in known.values():
        lowered = uid.lower()
        # a legacy datasource *name* ("Prometheus", "Loki") or "default"
        by_name = next((t for t in known if t in lowered), None)
        uid = known[by_name] if by_name else (None if lowered == "default" else uid)
    if ds_type is None:
        ds_type = next((t for t, u in known.items() if u == uid), "prometheus")
    if uid is None:
        uid = known.get(ds_type, ds_type)
    return ds_type, uid


def _is_mixed(ref: Any) -> bool:
    uid = ref.get("uid") if isinstance(ref, dict) else ref
    return uid == MIXED


def _assign_ref_ids(targets: Sequence[Mapping[str, Any]]) -> list[str]:
    used = {str(t["refId"]) for t in targets if t.get("refId")}
    letters = (chr(c) for c in range(ord("A"), ord("Z") + 1))
    pool = [*letters, *(a + b for a in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" for b in "ABCDEFGHIJKLMNOPQRSTUVWXYZ")]
    free = (name for name in pool if name not in used)
    return [str(t["refId"]) if t.get("refId") else next(free) for t in targets]


def _duration_ms(text: Any) -> int | None:
    if not isinstance(text, str):
        return None
    match = _DURATION.match(text.strip().lstrip("<>="))
    if not match:
        return None
    return int(float(match.group(1)) * _UNIT_MS[match.group(2)])


def _positive_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None
