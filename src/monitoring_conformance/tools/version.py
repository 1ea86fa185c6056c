"""Release numbers of the command-line tools (``v4.1.4``), read from their version output."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar, Self

from monitoring_conformance.errors import ToolError

_VERSION = re.compile(r"v?(\d+)\.(\d+)\.(\d+)")


@dataclass(frozen=True, order=True)
class ToolVersion:
    """major.minor.patch of a tool; subclasses name the tool and an example for the error message."""

    major: int
    minor: int
    patch: int

    tool: ClassVar[str] = "tool"
    example: ClassVar[str] = "v1.2.3"

    @classmethod
    def parse(cls, text: str) -> Self:
        """The first ``[v]X.Y.Z`` in ``text``; a one-line ToolError when there is none."""
        match = _VERSION.search(text)
        if not match:
            raise ToolError(
                f"cannot read a {cls.tool} version from {text.strip()[:80]!r}: expected e.g. {cls.example}"
            )
        major, minor, patch = (int(part) for part in match.groups())
        return cls(major, minor, patch)

    def __str__(self) -> str:
        return f"v{self.major}.{self.minor}.{self.patch}"
