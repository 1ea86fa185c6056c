"""Chart values: loading YAML files and merging them the way helm does."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from monitoring_conformance.errors import UsageError
from monitoring_conformance.tools.helm_offline import load_yaml

Values = dict[str, Any]


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
