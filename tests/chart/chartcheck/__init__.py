"""Offline checks of charts/monitoring: each check is a function that returns findings.

A check never asserts. It returns a list of :class:`Finding` (empty = the chart passes), so a test can run
it against the real chart and against a deliberately broken copy.
"""

from __future__ import annotations

from tests.chart.chartcheck.findings import Finding, format_findings

__all__ = ["Finding", "format_findings"]
