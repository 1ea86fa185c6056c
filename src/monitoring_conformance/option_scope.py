"""Options that the chosen target does not use, and options that contradict each other.

Such a value is not an error (a shared environment file may set ``MC_CLUSTER_NAME`` for every run), but it has
no effect, which the user should know: :func:`ignored_options` gives one warning line for each, and the plugin
writes them on stderr, prefixed with :data:`WARNING_PREFIX` (the CLI shows such lines at once).
"""

from __future__ import annotations

from monitoring_conformance.settings import OPTION_BY_NAME, URL_OPTIONS, Settings

#: How a warning line starts on stderr.
WARNING_PREFIX = "warning: "
#: option -> the targets that use it (options not listed apply to every target).
APPLIES_TO: dict[str, tuple[str, ...]] = {
    **{name: ("urls",) for name in URL_OPTIONS},
    "kubeconfig": ("kubeconfig",),
    "context": ("kubeconfig",),
    "install_chart": ("kubeconfig",),
    "keep_cluster": ("kind",),
    "cluster_name": ("kind",),
    "values": ("kubeconfig", "kind"),
    "deployed_at": ("urls", "kubeconfig"),
}


def _given_by_user(settings: Settings, name: str) -> bool:
    """Whether the user set ``name``: a flag, an ini key, or an MC_* env twin (KUBECONFIG, set on most
    machines for kubectl, counts only as a flag)."""
    origin = settings.sources.get(name, "default")
    if origin == "env":
        return OPTION_BY_NAME[name].env.startswith("MC_")
    return origin in ("cli", "ini")


def ignored_options(settings: Settings) -> list[str]:
    """One warning line per option that the chosen target does not use, or that contradicts another.

    The run continues; these only say that a value the user gave has no effect.
    """
    lines = []
    for name, targets in APPLIES_TO.items():
        if settings.target not in targets and _given_by_user(settings, name):
            users = " or ".join(f"--target {t}" for t in targets)
            shown_target = settings.shown("target")
            lines.append(f"{settings.shown(name)} is ignored with {shown_target} (used by {users})")
    if (
        settings.target == "kubeconfig" and not settings.install_chart
        and _given_by_user(settings, "values")
    ):
        lines.append(f"{settings.shown('values')} is ignored without --install-chart (nothing is installed)")
    if settings.target == "urls" and not settings.loki_url and _given_by_user(settings, "loki_tenant"):
        lines.append(f"{settings.shown('loki_tenant')} is ignored without --loki-url (no Loki to send it to)")
    return lines
