"""Chart dependencies already in ``charts/``: when they match Chart.lock, the install needs no network.

An air-gapped machine gets the dependency archives some other way (``helm dependency build`` elsewhere,
then copy ``charts/monitoring/charts/*.tgz``). They match when:

* ``Chart.lock`` is in sync with ``Chart.yaml``: its ``digest`` equals the one helm computes from both
  dependency lists (sha256 of the JSON pair ``[Chart.yaml dependencies, Chart.lock dependencies]``, with
  the field names and omissions of helm's own Dependency type), which is helm's "lock file is out of sync"
  check;
* for every locked dependency, ``charts/<name>-<version>.tgz`` exists, and the chart inside it has that
  name and version (what ``helm dependency list`` reports as ``ok``).

Then :func:`missing_reason` returns None and the release steps skip ``helm repo add`` and ``helm dependency
build``; otherwise it says what does not match, and they run as before.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

#: Dependency fields helm writes into the digest's JSON, in its order; ``name`` and ``repository`` always.
_OPTIONAL = ("condition", "tags", "enabled", "import-values", "alias")


def _helm_dependency(entry: Mapping[str, Any], *, locked: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"name": str(entry.get("name") or "")}
    if entry.get("version"):
        out["version"] = str(entry["version"])
    out["repository"] = str(entry.get("repository") or "")
    if not locked:
        out.update({key: entry[key] for key in _OPTIONAL if entry.get(key)})
    return out


def lock_digest(required: Sequence[Mapping[str, Any]], locked: Sequence[Mapping[str, Any]]) -> str:
    """The ``digest`` helm writes into Chart.lock for these Chart.yaml and Chart.lock dependencies."""
    pair = [[_helm_dependency(d, locked=False) for d in required],
            [_helm_dependency(d, locked=True) for d in locked]]
    data = json.dumps(pair, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(data.encode("utf-8")).hexdigest()


def _load(path: Path) -> dict[str, Any] | None:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    return data if isinstance(data, dict) else None


def _archive_chart(archive: Path, name: str) -> dict[str, Any] | None:
    """The Chart.yaml inside a chart archive (``<name>/Chart.yaml``), or None when it cannot be read."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            member = tar.extractfile(f"{name}/Chart.yaml")
            data = yaml.safe_load(member.read()) if member is not None else None
    except (OSError, tarfile.TarError, KeyError, yaml.YAMLError):
        return None
    return data if isinstance(data, dict) else None


def missing_reason(chart: Path) -> str | None:
    """None when ``chart/charts`` holds every dependency Chart.lock pins (see the module docstring); else
    why not, in a few words."""
    meta, lock = _load(chart / "Chart.yaml"), _load(chart / "Chart.lock")
    if meta is None or lock is None:
        return f"no readable {chart / 'Chart.lock'}"
    required = [d for d in meta.get("dependencies") or [] if isinstance(d, dict)]
    locked = [d for d in lock.get("dependencies") or [] if isinstance(d, dict)]
    if not required:
        return None
    if lock.get("digest") != lock_digest(required, locked):
        return f"{chart / 'Chart.lock'} is out of sync with Chart.yaml (its digest differs)"
    for dep in locked:
        name, version = str(dep.get("name")), str(dep.get("version"))
        archive = chart / "charts" / f"{name}-{version}.tgz"
        if not archive.is_file():
            return f"{archive} is missing"
        inside = _archive_chart(archive, name)
        if inside is None or str(inside.get("name")) != name or str(inside.get("version")) != version:
            found = f"{inside.get('name')} {inside.get('version')}" if inside else "no readable Chart.yaml"
            return f"{archive} holds {found}, not {name} {version}"
    return None
