"""pytest hooks of the conformance suite (being built; inert for now)."""

from __future__ import annotations
