"""Chart values: loading YAML files and merging them the way helm does."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from monitoring_conformance.errors import UsageError

Values = dict[str, Any]


def load_yaml(path: Path) -> Any:
    """Parse one YAML document; a UsageError naming the file, line and fault when it does not parse."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}; check the path") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UsageError(f"{path}: invalid YAML{where}: {problem}; fix the file") from exc


def load_values(path: Path) -> Values:
    """A values file as a mapping (an empty file is an empty mapping)."""
    data = load_yaml(path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"{path}: a values file must hold a mapping, found {type(data).__name__}")
    return data


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> Values:
    """Merge ``override`` over ``base`` the way helm does.

    Maps merge, lists and scalars replace, null deletes the key.

    Neither argument is modified.
    """
    merged: Values = copy.deepcopy(dict(base))
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def merged_values(chart_dir: Path, *values_files: Path) -> Values:
    """``values.yaml`` of the chart with each values file merged over it, in order (like ``-f a -f b``)."""
    merged = load_values(chart_dir / "values.yaml")
    for path in values_files:
        merged = deep_merge(merged, load_values(path))
    return merged


def lookup(values: Mapping[str, Any], dotted: str, default: Any = None) -> Any:
    """``lookup(v, "a.b.c")`` = ``v["a"]["b"]["c"]``, or ``default`` when a step is missing."""
    node: Any = values
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return node
