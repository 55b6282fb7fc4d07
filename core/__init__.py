"""Tiller's shared vocabulary: settings, domain types, clocks and errors.

``core`` imports nothing else from the repository.
"""

from core.clock import Clock, FixedClock, SystemClock
from core.errors import (
    AmbiguousOutcomeError,
    ConfigError,
    DataError,
    NotFoundError,
    RejectedError,
    StaleDataError,
    ThrottledError,
    TillerError,
    UnavailableError,
)
from core.types import (
    Bar,
    Fill,
    Instrument,
    OrderIntent,
    OrderStatus,
    OrderType,
    Portfolio,
    Position,
    Quote,
    Side,
    Symbol,
    Timeframe,
)

__all__ = [
    "AmbiguousOutcomeError",
    "Bar",
    "Clock",
    "ConfigError",
    "DataError",
    "Fill",
    "FixedClock",
    "Instrument",
    "NotFoundError",
    "OrderIntent",
    "OrderStatus",
    "OrderType",
    "Portfolio",
    "Position",
    "Quote",
    "RejectedError",
    "Side",
    "StaleDataError",
    "Symbol",
    "SystemClock",
    "ThrottledError",
    "TillerError",
    "Timeframe",
    "UnavailableError",
]
