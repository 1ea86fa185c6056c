"""The Todo backend started with several uvicorn workers refuses to run, saying why (real uvicorn)."""

from __future__ import annotations

import pytest

from monitoring_conformance.errors import ConformanceError
from monitoring_conformance.localstack import LocalStack, StackSpec
from tests.live.live_support import require_tools

pytestmark = pytest.mark.live


def test_a_backend_with_two_workers_refuses_to_start_naming_the_cause(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    require_tools()
    stack = LocalStack(
        StackSpec(scrape_node=False, app_workers=2), workdir=tmp_path_factory.mktemp("workers")
    )

    with pytest.raises(ConformanceError) as caught:
        stack.start()

    message = str(caught.value)
    assert "refusing to run with 2 workers" in message
    assert "per-process registries" in message
    assert not stack.servers or all(s.exited() is not None for s in stack.servers.values())
