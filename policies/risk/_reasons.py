"""Reason codes and violations: what a denial says, in a form code and people can read."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ReasonCode(StrEnum):
    """One standard code per check. The value is what the audit log and APIs show."""

    INVALID_ORDER = "INVALID_ORDER"
    RISK_STATE_STALE = "RISK_STATE_STALE"
    STATE_HALTED = "STATE_HALTED"
    STATE_REDUCING = "STATE_REDUCING"
    COOLDOWN = "COOLDOWN"
    DAILY_LOSS = "DAILY_LOSS"
    DRAWDOWN = "DRAWDOWN"
    REDUCE_ONLY = "REDUCE_ONLY"
    SYMBOL_NOT_ALLOWED = "SYMBOL_NOT_ALLOWED"
    VENUE_NOT_ALLOWED = "VENUE_NOT_ALLOWED"
    ORDER_TYPE_NOT_ALLOWED = "ORDER_TYPE_NOT_ALLOWED"
    UNKNOWN_INSTRUMENT = "UNKNOWN_INSTRUMENT"
    NO_REFERENCE_PRICE = "NO_REFERENCE_PRICE"
    STALE_REFERENCE_PRICE = "STALE_REFERENCE_PRICE"
    PRICE_COLLAR = "PRICE_COLLAR"
    TICK_SIZE = "TICK_SIZE"
    LOT_SIZE = "LOT_SIZE"
    MIN_QTY = "MIN_QTY"
    MIN_NOTIONAL = "MIN_NOTIONAL"
    MAX_ORDER_QTY = "MAX_ORDER_QTY"
    MAX_ORDER_NOTIONAL = "MAX_ORDER_NOTIONAL"
    DUPLICATE_ORDER = "DUPLICATE_ORDER"
    RATE_LIMIT_MINUTE = "RATE_LIMIT_MINUTE"
    RATE_LIMIT_DAY = "RATE_LIMIT_DAY"
    MAX_POSITION = "MAX_POSITION"
    MAX_GROSS_EXPOSURE = "MAX_GROSS_EXPOSURE"
    MAX_NET_EXPOSURE = "MAX_NET_EXPOSURE"
    INSUFFICIENT_BALANCE = "INSUFFICIENT_BALANCE"


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule: which (``code``), the limit, the value that broke it, and a
    sentence for a person. ``limit`` and ``value`` are strings so a violation can go into
    the audit log and a JSON response unchanged."""

    code: ReasonCode
    limit: str
    value: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {
            "code": self.code.value,
            "limit": self.limit,
            "value": self.value,
            "message": self.message,
        }
