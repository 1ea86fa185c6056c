"""One closing line for a run of several test tiers: ``total: N passed, N failed, N skipped``.

``python -m mc_devtools.junit_summary reports/junit-*.xml`` adds up the JUnit files that tox
wrote (one per tier) and prints the sum, so a reader (or CI) sees the whole run's count on one line.
Standard library only.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Counts:
    passed: int = 0
    failed: int = 0
    skipped: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.passed + other.passed, self.failed + other.failed, self.skipped + other.skipped)

    def line(self, label: str = "total") -> str:
        return f"{label}: {self.passed} passed, {self.failed} failed, {self.skipped} skipped"


def counts_of(path: Path) -> Counts:
    """Count the test cases of one JUnit file; errors count as failures."""
    root = ET.parse(path).getroot()  # noqa: S314 - local file written by pytest in this run
    passed = failed = skipped = 0
    for case in root.iter("testcase"):
        tags = {child.tag for child in case}
        if tags & {"failure", "error"}:
            failed += 1
        elif "skipped" in tags:
            skipped += 1
        else:
            passed += 1
    return Counts(passed, failed, skipped)


def summarize(paths: Iterable[Path]) -> tuple[Counts, list[str]]:
    """Sum the counts of ``paths``; unreadable or missing files are returned as problems, not raised."""
    total = Counts()
    problems: list[str] = []
    for path in paths:
        if not path.is_file():
            continue
        try:
            total = total + counts_of(path)
        except ET.ParseError as exc:
            problems.append(f"{path}: not a readable JUnit file ({exc})")
    return total, problems


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    total, problems = summarize(Path(a) for a in args)
    for problem in problems:
        print(f"junit_summary: {problem}", file=sys.stderr)
    print(total.line())
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
