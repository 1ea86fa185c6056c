"""The real helm the chart tier drives (the argv-level tests are in tests/unit/test_helm_commands.py)."""

from __future__ import annotations

import pytest

from monitoring_conformance.tools.helm import Helm

pytestmark = pytest.mark.chart


def test_real_helm_is_a_supported_version(helm: Helm) -> None:
    assert helm.version().major in (3, 4)
