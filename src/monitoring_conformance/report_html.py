"""``acceptance.html``: the acceptance report as one self-contained page (inline CSS and SVG, no script).

The page is built from the report dict alone (what acceptance.json holds), so it can be rebuilt from that
file. Every text passes through :func:`_text` (secret redaction, then HTML escaping). The Content-Security-
Policy forbids scripts and any request: the page never reaches the network, and anything injected that
tries is refused (and logged by the browser, which the live tier's check treats as an error).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from monitoring_conformance import svgplot
from monitoring_conformance.redact import redact

HTML_NAME = "acceptance.html"
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;color:#1b1b1b;background:#fff;margin:0 auto;max-width:960px;
padding:16px}
h1{margin:0 0 4px}.verdict{padding:12px 16px;border:3px solid;border-radius:6px;margin-bottom:12px}
.verdict.pass{border-color:#2e7d32;background:#e8f5e9}.verdict.fail{border-color:#c62828;background:#ffebee}
.meta{color:#444;margin:2px 0}.card{border:1px solid #bbb;border-radius:6px;padding:10px 14px;margin:12px 0;
break-inside:avoid;page-break-inside:avoid}.card h2{font-size:16px;margin:0 0 6px}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-weight:600;border:1px solid}
.badge.pass{color:#1b5e20;border-color:#2e7d32}.badge.fail{color:#b71c1c;border-color:#c62828}
.badge.not_verified{color:#5d4037;border-color:#8d6e63}
pre{white-space:pre-wrap;word-break:break-word;background:#f5f5f5;border:1px solid #ddd;padding:6px;
margin:4px 0;font-size:12px}svg.chart{width:100%;height:auto;max-width:100%;display:block}
.plot-area{fill:#fafafa;stroke:#ccc}.axis{font-size:11px;fill:#333}.empty{font-size:13px;fill:#777}
.bar{fill:#1f5fa8}.on-state{fill:#111}.note{color:#6d4c00}
.legend{font-size:11px;margin:2px 0;padding-left:16px}details summary{cursor:pointer}
@media print{body{max-width:none;padding:0}.verdict.pass,.verdict.fail,pre{background:#fff}
details{display:block}.card{break-inside:avoid}}
"""


def _text(value: Any) -> str:
    """``value`` as page text: secrets masked, then HTML-escaped (quotes too, for attributes)."""
    return escape(redact("" if value is None else str(value)))


def _figure(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:g}" if isinstance(value, float) else _text(value)


def render(report: Mapping[str, Any]) -> str:
    """The whole page for ``report`` (a dict shaped like acceptance.json)."""
    verdict = str(report.get("verdict") or "fail")
    css_verdict = verdict if verdict in ("pass", "fail") else "fail"
    series = report.get("series") or {}
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Acceptance report: {_text(verdict.upper())}</title><style>{STYLE}</style></head><body>",
        f'<section class="verdict {css_verdict}" id="verdict"><h1>Verdict: {_text(verdict.upper())}</h1>',
        f'<p class="meta">target <b>{_text(report.get("target"))}</b>,'
        f' profile <b>{_text(report.get("profile"))}</b>,'
        f' strict {_text(str(report.get("strict")).lower())}</p>',
        f'<p class="meta">started {_text(report.get("started_at"))},'
        f' duration {_figure(report.get("duration_s"))} s</p>',
    ]
    summary = report.get("summary") or {}
    if summary:
        counts = ", ".join(f"{_figure(n)} {_text(s)}" for s, n in summary.items())
        parts.append(f'<p class="meta">requirements: {counts}</p>')
    versions = report.get("versions") or {}
    if versions:
        parts.append('<p class="meta">versions: '
                     + ", ".join(f"{_text(k)} {_text(v)}" for k, v in sorted(versions.items())) + "</p>")
    parts.append("</section>")
    parts.append(_timings(report.get("timings") or {}))
    plots = series.get("requirements") or {}
    for item in report.get("requirements") or []:
        parts.append(_card(item, plots.get(item.get("id")) or [], series))
    notes = list(series.get("notes") or [])
    if notes:
        listed = "".join(f'<li class="note">{_text(n)}</li>' for n in notes)
        parts.append(f'<section class="card" id="plot-notes"><h2>Notes on the plots</h2><ul>{listed}</ul>'
                     "</section>")
    parts.append(_diagnostics(report.get("diagnostics") or {}))
    parts.append("</body></html>")
    return "\n".join(p for p in parts if p) + "\n"


def write(report: Mapping[str, Any], directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / HTML_NAME
    path.write_text(render(report), encoding="utf-8")
    return path


def from_json(json_path: Path, directory: Path | None = None) -> Path:
    """Rebuild acceptance.html from an acceptance.json (next to it, or into ``directory``)."""
    report = json.loads(json_path.read_text(encoding="utf-8"))
    return write(report, directory or json_path.parent)


def _timings(timings: Mapping[str, Any]) -> str:
    if not timings:
        return ""
    items = [(str(k), float(v) if isinstance(v, int | float) else math.nan) for k, v in timings.items()]
    chart = svgplot.bar_chart([(redact(k), v) for k, v in items], "s", "per-phase timings")
    return f'<section class="card" id="timings"><h2>Per-phase timings</h2>{chart}</section>'


def _card(item: Mapping[str, Any], plots: Sequence[Mapping[str, Any]], series: Mapping[str, Any]) -> str:
    rid = str(item.get("id", "?"))
    status = str(item.get("status", "not_verified"))
    css_status = status if status in ("pass", "fail", "not_verified") else "not_verified"
    unit = str(item.get("unit") or "")
    measured = item.get("measured")
    shown = f"{_figure(measured)} {_text(unit)}".strip() if measured is not None else "–"
    threshold = item.get("threshold")
    parts = [
        f'<section class="card requirement {css_status}" id="req-{_text(rid)}" data-status="{css_status}">',
        f'<h2><span class="badge {css_status}">{_text(status)}</span> <code>{_text(rid)}</code>'
        f" {_text(item.get('title') or '')}</h2>",
        f'<p>measured <b>{shown}</b> · threshold <b>{_figure(threshold)}</b>'
        f"{' ' + _text(unit) if threshold is not None and unit else ''}</p>",
    ]
    message = str(item.get("message") or "").strip()
    if message:
        parts.append(f'<pre class="message">{_text(message)}</pre>')
    for plot in plots:
        parts.append(_plot(rid, plot, series))
    evidence = [e for e in item.get("evidence") or [] if isinstance(e, Mapping)]
    for entry in evidence:
        if isinstance(entry.get("timeline"), list):
            chart = svgplot.timeline(entry["timeline"], f"{rid} alert states")
            parts.append(f'<div class="timeline"><h3>Alert: pending to firing</h3>{chart}</div>')
    if rid.startswith("logs."):
        parts.append(_canary(item, evidence))
    if evidence:
        parts.append(f"<details open><summary>Evidence ({len(evidence)})</summary>")
        for entry in evidence:
            extra = {k: v for k, v in entry.items() if k not in ("request", "response", "timeline")}
            parts.append(f'<p>request: <code class="query">{_text(entry.get("request", ""))}</code></p>')
            if extra:
                parts.append(f"<pre>{_text(json.dumps(extra, indent=1, default=str))}</pre>")
            parts.append(f'<pre class="response">{_text(entry.get("response", ""))}</pre>')
        parts.append("</details>")
    parts.append("</section>")
    return "\n".join(parts)


def _plot(rid: str, plot: Mapping[str, Any], series: Mapping[str, Any]) -> str:
    start, end = series.get("start"), series.get("end")
    lines = []
    for s in plot.get("series") or []:
        metric = s.get("metric") or {}
        label = ", ".join(f"{k}={v}" for k, v in sorted(metric.items()) if k != "__name__")
        label = label or str(plot.get("name"))
        lines.append({"label": redact(label), "points": s.get("points") or []})
    if not isinstance(start, int | float) or not isinstance(end, int | float):
        start, end = _span(lines)
    name = redact(str(plot.get("name", "")))
    chart = svgplot.line_chart(lines, float(start), float(end), f"{rid} {name}")
    legend = "".join(
        f'<li><span style="color:{svgplot.COLORS[i % len(svgplot.COLORS)]}">&#9632;</span>'
        f" {_text(line['label'])}</li>" for i, line in enumerate(lines)
    )
    return (f'<figure class="plot"><figcaption><b>{_text(name)}</b>: <code class="query">'
            f'{_text(plot.get("query", ""))}</code> (step {_figure(series.get("step"))} s,'
            f' {len(lines)} series)</figcaption>{chart}<ul class="legend">{legend}</ul></figure>')


def _span(lines: Sequence[Mapping[str, Any]]) -> tuple[float, float]:
    times = [p[0] for s in lines for p in s["points"] if p and isinstance(p[0], int | float)]
    return (min(times), max(times)) if times else (0.0, 1.0)


def _canary(item: Mapping[str, Any], evidence: Sequence[Mapping[str, Any]]) -> str:
    """The canary line as Loki returned it, its stream labels and the latency (from checks/loki.py)."""
    for entry in evidence:
        try:
            seen = json.loads(str(entry.get("response", "")))
        except ValueError:
            continue
        if not isinstance(seen, dict) or "line" not in seen:
            continue
        streams = seen.get("streams") or []
        labels = "".join(f"<li><code>{_text(s)}</code></li>" for s in streams)
        latency = _figure(item.get("measured"))
        unit = _text(item.get("unit") or "s")
        return (f'<div class="canary"><h3>Canary line (latency {latency} {unit})</h3>'
                f'<pre class="canary-line">{_text(seen["line"])}</pre>'
                f"<p>stream labels:</p><ul>{labels}</ul></div>")
    return '<p class="note">the canary line was not returned by Loki (see the evidence)</p>'


def _diagnostics(diagnostics: Mapping[str, Any]) -> str:
    if not diagnostics:
        return ""
    parts = ['<section class="card" id="diagnostics"><h2>Diagnostics</h2>']
    for name, value in diagnostics.items():
        text = value if isinstance(value, str) else json.dumps(value, indent=1, default=str)
        parts.append(f"<h3>{_text(name)}</h3><pre>{_text(text)}</pre>")
    parts.append("</section>")
    return "".join(parts)
