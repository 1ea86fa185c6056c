"""Conformance suite for the Todo application's monitoring stack."""

__version__ = "0.1.0"
