"""The acceptance report: ``acceptance.json``, ``acceptance.md`` and ``acceptance.html`` (report_html.py),
plus the JUnit properties of a check.

Every string that goes into a report passes through :func:`clean` (secret redaction) first.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from monitoring_conformance import report_html
from monitoring_conformance.errors import UsageError
from monitoring_conformance.redact import redact
from monitoring_conformance.requirement import FAIL, NOT_VERIFIED, PASS, Record, first_line
from monitoring_conformance.settings import rfc3339

JSON_NAME = "acceptance.json"
MARKDOWN_NAME = "acceptance.md"
#: The keys of acceptance.json, in order.
KEYS = (
    "verdict", "strict", "target", "profile", "started_at", "duration_s", "versions", "timings",
    "summary", "requirements", "series", "diagnostics",
)
REQUIREMENT_KEYS = ("id", "title", "status", "measured", "unit", "threshold", "evidence", "message")
#: Verdicts of a run that did not finish: a signal (Ctrl-C, SIGTERM) stopped it, or it never started
#: checking (the kind preflight failed). Neither is a pass or a fail of the stack; the CLI exits 3.
INTERRUPTED, INCOMPLETE = "interrupted", "incomplete"
VERDICTS = (PASS, FAIL, INTERRUPTED, INCOMPLETE)
JUNIT_NAME = "junit.xml"
#: What a run writes into the report folder; removed at start so an old "pass" cannot outlive a new run.
REPORT_FILES = (JSON_NAME, MARKDOWN_NAME, report_html.HTML_NAME, JUNIT_NAME)


def clean(value: Any, secrets: Iterable[str] = ()) -> Any:
    """``value`` with every string redacted (the one place reports call the redactor), and every float that
    is not finite (NaN, infinity: JSON has no such numbers) as None."""
    extra = list(secrets)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str):
        return redact(value, extra)
    if isinstance(value, Mapping):
        return {clean(k, extra): clean(v, extra) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v, extra) for v in value]
    return value


def verdict(statuses: Iterable[str], *, strict: bool, session_ok: bool = True) -> str:
    """``fail`` when a requirement failed, when strict and one is not_verified, when nothing was checked,
    or when the session itself broke; else ``pass``."""
    seen = list(statuses)
    if not seen or not session_ok or FAIL in seen:
        return FAIL
    if strict and NOT_VERIFIED in seen:
        return FAIL
    return PASS


def build(
    records: Iterable[Record],
    *,
    strict: bool,
    target: str,
    profile: str,
    started: float,
    duration_s: float,
    versions: Mapping[str, str] | None = None,
    timings: Mapping[str, float] | None = None,
    diagnostics: Mapping[str, Any] | None = None,
    series: Mapping[str, Any] | None = None,
    session_problems: Iterable[str] = (),
    secrets: Iterable[str] = (),
    stopped: str | None = None,
) -> dict[str, Any]:
    """The report as a dict with the keys of :data:`KEYS`, redacted. ``stopped`` (:data:`INTERRUPTED` or
    :data:`INCOMPLETE`) is the verdict of a run that did not finish, whatever its records say."""
    if stopped not in (None, INTERRUPTED, INCOMPLETE):
        raise ValueError(f"stopped must be {INTERRUPTED} or {INCOMPLETE}, not {stopped!r}")
    items = [_finite_measured(record.as_dict()) for record in records]
    problems = list(session_problems)
    statuses = [item["status"] for item in items]
    result = stopped or verdict(statuses, strict=strict, session_ok=not problems)
    diag: dict[str, Any] = dict(diagnostics or {})
    if problems:
        diag["session"] = problems
    report = {
        "verdict": result,
        "strict": strict,
        "target": target,
        "profile": profile,
        "started_at": rfc3339(started),
        "duration_s": round(duration_s, 3),
        "versions": dict(versions or {}),
        "timings": {k: round(float(v), 3) for k, v in (timings or {}).items()},
        "summary": {status: statuses.count(status) for status in (PASS, FAIL, NOT_VERIFIED)},
        "requirements": items,
        "series": dict(series or {}),
        "diagnostics": diag if result != PASS else {},
    }
    cleaned: dict[str, Any] = clean(report, secrets)
    return cleaned


def _finite_measured(item: dict[str, Any]) -> dict[str, Any]:
    """A measured value that is not a finite number becomes null, with a note saying what it was."""
    measured = item.get("measured")
    if isinstance(measured, float) and not math.isfinite(measured):
        item["measured"] = None
        note = f"measured value was {measured}, not a finite number: reported as null"
        item["message"] = f"{item['message']}\n{note}" if item.get("message") else note
    return item


def write(report: Mapping[str, Any], directory: Path) -> tuple[Path, Path]:
    """Write acceptance.json, acceptance.md and acceptance.html into ``directory``; return the first two."""
    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / JSON_NAME
    md_path = directory / MARKDOWN_NAME
    # allow_nan=False: a NaN that slipped through is a ValueError here, never an invalid JSON file
    json_path.write_text(json.dumps(report, indent=2, default=str, allow_nan=False) + "\n", encoding="utf-8")
    md_path.write_text(to_markdown(report), encoding="utf-8")
    report_html.write(report, directory)
    return json_path, md_path


def remove_stale(directory: Path, shown: str) -> list[Path]:
    """Remove the report files of an earlier run (only :data:`REPORT_FILES`) from ``directory``.

    Called when a run starts, so that a run that stops early (bad input) cannot leave an old "pass"
    behind. Returns the files removed; one that cannot be removed is a UsageError naming ``shown`` (the
    report folder option as given).

    Nothing else is ever deleted: not other files, not a folder that carries one of these names, not the
    file a symlink points to (only the link), and not ``diagnostics/``. An earlier run's diagnostics may be
    the only record of a cluster that no longer exists, and a verdict cannot be read from them, so they
    stay; a failing run writes its own diagnostics over them, file by file (``summary.json`` always says
    which sections this run collected).
    """
    removed = []
    for name in REPORT_FILES:
        path = directory / name
        try:
            if path.is_file() or path.is_symlink():
                path.unlink()
                removed.append(path)
        except OSError as exc:
            raise UsageError(
                f"{shown}: the earlier {name} cannot be removed ({exc.strerror or type(exc).__name__});"
                " remove it by hand or pass another folder"
            ) from None
    return removed


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "–"
    if isinstance(value, float):
        value = f"{value:g}"
    text = " ".join(str(value).split())
    return text.replace("|", "\\|")


def _first_line(text: str, limit: int = 160) -> str:
    line = first_line(text)
    return line if len(line) <= limit else line[: limit - 1] + "…"


def to_markdown(report: Mapping[str, Any]) -> str:
    """A page a reviewer can read without rerunning: header, a table, evidence and diagnostics."""
    verdict_text = str(report.get("verdict", "fail")).upper()
    lines = [
        f"# Acceptance report: {verdict_text}",
        "",
        f"- target: `{report.get('target')}`, profile: `{report.get('profile')}`,"
        f" strict: `{str(report.get('strict')).lower()}`",
        f"- started: {report.get('started_at')}, duration: {report.get('duration_s')} s",
    ]
    summary = report.get("summary") or {}
    if summary:
        lines.append("- requirements: " + ", ".join(f"{n} {status}" for status, n in summary.items()))
    versions = report.get("versions") or {}
    if versions:
        lines.append("- versions: " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())))
    timings = report.get("timings") or {}
    if timings:
        lines.append("- timings: " + ", ".join(f"{k} {v} s" for k, v in timings.items()))
    lines += [
        "",
        "| Requirement | Status | Measured | Threshold | Message |",
        "|---|---|---|---|---|",
    ]
    for item in report.get("requirements") or []:
        measured = item.get("measured")
        shown = f"{_cell(measured)} {item.get('unit', '')}".strip() if measured is not None else "–"
        lines.append(
            f"| `{item['id']}` {_cell(item.get('title'))} | **{item['status']}** | {shown}"
            f" | {_cell(item.get('threshold'))} | {_cell(_first_line(str(item.get('message') or '')))} |"
        )
    lines += ["", "## Evidence", ""]
    for item in report.get("requirements") or []:
        lines.append(f"### `{item['id']}`: {item['status']}")
        lines.append("")
        message = str(item.get("message") or "").strip()
        if message:
            lines += ["```", message, "```", ""]
        for evidence in item.get("evidence") or []:
            extra = {k: v for k, v in evidence.items() if k not in ("request", "response")}
            suffix = f" ({', '.join(f'{k}={v}' for k, v in extra.items())})" if extra else ""
            lines.append(f"- request: `{evidence.get('request', '')}`{suffix}")
            lines += ["", "  ```json", f"  {evidence.get('response', '')}", "  ```", ""]
    diagnostics = report.get("diagnostics") or {}
    if diagnostics:
        lines += ["## Diagnostics", ""]
        for name, value in diagnostics.items():
            lines.append(f"### {name}")
            lines.append("")
            text = value if isinstance(value, str) else json.dumps(value, indent=2, default=str)
            lines += ["```", text.rstrip(), "```", ""]
    return "\n".join(lines).rstrip() + "\n"


def junit_properties(record: Record, status: str | None = None) -> list[tuple[str, object]]:
    """The JUnit properties of a requirement's test case: id, the case's status (pass, fail or
    not_verified), measured (only a finite figure), unit, threshold (redacted)."""
    props: list[tuple[str, object]] = [("requirement", record.id)]
    if status is not None:
        props.append(("status", status))
    measured = record.measured
    if measured is not None and not (isinstance(measured, float) and not math.isfinite(measured)):
        props.append(("measured", measured))
    props.append(("unit", record.unit))
    if record.threshold is not None:
        props.append(("threshold", record.threshold))
    return [(name, clean(value) if isinstance(value, str) else value) for name, value in props]
