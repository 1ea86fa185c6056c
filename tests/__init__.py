"""Test package marker: lets tests import the shared doubles as `tests.doubles`."""
