"""Reading the tables the chart tier checks out of Markdown files."""

from __future__ import annotations

from collections.abc import Iterator


def section_lines(text: str, title: str) -> Iterator[str]:
    """The lines under every heading (any level) whose title is ``title``, up to the next heading."""
    inside = False
    for line in text.splitlines():
        if line.startswith("#"):
            inside = line.lstrip("#").strip() == title
        elif inside:
            yield line
