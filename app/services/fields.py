"""Field types for the services' request models, so that their JSON schema says what is
accepted: a symbol or timeframe in its written form, times and quantities as text (never
a bare number that would be read as something else), booleans as booleans."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, StringConstraints, WithJsonSchema

from core.types import UtcDatetime

SYMBOL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}(/[A-Za-z0-9][A-Za-z0-9._-]{0,31})?$"
TIMEFRAME_PATTERN = r"^[1-9][0-9]{0,5}[mhdw]$"
# A decimal number greater than zero, written out (e.g. "10", "0.5").
POSITIVE_DECIMAL_PATTERN = r"^0*([1-9][0-9]*(\.[0-9]+)?|\.[0-9]*[1-9][0-9]*|0\.[0-9]*[1-9][0-9]*)$"

SymbolText = Annotated[str, StringConstraints(pattern=SYMBOL_PATTERN, max_length=65)]
TimeframeText = Annotated[str, StringConstraints(pattern=TIMEFRAME_PATTERN, max_length=8)]


def _time_text(value: Any) -> Any:
    # A number would be read as a Unix timestamp: a time is written out (ISO 8601).
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("a time is ISO 8601 text with a timezone, e.g. 2013-03-01T00:00:00Z")
    return value


def _decimal_value(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("a quantity is a number, not true or false")
    if isinstance(value, float):
        return Decimal(str(value))  # the number as written, not its binary expansion
    return value


def _positive(value: Decimal) -> Decimal:
    if not value.is_finite() or value <= 0:
        raise ValueError("must be a finite number greater than 0")
    return value


IsoTime = Annotated[UtcDatetime, BeforeValidator(_time_text)]
PositiveQuantity = Annotated[
    Decimal,
    BeforeValidator(_decimal_value),
    AfterValidator(_positive),
    WithJsonSchema({"type": "string", "pattern": POSITIVE_DECIMAL_PATTERN,
                    "description": "A decimal number greater than 0, e.g. \"10\"."}),
]  # fmt: skip

__all__ = ["IsoTime", "PositiveQuantity", "SymbolText", "TimeframeText"]
