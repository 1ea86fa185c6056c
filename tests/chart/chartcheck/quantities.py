"""Kubernetes resource quantities: ``100m``, ``0.5``, ``256Mi``, ``1Gi``, ``500M``, ``1e3``."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}
_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\d+|[numkMGTPE]?)$")


def parse_quantity(value: str | int | float) -> Decimal:
    """The value of a quantity in base units (cores, bytes). ValueError names the bad text."""
    if isinstance(value, bool):
        raise ValueError(f"quantity {value!r} is a boolean, expected e.g. 100m or 256Mi")
    if isinstance(value, int | float):
        return Decimal(str(value))
    text = str(value).strip()
    match = _QUANTITY.match(text)
    if not match:
        raise ValueError(f"quantity {value!r} is not a Kubernetes quantity (e.g. 100m, 0.5, 256Mi, 1Gi)")
    number, suffix = match.groups()
    try:
        amount = Decimal(number)
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only decimals
        raise ValueError(f"quantity {value!r} has no number") from exc
    if suffix in _BINARY:
        return amount * _BINARY[suffix]
    if suffix[:1] in ("e", "E") and len(suffix) > 1:
        return amount * (Decimal(10) ** int(suffix[1:]))
    return amount * _DECIMAL[suffix]


def parse_cpu(value: str | int | float) -> float:
    """CPU cores: ``100m`` -> 0.1, ``0.5`` -> 0.5, ``2`` -> 2.0."""
    return float(parse_quantity(value))


def parse_memory(value: str | int | float) -> int:
    """Bytes: ``256Mi`` -> 268435456, ``500M`` -> 500000000, ``1Gi`` -> 1073741824."""
    return int(parse_quantity(value))


def format_cpu(cores: float) -> str:
    return f"{cores * 1000:.0f}m"


def format_memory(size: int) -> str:
    return f"{size / 2**20:.0f}Mi"
