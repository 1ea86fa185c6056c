"""The Todo backend image inputs: pinned, complete requirements.txt and the Dockerfile's facts."""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

pytestmark = pytest.mark.unit

REPO_ROOT = Path(__file__).resolve().parents[3]
APP_ROOT = REPO_ROOT / "fixtures" / "todo-backend"
REQUIREMENTS = APP_ROOT / "requirements.txt"
CONSTRAINTS = REPO_ROOT / "constraints.txt"
DOCKERFILE = APP_ROOT / "Dockerfile"


def pins(text: str, source: str) -> dict[str, str]:
    """``{canonical name: version}`` of a pip requirements text where every entry is ``name==version``."""
    found: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([A-Za-z0-9_.+\-]+)", line)
        assert match, f"{source}:{number}: {line!r} is not pinned as name==version"
        found[canonicalize_name(match.group(1))] = match.group(2)
    return found


def pin_mismatches(requirements: dict[str, str], constraints: dict[str, str]) -> list[str]:
    """Requirements whose pin differs from (or is missing in) the constraints."""
    problems = []
    for name, version in sorted(requirements.items()):
        wanted = constraints.get(name)
        if wanted is None:
            problems.append(f"{name}=={version} is not in constraints.txt")
        elif wanted != version:
            problems.append(f"{name}=={version} but constraints.txt pins {wanted}")
    return problems


def missing_dependencies(requirements: dict[str, str]) -> list[str]:
    """Runtime dependencies (per the installed metadata) of the pinned packages that are not pinned too."""
    missing = []
    for name in sorted(requirements):
        try:
            declared = distribution(name).requires or []
        except PackageNotFoundError:
            missing.append(f"{name} is not installed here, so its dependencies cannot be checked")
            continue
        for entry in declared:
            req = Requirement(entry)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            if canonicalize_name(req.name) not in requirements:
                missing.append(f"{req.name} (needed by {name})")
    return missing


def dockerfile_problems(text: str) -> list[str]:
    """What the Todo backend Dockerfile must say, as a list of what it fails to."""
    problems = []
    base = re.search(r"^FROM\s+(\S+)", text, re.MULTILINE)
    if base is None or not re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?", base.group(1)):
        problems.append(
            f"base image must be python:3.11.<patch>-slim pinned by tag, got {base and base.group(1)}"
        )
    user = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    if not user or user[-1].split(":")[0] in ("root", "0"):
        problems.append(f"the last USER must be a non-root user, got {user[-1] if user else 'none'}")
    if not re.search(r"^EXPOSE\s+8000\b", text, re.MULTILINE):
        problems.append("EXPOSE 8000 is missing")
    if "--requirement /tmp/requirements.txt" not in text and "-r requirements.txt" not in text:
        problems.append("dependencies must be installed from requirements.txt")
    cmd = re.search(r"^CMD\s+(.+)$", text, re.MULTILINE)
    wanted = '"uvicorn", "main:app", "--host", "0.0.0.0", "--port", "8000"'
    if cmd is None or wanted not in cmd.group(1):
        problems.append(f"CMD must run uvicorn main:app on 0.0.0.0:8000, got {cmd and cmd.group(1)}")
    return problems


def test_requirements_match_constraints() -> None:
    requirements = pins(REQUIREMENTS.read_text(), "requirements.txt")
    constraints = pins(CONSTRAINTS.read_text(), "constraints.txt")
    assert pin_mismatches(requirements, constraints) == []


def test_requirements_hold_every_runtime_dependency() -> None:
    requirements = pins(REQUIREMENTS.read_text(), "requirements.txt")
    assert {"fastapi", "uvicorn", "prometheus-fastapi-instrumentator"} <= set(requirements)
    assert missing_dependencies(requirements) == []


def test_dockerfile_states_the_image_contract() -> None:
    assert dockerfile_problems(DOCKERFILE.read_text()) == []


def test_unpinned_requirement_is_named() -> None:
    with pytest.raises(AssertionError, match=r"requirements.txt:2: 'uvicorn>=0.54' is not pinned"):
        pins("fastapi==0.165.0\nuvicorn>=0.54\n", "requirements.txt")


def test_pin_drift_is_reported() -> None:
    problems = pin_mismatches({"fastapi": "0.1.0", "left-pad": "1.0"}, {"fastapi": "0.165.0"})
    assert problems == [
        "fastapi==0.1.0 but constraints.txt pins 0.165.0",
        "left-pad==1.0 is not in constraints.txt",
    ]


def test_a_dropped_dependency_is_reported() -> None:
    requirements = pins(REQUIREMENTS.read_text(), "requirements.txt")
    del requirements["starlette"]
    assert "starlette (needed by fastapi)" in missing_dependencies(requirements)


@pytest.mark.parametrize(
    ("old", "new", "complaint"),
    [
        ("FROM python:3.11.14-slim-bookworm", "FROM python:latest", "base image must be"),
        ("USER 10001:10001", "USER root", "non-root user"),
        ("EXPOSE 8000", "EXPOSE 8080", "EXPOSE 8000 is missing"),
        ('"--port", "8000"', '"--port", "9000"', "CMD must run uvicorn"),
    ],
)
def test_a_broken_dockerfile_is_reported(old: str, new: str, complaint: str) -> None:
    text = DOCKERFILE.read_text()
    assert old in text, f"the Dockerfile no longer contains {old!r}; update this test"
    problems = dockerfile_problems(text.replace(old, new))
    assert any(complaint in p for p in problems), problems
