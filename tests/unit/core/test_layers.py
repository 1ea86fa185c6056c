"""No module imports from a layer above its own; checks and the flows never import each other.

Every import is read with ``ast`` (top level, under ``if TYPE_CHECKING:``, inside functions), so a lazy
import cannot hide an upward dependency. The layers, bottom to top, are in :data:`LAYERS`.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

import monitoring_conformance

pytestmark = pytest.mark.unit

PACKAGE = "monitoring_conformance"
PACKAGE_DIR = Path(monitoring_conformance.__file__).parent

#: Layer of each top-level part of the package (a module, or a folder with all its modules).
LAYERS: dict[str, tuple[int, str]] = {
    **dict.fromkeys(
        ("__init__", "errors", "redact", "wait", "requirement", "settings", "profile", "progress",
         "interrupts", "gate", "option_scope", "dashboards", "vendored", "servers", "resources"),
        (0, "L0 foundation"),
    ),
    **dict.fromkeys(("tools", "api"), (1, "L1 adapters")),
    **dict.fromkeys(("stack", "identity"), (2, "L2 core types")),
    "checks": (3, "L3 checks"),
    **dict.fromkeys(
        ("targets", "orchestrate", "release", "install_watch", "helm_wait", "diagnostics", "preflight",
         "localstack", "localalerts"),
        (3, "L3 flows"),
    ),
    **dict.fromkeys(
        ("fixtures", "series", "report", "report_html", "svgplot", "plugin", "cli", "__main__"),
        (4, "L4 session"),
    ),
}
#: The two L3 siblings: neither imports the other.
SIBLINGS = ("L3 checks", "L3 flows")


@dataclass(frozen=True)
class Edge:
    importer: str
    imported: str
    line: int


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(base: str, name: str, known: set[str]) -> str:
    """``from a.b import c``: the module ``a.b.c`` if there is one, else ``a.b``."""
    candidate = f"{base}.{name}"
    return candidate if candidate in known else base


def imports(root: Path, package: str = PACKAGE) -> list[Edge]:
    """Every import of ``package`` by a module under ``root`` (the package's folder), wherever it is, and
    every string that is exactly a module's dotted name (imported by name with importlib)."""
    files = sorted(root.rglob("*.py"))
    known = {module_name(path, root) for path in files}
    edges: list[Edge] = []
    for path in files:
        importer = module_name(path, root)
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the importer's package, up level - 1
                    here = importer.split(".") if is_package else importer.split(".")[:-1]
                    here = here[: len(here) - (node.level - 1)]
                    base = ".".join([*here, *([base] if base else [])])
                targets = [_resolve(base, alias.name, known) for alias in node.names]
            elif isinstance(node, ast.Constant) and node.value in known:
                targets = [str(node.value)]  # named for importlib (targets.TARGET_CLASSES, pytest_plugins)
            else:
                continue
            edges += [
                Edge(importer, target, node.lineno)
                for target in targets
                if target == package or target.startswith(f"{package}.")
            ]
    return edges


def layer_of(module: str) -> tuple[int, str] | None:
    parts = module.split(".")
    return LAYERS.get(parts[1] if len(parts) > 1 else "__init__")


def violations(edges: list[Edge]) -> list[str]:
    problems: list[str] = []
    for edge in edges:
        mine, theirs = layer_of(edge.importer), layer_of(edge.imported)
        for module, layer in ((edge.importer, mine), (edge.imported, theirs)):
            if layer is None:
                problems.append(f"{module} has no layer: add its top-level name to LAYERS")
        if mine is None or theirs is None:
            continue
        where = f"{edge.importer} (line {edge.line}, {mine[1]}) -> {edge.imported} ({theirs[1]})"
        if theirs[0] > mine[0]:
            problems.append(f"{where}: imports from a layer above its own")
        elif {mine[1], theirs[1]} == set(SIBLINGS):
            problems.append(f"{where}: checks and the flows never import each other")
    return sorted(set(problems))


def test_no_module_imports_from_a_layer_above_its_own() -> None:
    edges = imports(PACKAGE_DIR)
    assert len(edges) > 100, f"only {len(edges)} imports found under {PACKAGE_DIR}: is the scan broken?"
    problems = violations(edges)
    assert not problems, "layer violations:\n" + "\n".join(problems)


def test_every_layer_entry_names_a_part_of_the_package() -> None:
    """A part that moved out or was renamed leaves no stale entry behind."""
    parts = {path.stem for path in PACKAGE_DIR.glob("*.py")} | {
        path.parent.name for path in PACKAGE_DIR.glob("*/__init__.py")
    }
    assert sorted(set(LAYERS) - parts) == []


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / PACKAGE
    for name, text in {"__init__.py": "", **files}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.mark.parametrize(
    "source",
    [
        "from monitoring_conformance import report\n",
        "from monitoring_conformance.report import write\n",
        "import monitoring_conformance.report\n",
        "import typing\nif typing.TYPE_CHECKING:\n    from monitoring_conformance.report import W\n",
        "def later():\n    from monitoring_conformance import report\n",
        "from .. import report\n",
        'CLASSES = {"r": "monitoring_conformance.report"}\n',
    ],
    ids=["from-package", "from-module", "import", "type-checking", "in-function", "relative", "by-name"],
)
def test_an_upward_import_fails_naming_both_modules_and_layers(tmp_path: Path, source: str) -> None:
    root = _tree(tmp_path, {"report.py": "", "targets/__init__.py": "", "targets/urls.py": source})
    problems = violations(imports(root))
    assert problems == [
        f"monitoring_conformance.targets.urls (line {source.count(chr(10))}, L3 flows) -> "
        "monitoring_conformance.report (L4 session): imports from a layer above its own"
    ]


def test_checks_and_flows_importing_each_other_fail(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "checks/__init__.py": "", "checks/grafana.py": "from monitoring_conformance.targets import kind\n",
        "targets/__init__.py": "", "targets/kind.py": "from monitoring_conformance.checks import grafana\n",
    })  # fmt: skip
    assert violations(imports(root)) == [
        "monitoring_conformance.checks.grafana (line 1, L3 checks) -> monitoring_conformance.targets.kind "
        "(L3 flows): checks and the flows never import each other",
        "monitoring_conformance.targets.kind (line 1, L3 flows) -> monitoring_conformance.checks.grafana "
        "(L3 checks): checks and the flows never import each other",
    ]


def test_downward_imports_pass(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "report.py": "from monitoring_conformance import stack, wait\n"
        "import monitoring_conformance.checks.base\n",
        "wait.py": "", "stack.py": "", "checks/__init__.py": "", "checks/base.py": "",
        "install_watch.py": "from monitoring_conformance import stack\n",
    })  # fmt: skip
    edges = imports(root)
    assert len(edges) == 4
    assert violations(edges) == []


def test_a_module_without_a_layer_fails(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"newthing.py": "from monitoring_conformance import wait\n", "wait.py": ""})
    assert violations(imports(root)) == [
        "monitoring_conformance.newthing has no layer: add its top-level name to LAYERS"
    ]
