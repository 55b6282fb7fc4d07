"""Column types that keep Tiller's contracts (Decimal money, aware UTC time) identical on
SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Any

from sqlalchemy import DateTime, Dialect, Numeric, String
from sqlalchemy.types import TypeDecorator, TypeEngine

MONEY_SCALE = 18
"""Fractional digits kept for money and quantities (enough for ETH's wei)."""
MONEY_PRECISION = 38
_QUANTUM = Decimal(1).scaleb(-MONEY_SCALE)
_LIMIT = Decimal(10) ** (MONEY_PRECISION - MONEY_SCALE)
# Wide enough for every storable value: the default context (28 digits) would round or
# fail on a 38-digit number.
_WIDE = Context(prec=MONEY_PRECISION + 2, rounding=ROUND_HALF_EVEN)


def tidy_decimal(value: Decimal) -> Decimal:
    """Drop trailing zeros without switching to exponent notation (``1.500`` → ``1.5``,
    ``100.0`` → ``100``), so both backends return the same representation."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1), context=_WIDE)
    return value.normalize(context=_WIDE)


def to_storable_decimal(value: Decimal | int | str) -> Decimal:
    """Round to ``MONEY_SCALE`` places (half-even) and check the magnitude fits.

    PostgreSQL would round silently and SQLite would keep every digit; rounding here
    gives both the same stored value.
    """
    if isinstance(value, float):
        # A float has already lost the exact value; refusing it keeps money exact.
        raise TypeError("money and quantities are Decimal, not float; pass Decimal(str(x))")
    number = Decimal(value)
    if not number.is_finite():
        raise ValueError(f"{number} is not a finite number and cannot be stored")
    if abs(number) >= _LIMIT:
        raise ValueError(
            f"{number} is too large to store (limit 1e{MONEY_PRECISION - MONEY_SCALE})"
        )
    return number.quantize(_QUANTUM, context=_WIDE)


class Money(TypeDecorator[Decimal]):
    """``NUMERIC(38, 18)`` on PostgreSQL; text on SQLite.

    SQLite has no decimal type: its NUMERIC affinity keeps only 15 significant digits,
    and the pysqlite driver round-trips ``Decimal`` through float. Text keeps the exact
    value; arithmetic happens in Python, never in SQL.
    """

    impl = Numeric(MONEY_PRECISION, MONEY_SCALE, asdecimal=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(48))
        return dialect.type_descriptor(self.impl_instance)

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        stored = to_storable_decimal(value)
        return format(stored, "f") if dialect.name == "sqlite" else stored

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return tidy_decimal(Decimal(value) if isinstance(value, str) else Decimal(str(value)))


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that goes in and comes out as an aware UTC ``datetime``.

    Naive datetimes are refused rather than guessed. SQLite stores the UTC wall time as
    text (fixed width, so text order is time order); PostgreSQL uses ``timestamptz``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
            raise ValueError(
                f"naive datetime {value.isoformat()} refused: pass an aware UTC datetime"
            )
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # SQLite: stored as UTC wall time
        return value.astimezone(UTC)
