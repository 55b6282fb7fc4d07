"""The fill model shared by the paper broker and the backtester.

The backtest kernel (``tools.backtest._kernel``) fills at a reference price moved against
the order by ``slippage`` and charges ``fee_rate`` on the fill's notional, in floats for
speed. This is the same arithmetic in Decimal, for money that is booked; a test runs
both on the same orders and compares the results.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from core.errors import ConfigError
from core.types import Side

_ONE = Decimal(1)


def _as_decimal(name: str, value: Decimal | float | str) -> Decimal:
    # str() first: Decimal(0.001) would carry the binary float's 55 digits of noise.
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    if not number.is_finite() or not 0 <= number < 1:
        raise ConfigError(f"{name} must be a fraction in [0, 1), e.g. 0.001 for 0.1%; got {value}")
    return number


@dataclass(frozen=True)
class FillModel:
    """Costs of one fill. ``fee_rate`` and ``slippage`` are fractions (0.001 = 0.1%);
    floats and strings are read through ``str`` so 0.001 means exactly 0.001."""

    fee_rate: Decimal = Decimal(0)
    slippage: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fee_rate", _as_decimal("fee_rate", self.fee_rate))
        object.__setattr__(self, "slippage", _as_decimal("slippage", self.slippage))

    def price(self, side: Side, reference: Decimal) -> Decimal:
        """The fill price for an order trading at ``reference``: worse by ``slippage``
        (a buy pays more, a sell receives less)."""
        return reference * (_ONE + self.slippage * side.sign)

    def fee(self, notional: Decimal) -> Decimal:
        """The fee on a fill of ``notional`` (quantity × price), in the quote currency."""
        return abs(notional) * self.fee_rate
