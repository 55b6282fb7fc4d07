"""Read-only snapshots the risk officer decides on: the market and the portfolio.

They are plain frozen dataclasses (not pydantic models) because the caller builds one per
decision and the check must stay in the tens of microseconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import NamedTuple

from core.types import Instrument, Portfolio, Quote, Side, Symbol

_HALF = Decimal("0.5")
# A venue's clock may run slightly ahead of ours; a quote further in the future than this
# is treated as bad data (a look-ahead in a replay, or a broken clock).
MAX_CLOCK_SKEW = timedelta(seconds=2)


class WorkingOrder(NamedTuple):
    """An order that could still fill (``OrderStatus.is_working``, UNKNOWN included).

    ``limit_price`` is None for an order with no price cap (a market order already at
    the venue): the risk officer then assumes the worst price inside the collar.
    """

    symbol: Symbol
    side: Side
    remaining: Decimal
    limit_price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class MarketView:
    """Latest quotes and trading rules, keyed by symbol."""

    quotes: Mapping[Symbol, Quote]
    instruments: Mapping[Symbol, Instrument]


@dataclass(frozen=True, slots=True)
class PortfolioView:
    """What the account holds and has in flight, in one quote currency.

    ``cash`` is the quote-currency balance the account owns, *including* amounts that
    working buy orders have reserved: the risk officer subtracts those itself, at their
    worst case. Passing a venue's "free" balance instead double-counts the reservations,
    which is safe (more denials) but stricter than needed.
    ``positions`` are signed quantities (short < 0).
    """

    cash: Decimal
    positions: Mapping[Symbol, Decimal] = field(default_factory=lambda: MappingProxyType({}))
    working_orders: Sequence[WorkingOrder] = ()
    currency: str = "USD"

    @classmethod
    def from_portfolio(
        cls, portfolio: Portfolio, working_orders: Sequence[WorkingOrder] = ()
    ) -> PortfolioView:
        positions = {s: p.quantity for s, p in portfolio.positions.items() if p.quantity}
        return cls(
            cash=portfolio.cash,
            positions=MappingProxyType(positions),
            working_orders=tuple(working_orders),
            currency=portfolio.currency,
        )


def reference_price(quote: Quote) -> Decimal | None:
    """The price checks are measured against: the bid/ask mid when both sides are quoted,
    else the last trade. A crossed book (bid > ask) is bad data: no reference (None)."""
    bid, ask = quote.bid, quote.ask
    if bid is not None and ask is not None:
        if bid > ask:
            return None
        return (bid + ask) * _HALF
    return quote.last
