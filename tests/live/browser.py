"""Headless Chromium (Debian's ``chromium``) as the live tier's page checker for acceptance.html.

How a page is judged: Chromium loads it from a file with ``--dump-dom`` and ``--enable-logging=stderr``.
Every message the page's console receives is logged there as ``INFO:CONSOLE…`` with its source. The page
has no script and a Content-Security-Policy that forbids scripts and requests, so ANY console message is a
problem: an SVG attribute Chromium cannot parse (``Error: <polyline> attribute points: Expected number``),
a script that was injected (refused by the CSP, or run and logging), a resource it tried to fetch. The DOM
Chromium serialises after loading is what the structural checks read (a card, an SVG with data points).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from monitoring_conformance.tools.runner import SubprocessRunner, find_tool

FIX = "apt-get install -y chromium (or: ./scripts/bootstrap --tools chromium)"
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)  # fmt: skip
TIMEOUT_S = 90.0
_CONSOLE = re.compile(r":CONSOLE[:(]\S*\]\s*(?P<text>.*)$")


@dataclass(frozen=True)
class Rendered:
    """What Chromium made of a page: the DOM after loading, its console messages, the seconds it took."""

    dom: str
    console: list[str]
    seconds: float


def _run(page: Path, workdir: Path, *extra: str) -> tuple[str, str, float]:
    profile = workdir / "chromium-profile"
    profile.mkdir(parents=True, exist_ok=True)
    argv = [find_tool("chromium", fix=FIX), *FLAGS, f"--user-data-dir={profile}", *extra]
    argv.append(page.resolve().as_uri())
    started = time.monotonic()
    result = SubprocessRunner().run(argv, timeout=TIMEOUT_S)  # check=True: argv, exit code, stderr tail
    return result.stdout, result.stderr, time.monotonic() - started


def load(page: Path, workdir: Path) -> Rendered:
    """Load ``page`` from its file; return the serialised DOM and every console message."""
    dom, stderr, seconds = _run(page, workdir, "--enable-logging=stderr", "--v=0", "--dump-dom")
    console = [m.group("text") for line in stderr.splitlines() if (m := _CONSOLE.search(line))]
    return Rendered(dom, console, seconds)


def screenshot(page: Path, out: Path, workdir: Path) -> float:
    """A PNG of the page's first 1280x2400 pixels at ``out``; the seconds it took."""
    _, _, seconds = _run(page, workdir, "--window-size=1280,2400", "--hide-scrollbars", f"--screenshot={out}")
    return seconds


def pdf(page: Path, out: Path, workdir: Path) -> float:
    """The page printed to PDF at ``out`` (print CSS applies); the seconds it took."""
    _, _, seconds = _run(page, workdir, "--no-pdf-header-footer", f"--print-to-pdf={out}")
    return seconds


class _Shape(HTMLParser):
    """The ids of the page's elements, and per SVG polyline its point count and any point that is not x,y."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.polylines: list[int] = []
        self.bad_points: list[str] = []
        self.svgs = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(str(values["id"]))
        if tag == "svg":
            self.svgs += 1
        if tag == "polyline":
            pairs = (values.get("points") or "").split()
            good = [p for p in pairs if re.fullmatch(r"-?\d+(\.\d+)?,-?\d+(\.\d+)?", p)]
            self.bad_points += [p for p in pairs if p not in good]
            self.polylines.append(len(good))


def problems(rendered: Rendered, *, card: str) -> list[str]:
    """Why the page is not fit to show (empty when it is): console messages, no card ``card``, no SVG
    line with at least two data points, a point that is not a pair of numbers."""
    found = [f"console: {text}" for text in rendered.console]
    shape = _Shape()
    shape.feed(rendered.dom)
    if f"req-{card}" not in shape.ids:
        found.append(f"no card for {card} (no element id=req-{card}); ids: {sorted(shape.ids)[:12]}")
    if not any(count >= 2 for count in shape.polylines):
        found.append(f"no SVG plot with data points ({shape.svgs} svg, polyline points: {shape.polylines})")
    if shape.bad_points:
        found.append(f"SVG points that are not x,y numbers: {shape.bad_points[:5]}")
    return found
