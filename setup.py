"""Build hook: the wheel carries the files the installed suite runs on (the metadata is in pyproject.toml).

Every path of ``monitoring_conformance.resources.BUNDLED`` is copied into ``monitoring_conformance/bundle/``
with the checkout's layout. An editable install gets none: it reads the checkout itself.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
#: Never bundled: caches, and the subchart archives `helm dependency build` fetches into charts/.
SKIPPED = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", "charts", "tmpcharts*")


def _bundled() -> tuple[str, ...]:
    spec = importlib.util.spec_from_file_location(
        "_resources", HERE / "src/monitoring_conformance/resources.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return tuple(module.BUNDLED)


class BuildWithResources(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        bundle = Path(self.build_lib) / "monitoring_conformance" / "bundle"
        for relative in _bundled():
            source, target = HERE / relative, bundle / relative
            if not source.exists():
                raise SystemExit(f"setup.py: {relative} is not in the build tree ({HERE}); the wheel needs "
                                 "it: list it in MANIFEST.in (an sdist carries only what MANIFEST.in names)")
            if source.is_dir():
                shutil.copytree(source, target, ignore=SKIPPED, dirs_exist_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)


setup(cmdclass={"build_py": BuildWithResources})
