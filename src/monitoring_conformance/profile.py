"""Requirement profiles: which requirements a target must meet, with which queries, budgets and thresholds.

A profile is data (``fixtures/profiles/<name>.yaml``). Loading validates it fully; any problem is a one-line
:class:`UsageError` naming the file, the key, the value and the fix. Strings may refer to
``${app_namespace}``, ``${monitoring_namespace}`` and ``${release}``; :meth:`Profile.bind` fills them in.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from monitoring_conformance.errors import UsageError
from monitoring_conformance.requirement import CATALOGUE
from monitoring_conformance.settings import REPO_ROOT

PROFILES_DIR = REPO_ROOT / "fixtures" / "profiles"
VARIABLES = ("app_namespace", "monitoring_namespace", "release")
#: Filled in by the check itself, not by bind(): the rate window that follows the real scrape interval.
CHECK_VARIABLES = {"metrics.request_rate": ("rate_window",)}
DEFAULT_INTERVAL = 0.5
MAX_INTERVAL = 1.0
_VAR = re.compile(r"\$\{([^}]*)\}")


@dataclass(frozen=True)
class Field:
    """One key of a requirement's entry: its kind, whether it is required, and its default."""

    kind: str
    required: bool = False
    default: Any = None
    hint: str = ""


_COMMON = {
    "timeout": Field("seconds", required=True, hint="timeout: 60"),
    "interval": Field("interval", hint="interval: 0.5"),
    "note": Field("text", hint='note: "why this entry differs"'),
}
#: The scrape job of the app under test: its targets must be the process (host) the suite reaches.
_APP_JOB = Field("text", hint="app_job: todo-backend")
_SERIES = {
    "queries": Field("queries", required=True, hint='queries: {node_cpu: node_cpu_seconds_total}'),
    "threshold": Field("count", default=1, hint="threshold: 1"),
    "app_job": _APP_JOB,
}
SCHEMAS: dict[str, dict[str, Field]] = {
    "stack.prometheus_targets": {
        "jobs": Field("texts", required=True, hint="jobs: [prometheus, todo-backend]"),
        "threshold": Field("count", default=1, hint="threshold: 1"),
        "app_job": _APP_JOB,
    },
    "metrics.cpu": _SERIES,
    "metrics.memory": _SERIES,
    "metrics.pod_status": _SERIES,
    "metrics.request_rate": {
        "query": Field("text", required=True, hint="query: sum(rate(http_requests_total[1m]))"),
        # a counter only the suite's POSTs move: it must grow by at least the POSTs the backend acknowledged
        "counter": Field(
            "text",
            required=True,
            hint='counter: sum(http_requests_total{handler="/api/{user_id}/tasks",method="POST"})',
        ),
        "traffic": Field("count", default=20, hint="traffic: 20"),
        "threshold": Field("number", default=0, hint="threshold: 0"),
        "app_job": _APP_JOB,
    },
    "dashboards.provisioned": {},
    "dashboards.panels_have_data": {
        "variables": Field("labels", default={}, hint='variables: {namespace: "${app_namespace}"}'),
        "range": Field("text", default="now-15m", hint="range: now-15m"),
    },
    "logs.todo_backend": {
        "selector": Field("text", required=True, hint='selector: \'{namespace="todo", app="todo-backend"}\''),
        "fallback_selector": Field("text", required=True, hint='fallback_selector: \'{namespace="todo"}\''),
        "labels": Field("labels", required=True, hint='labels: {app: todo-backend, pod: "*"}'),
        "lookback": Field("seconds", default=300, hint="lookback: 300"),
        "threshold": Field("seconds", required=True, hint="threshold: 60"),
    },
    "grafana.ready_within_30s": {
        "dashboard": Field("text", hint="dashboard: todo-overview"),
        "threshold": Field("seconds", default=30, hint="threshold: 30"),
    },
    "alerts.fire": {
        "alert": Field("text", required=True, hint="alert: TodoBackendDown"),
        # a second alert, fired by a burst of 5xx answers (absent: no 5xx part)
        "error_alert": Field("text", hint="error_alert: TodoBackendHighErrorRate"),
        # added to the rule's for + 2 evaluation intervals: scrape interval, discovery, delivery
        "margin": Field("seconds", default=10, hint="margin: 10"),
    },
    "app.unchanged": {
        "restarts": Field("restarts", required=True,
                          hint="restarts: {mode: process}"),
        "user_id": Field("text", default="conformance", hint="user_id: conformance"),
        "threshold": Field("number", default=0, hint="threshold: 0"),
    },
}
#: total: a restart counter from Prometheus; unchanged: a Prometheus query's values at start and end;
#: process: process_start_time_seconds from the app's own /metrics at start and end.
RESTART_MODES = ("total", "unchanged", "process")


@dataclass(frozen=True)
class Spec:
    """One requirement of a profile: budget, poll interval, threshold and its requirement-specific data."""

    id: str
    timeout: float
    interval: float
    threshold: float | None
    options: Mapping[str, Any] = field(default_factory=dict)
    note: str = ""

    def text(self, key: str) -> str:
        return str(self.options[key])

    def texts(self, key: str) -> list[str]:
        return [str(item) for item in self.options.get(key, ())]

    def mapping(self, key: str) -> dict[str, str]:
        return {str(k): str(v) for k, v in dict(self.options.get(key, {})).items()}

    def number(self, key: str) -> float:
        return float(self.options[key])


@dataclass(frozen=True)
class Profile:
    """A validated profile. ``requirements`` keeps the file's order."""

    name: str
    path: Path
    description: str
    requirements: Mapping[str, Spec]

    def ids(self) -> list[str]:
        return list(self.requirements)

    def spec(self, requirement_id: str) -> Spec | None:
        return self.requirements.get(requirement_id)

    def bind(self, variables: Mapping[str, str]) -> Profile:
        """Fill in ``${name}`` references with the run's namespaces and release."""
        bound = {
            rid: replace(spec, options=_substitute(dict(spec.options), variables))
            for rid, spec in self.requirements.items()
        }
        return replace(self, requirements=bound)


def resolve_path(value: str, shown: str, *, profiles_dir: Path = PROFILES_DIR) -> Path:
    """A profile name (``fixtures/profiles/<name>.yaml``) or a path -> an existing file, else UsageError."""
    looks_like_path = "/" in value or "\\" in value or value.endswith((".yaml", ".yml"))
    if looks_like_path:
        path = Path(value).expanduser()
        if not path.is_file():
            raise UsageError(f"{shown}: profile file not found; give an existing YAML file or a profile name")
        return path
    path = profiles_dir / f"{value}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in profiles_dir.glob("*.yaml"))) or "none"
        raise UsageError(f"{shown}: no such profile; use one of {known}, or a path to a YAML file")
    return path


def load(value: str, shown: str = "--profile", *, profiles_dir: Path = PROFILES_DIR) -> Profile:
    """Find, read and validate a profile; every problem is a one-line UsageError."""
    label = f"{shown} {value}" if shown.startswith("-") else shown
    path = resolve_path(value, label, profiles_dir=profiles_dir)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{path}: cannot read ({exc.strerror}); check the file's permissions") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        raise UsageError(f"{path}: not valid YAML{line}; fix the syntax") from None
    return validate(raw, path)


def validate(raw: object, path: Path) -> Profile:
    """Check a parsed profile against :data:`SCHEMAS`; return it, or raise a one-line UsageError."""
    if not isinstance(raw, dict):
        raise UsageError(f"{path}: top level must be a mapping with `requirements:`; see fixtures/profiles")
    allowed = {"name", "description", "interval", "requirements"}
    for key in raw:
        if key not in allowed:
            raise UsageError(f"{path}: unknown key {key!r}; allowed at the top: {', '.join(sorted(allowed))}")
    name = raw.get("name", path.stem)
    if not isinstance(name, str) or not name:
        raise UsageError(f"{path}: name = {name!r}: must be a non-empty string; e.g. name: {path.stem}")
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise UsageError(f"{path}: description must be a string; quote it")
    default_interval = DEFAULT_INTERVAL
    if "interval" in raw:
        default_interval = _check(path, "interval", raw["interval"], Field("interval", hint="interval: 0.5"))
    reqs = raw.get("requirements")
    if not isinstance(reqs, dict) or not reqs:
        raise UsageError(f"{path}: requirements: missing or empty; map requirement ids to their settings")
    specs: dict[str, Spec] = {}
    for rid, entry in reqs.items():
        if rid not in CATALOGUE:
            raise UsageError(
                f"{path}: requirements.{rid}: unknown requirement id; use one of {', '.join(CATALOGUE)}"
            )
        specs[rid] = _spec(path, rid, entry, default_interval)
    return Profile(name=name, path=path, description=description, requirements=specs)


def _spec(path: Path, rid: str, entry: object, default_interval: float) -> Spec:
    if not isinstance(entry, dict):
        raise UsageError(f"{path}: requirements.{rid}: must be a mapping with `timeout:`; e.g. timeout: 60")
    schema = {**_COMMON, **SCHEMAS[rid]}
    for key in entry:
        if key not in schema:
            raise UsageError(
                f"{path}: requirements.{rid}.{key}: unknown key; allowed: {', '.join(sorted(schema))}"
            )
    values: dict[str, Any] = {}
    for key, spec in schema.items():
        where = f"requirements.{rid}.{key}"
        if key not in entry:
            if spec.required:
                raise UsageError(f"{path}: {where}: missing; add it, e.g. {spec.hint}")
            values[key] = spec.default
            continue
        values[key] = _check(path, where, entry[key], spec)
    threshold = values.pop("threshold", None)
    if rid == "grafana.ready_within_30s" and threshold is not None and threshold > 30:
        raise UsageError(
            f"{path}: requirements.{rid}.threshold = {threshold:g}: must be at most 30; the id promises 30 s"
        )
    options = {k: v for k, v in values.items() if k not in _COMMON}
    _check_variables(path, rid, options)
    return Spec(
        id=rid,
        timeout=values["timeout"],
        interval=values["interval"] if values["interval"] is not None else default_interval,
        threshold=None if threshold is None else float(threshold),
        options=options,
        note=values["note"] or "",
    )


def _check(path: Path, where: str, value: object, spec: Field) -> Any:
    def bad(problem: str) -> UsageError:
        return UsageError(f"{path}: {where} = {value!r}: {problem}; e.g. {spec.hint}")

    kind = spec.kind
    if kind in ("seconds", "interval", "number", "count"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return _raise(bad("not a number"))
        if not math.isfinite(value):
            return _raise(bad("not a finite number"))
        if value < 0:
            return _raise(bad("must not be negative"))
        if kind in ("seconds", "interval") and value == 0:
            return _raise(bad("must be greater than 0"))
        if kind == "interval" and value > MAX_INTERVAL:
            return _raise(bad(f"at most {MAX_INTERVAL:g}s, so checks react within a second"))
        if kind == "count" and (not float(value).is_integer() or value < 1):
            return _raise(bad("must be a whole number of at least 1"))
        return int(value) if kind == "count" else float(value)
    if kind == "text":
        if not isinstance(value, str) or not value.strip():
            return _raise(bad("must be a non-empty string"))
        return value
    if kind == "texts":
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            return _raise(bad("must be a list of non-empty strings"))
        if spec.required and not value:
            return _raise(bad("must not be empty"))
        return tuple(value)
    if kind in ("queries", "labels"):
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in value.items()
        ):
            return _raise(bad("must map names to non-empty strings"))
        if spec.required and not value:
            return _raise(bad("must not be empty"))
        return dict(value)
    if kind == "restarts":
        return _check_restarts(value, bad)
    raise AssertionError(f"schema kind {kind!r} has no check")  # pragma: no cover - schema bug


def _check_restarts(value: object, bad: Any) -> Any:
    if not isinstance(value, dict) or "mode" not in value or not set(value) <= {"mode", "query"}:
        return _raise(bad("must be a mapping with `mode` (and `query` for total/unchanged)"))
    if value["mode"] not in RESTART_MODES:
        return _raise(bad(f"mode must be one of {', '.join(RESTART_MODES)}"))
    query = value.get("query", "")
    if value["mode"] != "process" and (not isinstance(query, str) or not query.strip()):
        return _raise(bad(f"mode {value['mode']} needs `query`, a non-empty PromQL string"))
    return {"mode": value["mode"], "query": str(query or "process_start_time_seconds")}


def _raise(error: UsageError) -> Any:
    raise error


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list | tuple):
        return [s for item in value for s in _strings(item)]
    return []


def _check_variables(path: Path, rid: str, options: Mapping[str, Any]) -> None:
    for key, value in options.items():
        for text in _strings(value):
            for name in _VAR.findall(text):
                known = (*VARIABLES, *CHECK_VARIABLES.get(rid, ()))
                if name not in known:
                    raise UsageError(
                        f"{path}: requirements.{rid}.{key}: unknown variable ${{{name}}}; "
                        f"use one of {', '.join('${' + v + '}' for v in known)}"
                    )


def _substitute(value: Any, variables: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return _VAR.sub(lambda m: variables.get(m.group(1), m.group(0)), value)
    if isinstance(value, dict):
        return {k: _substitute(v, variables) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return type(value)(_substitute(v, variables) for v in value)
    return value
