"""Targets: how the suite reaches a monitoring stack. ``create()`` picks one by name.

``urls`` lives here; ``kubeconfig``, ``kind`` and ``local`` are imported only when asked for, so a run
against URLs never loads the Kubernetes machinery. Each target class is built as ``Class(settings, runner)``
(the urls target also takes ``session_factory=`` so unit tests can plug in HTTP doubles).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import requests

from monitoring_conformance.errors import UsageError
from monitoring_conformance.settings import Settings
from monitoring_conformance.stack import Stack, Target
from monitoring_conformance.tools.runner import Runner

__all__ = ["TARGET_CLASSES", "SessionFactory", "Stack", "Target", "create"]

#: Builds the requests.Session for one system ("Prometheus", "Grafana", "Loki", "Todo backend").
SessionFactory = Callable[[str], requests.Session]

#: target name -> (module, class).
TARGET_CLASSES = {
    "urls": ("monitoring_conformance.targets.urls", "UrlsTarget"),
    "kubeconfig": ("monitoring_conformance.targets.kubeconfig", "KubeconfigTarget"),
    "kind": ("monitoring_conformance.targets.kind", "KindTarget"),
    "local": ("monitoring_conformance.targets.local", "LocalTarget"),
}


def create(settings: Settings, runner: Runner, *, session_factory: SessionFactory | None = None) -> Target:
    """The target named by ``settings.target``, not yet opened."""
    if settings.target not in TARGET_CLASSES:
        known = ", ".join(TARGET_CLASSES)
        raise UsageError(f"{settings.shown('target')}: unknown target; use one of {known}")
    module_name, class_name = TARGET_CLASSES[settings.target]
    if settings.target == "urls":
        from monitoring_conformance.targets.urls import UrlsTarget

        return UrlsTarget(settings, session_factory=session_factory)
    try:
        module = importlib.import_module(module_name)
        cls = getattr(module, class_name)
    except (ImportError, AttributeError) as exc:
        raise UsageError(
            f"{settings.shown('target')}: this installation has no {class_name} ({exc}); use --target urls"
        ) from None
    target: Target = cls(settings, runner)
    return target
