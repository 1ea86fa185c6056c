"""OutputGate: pytest's output is held until the test loop starts, and dropped after bad input."""

from __future__ import annotations

import io

import pytest

from monitoring_conformance.gate import OutputGate

pytestmark = pytest.mark.unit


def test_output_is_held_until_released_then_passed_through() -> None:
    target = io.StringIO()
    gate = OutputGate(target)

    gate.write("header\n")
    gate.flush()
    assert target.getvalue() == ""

    gate.release()
    gate.write("live\n")
    assert target.getvalue() == "header\nlive\n"


def test_dropped_output_never_reaches_the_target() -> None:
    target = io.StringIO()
    gate = OutputGate(target)
    gate.write("platform linux -- Python 3.11\n")

    assert gate.drop() == "platform linux -- Python 3.11\n"
    assert target.getvalue() == ""


def test_the_gate_opens_when_the_test_loop_starts(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_one():\n    assert True\n")
    target = io.StringIO()
    gate = OutputGate(target)

    pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:pytest-kind", plugins=[gate])

    assert gate.released
