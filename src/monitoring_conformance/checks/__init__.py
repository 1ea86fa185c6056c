"""The probe logic of each requirement, kept apart from pytest so unit tests can drive it with doubles.

Each check takes the API clients it needs, the profile's :class:`~monitoring_conformance.profile.Spec` and
the requirement's :class:`~monitoring_conformance.requirement.Record`. It waits with
:class:`~monitoring_conformance.checks.base.Poll`, records figure and evidence, and raises
:class:`~monitoring_conformance.checks.base.CheckFailed` with a STYLE.md failure message.
"""
