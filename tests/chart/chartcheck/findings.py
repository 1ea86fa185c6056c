"""The one result type every chart check returns."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    """One fault: which file, where in it, and what is wrong (with the fix when there is an obvious one)."""

    file: str
    where: str
    message: str

    def __str__(self) -> str:
        location = f"{self.file} [{self.where}]" if self.where else self.file
        return f"{location}: {self.message}"


def format_findings(findings: Iterable[Finding], *, what: str = "findings") -> str:
    """A readable block for an assertion message: a headline, then one line per finding."""
    items = [str(f) for f in findings]
    if not items:
        return f"{what}: no findings"
    return "\n".join([f"{what}: {len(items)} finding(s)", *(f"  - {item}" for item in items)])
