"""Suite runs against stacks of their own, started when the live session starts, beside the other tests.

Most of a broken-stack run is waiting (Prometheus's first scrapes, failing requirements polling until their
budgets end), so the runs of every module that declares them go into one shared pool at the start of the
session instead of one module after the other. A module declares its runs with a module-level
``start_in_background(background)`` function; its fixtures then read ``background.results(group)``, which
waits for that group only. Stacks stop when the session ends (or at once, when they fail to start).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from types import ModuleType
from typing import Any

import pytest

from monitoring_conformance.localstack import LocalStack, StackSpec
from tests.live.live_support import FIGURES, SuiteRunner

#: Runs at once. Each is a stack (three small servers) and one suite subprocess, mostly waiting; more at
#: once made the runs whose requirements must still pass within 4.5 s budgets miss them on 2 cores.
WORKERS = 6
STARTER = "start_in_background"


class Background:
    """A thread pool of named runs, in groups; results are read (and waited for) group by group."""

    def __init__(self, suite: SuiteRunner, tmp_path_factory: pytest.TempPathFactory) -> None:
        self.suite = suite
        self.tmp_path_factory = tmp_path_factory
        self.cleanup = ExitStack()
        self.pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="live-background")
        self.groups: dict[str, dict[str, Future[Any]]] = {}

    def stack(self, spec: StackSpec, name: str) -> LocalStack:
        """A stack (not started) that is stopped when the session ends."""
        stack = LocalStack(spec, workdir=self.tmp_path_factory.mktemp(f"stack-{name}"))
        self.cleanup.callback(stack.stop)
        return stack

    def submit(self, group: str, name: str, run: Callable[..., Any], *args: Any) -> None:
        self.groups.setdefault(group, {})[name] = self.pool.submit(run, *args)

    def results(self, group: str) -> dict[str, Any]:
        """Each run of ``group`` by name: what it returned, or the exception that ended it."""
        assert group in self.groups, f"no background runs of group {group!r} were started"
        found: dict[str, Any] = {}
        for name, future in self.groups[group].items():
            try:
                found[name] = future.result()
            except Exception as exc:  # shown by the test that reads it
                found[name] = exc
        return found

    def start(self, modules: Iterable[ModuleType]) -> None:
        """Call ``start_in_background`` of each module that has one (once per module)."""
        for module in modules:
            starter = getattr(module, STARTER, None)
            if callable(starter):
                starter(self)

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.cleanup.close()


def record_seconds(kind: str, results: dict[str, Any]) -> None:
    """Each run's seconds into FIGURES as "``kind`` run ``name`` (s)"."""
    for name, run in results.items():
        seconds = getattr(run, "seconds", None)
        if seconds is not None:
            FIGURES[f"{kind} run {name} (s)"] = round(seconds, 2)
