"""Grafana dashboards as data: loading, walking panels, and filling in template variables.

Shared by the chart tier (offline checks of charts/monitoring/dashboards) and the conformance suite (which
runs every panel's query against a live stack). Variable substitution lives here, once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from monitoring_conformance.errors import UsageError

Panel = dict[str, Any]
VariableValue = str | Sequence[str]

#: Grafana's built-in interval macros, with the values used when nothing better is known.
MACRO_DEFAULTS: dict[str, str] = {
    "__rate_interval": "1m",
    "__interval": "1m",
    "__interval_ms": "60000",
    "__range": "1h",
    "__range_s": "3600",
    "__range_ms": "3600000",
}
REQUIREMENTS_FILE = "requirements.yaml"

# ${name}, ${name:format}, [[name]], [[name:format]] and $name (longest name wins: \w+ is greedy).
_VARIABLE = re.compile(
    r"\$\{(?P<braced>\w+)(?::(?P<bfmt>[\w]+))?\}"
    r"|\[\[(?P<bracket>\w+)(?::(?P<kfmt>[\w]+))?\]\]"
    r"|\$(?P<plain>\w+)"
)


@dataclass(frozen=True)
class Dashboard:
    """One dashboard file."""

    path: Path
    data: dict[str, Any]

    @property
    def uid(self) -> str:
        return str(self.data.get("uid") or "")

    @property
    def title(self) -> str:
        return str(self.data.get("title") or "")


def load_dashboard(path: Path) -> Dashboard:
    """Parse one dashboard JSON file; a UsageError naming the file, line and fault when it is not valid."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from exc
    if not isinstance(data, dict):
        raise UsageError(f"{path}: a dashboard must be a JSON object, found {type(data).__name__}")
    return Dashboard(path, data)


def dashboard_files(directory: Path) -> list[Path]:
    """The ``*.json`` files of a dashboard folder, sorted by name; a UsageError when there is no folder."""
    if not directory.is_dir():
        raise UsageError(f"dashboard folder {directory} does not exist; check the chart path")
    return sorted(directory.glob("*.json"))


def load_dashboards(directory: Path) -> list[Dashboard]:
    """Every ``*.json`` dashboard in ``directory``, sorted by file name."""
    return [load_dashboard(path) for path in dashboard_files(directory)]


def iter_panels(dashboard: Mapping[str, Any]) -> Iterator[Panel]:
    """Every panel, rows flattened: a row panel itself, then the panels it holds when collapsed.

    Also walks the pre-5.0 ``rows[].panels`` layout.
    """
    for panel in dashboard.get("panels") or []:
        if not isinstance(panel, dict):
            continue
        yield panel
        for nested in panel.get("panels") or []:
            if isinstance(nested, dict):
                yield nested
    for row in dashboard.get("rows") or []:
        if isinstance(row, dict):
            yield from (p for p in row.get("panels") or [] if isinstance(p, dict))


def panel_targets(panel: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The panel's queries (``targets``); none for rows and text panels."""
    return [t for t in panel.get("targets") or [] if isinstance(t, dict)]


def find_panel(dashboard: Mapping[str, Any], panel_id: object) -> Panel | None:
    """The panel whose id is ``panel_id`` (rows flattened), or None (also when ``panel_id`` is None)."""
    for panel in iter_panels(dashboard):
        if panel.get("id") == panel_id:
            return panel
    return None


def target_datasource(panel: Mapping[str, Any], target: Mapping[str, Any]) -> Any:
    """The datasource a query uses: its own, else the panel's (None when neither names one)."""
    own = target.get("datasource")
    return own if own is not None else panel.get("datasource")


def template_variables(dashboard: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The dashboard's template variables (``templating.list``), each a mapping with a ``name``."""
    templating = dashboard.get("templating")
    entries = templating.get("list") if isinstance(templating, dict) else None
    return [v for v in entries or [] if isinstance(v, dict) and v.get("name")]


def default_variables(dashboard: Mapping[str, Any]) -> dict[str, VariableValue]:
    """Each template variable's current value (``current.value``), else its query/first option.

    ``$__all`` becomes the variable's ``allValue`` or ``.*``.
    """
    variables: dict[str, VariableValue] = {}
    for variable in template_variables(dashboard):
        value = _current_value(variable)
        if value is not None:
            variables[str(variable["name"])] = value
    return variables


def _current_value(variable: Mapping[str, Any]) -> VariableValue | None:
    current = variable.get("current") or {}
    value: Any = current.get("value") if isinstance(current, dict) else None
    if isinstance(value, str) and value == "" and "value" in current:
        return ""  # explicitly empty, e.g. a hidden `cluster` variable on a single cluster
    if value in (None, []):
        options = [o for o in variable.get("options") or [] if isinstance(o, dict)]
        selected = [o.get("value") for o in options if o.get("selected")] or [o.get("value") for o in options]
        value = selected[0] if selected else None
    if value in (None, "", []) and variable.get("type") in ("constant", "textbox", "custom", "datasource"):
        query = variable.get("query")
        value = str(query).split(",")[0].strip() if isinstance(query, str) else None
    if value in (None, []):
        return None
    if value == "$__all" or value == ["$__all"]:
        return str(variable.get("allValue") or ".*")
    if isinstance(value, list):
        return [str(v) for v in value]
    return str(value)


def substitute(expr: str, variables: Mapping[str, VariableValue] | None = None) -> str:
    """Fill in Grafana variables and interval macros.

    ``variables`` override :data:`MACRO_DEFAULTS`. A multi-value variable becomes ``(a|b)`` (Grafana's regex
    format for Prometheus and Loki). Unknown names are left as they are, as Grafana does, so that the query
    language's own parser reports them.
    """
    known: dict[str, VariableValue] = {**MACRO_DEFAULTS, **(variables or {})}

    def replace(match: re.Match[str]) -> str:
        name = match.group("braced") or match.group("bracket") or match.group("plain")
        if name not in known:
            return match.group(0)
        value = known[name]
        if isinstance(value, str):
            return value
        values = [str(v) for v in value]
        return values[0] if len(values) == 1 else "(" + "|".join(values) + ")"

    return _VARIABLE.sub(replace, expr)


def load_requirements(directory: Path) -> dict[str, tuple[str, int]]:
    """``requirements.yaml``: requirement id -> (dashboard uid, panel id). UsageError when malformed."""
    path = directory / REQUIREMENTS_FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}; it maps requirement ids to panels") from exc
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: invalid YAML: {str(exc).splitlines()[0]}") from exc
    entries = data.get("requirements") if isinstance(data, dict) else None
    if not isinstance(entries, dict):
        raise UsageError(f"{path}: expected a `requirements:` mapping of id -> {{dashboard, panel_id}}")
    found: dict[str, tuple[str, int]] = {}
    for req_id, entry in entries.items():
        panel_id = entry.get("panel_id") if isinstance(entry, dict) else None
        if not isinstance(entry, dict) or not entry.get("dashboard") or type(panel_id) is not int:
            raise UsageError(f"{path}: requirement {req_id} needs `dashboard: <uid>` and `panel_id: <int>`")
        found[str(req_id)] = (str(entry["dashboard"]), int(entry["panel_id"]))
    return found


def resolve_requirements(directory: Path) -> tuple[dict[str, tuple[Dashboard, Panel]], list[str]]:
    """Each requirement's dashboard and panel, plus a problem line for each one that does not resolve."""
    by_uid = {d.uid: d for d in load_dashboards(directory)}
    resolved: dict[str, tuple[Dashboard, Panel]] = {}
    problems: list[str] = []
    for req_id, (uid, panel_id) in load_requirements(directory).items():
        dashboard = by_uid.get(uid)
        if dashboard is None:
            problems.append(f"requirement {req_id}: no dashboard with uid {uid!r} in {directory}")
            continue
        panel = find_panel(dashboard.data, panel_id)
        if panel is None:
            problems.append(
                f"requirement {req_id}: dashboard {uid!r} ({dashboard.path.name}) has no panel id {panel_id}"
            )
            continue
        resolved[req_id] = (dashboard, panel)
    return resolved, problems


def load_requirement_panels(directory: Path) -> dict[str, tuple[str, Panel]]:
    """Requirement id -> (dashboard uid, panel); a UsageError lists each requirement that does not resolve."""
    resolved, problems = resolve_requirements(directory)
    if problems:
        raise UsageError(f"{directory / REQUIREMENTS_FILE}: " + "; ".join(problems))
    return {req_id: (dashboard.uid, panel) for req_id, (dashboard, panel) in resolved.items()}
