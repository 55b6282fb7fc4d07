"""Venue trading rules checked before an order is placed, the same way by every broker.

A live venue would refuse such an order anyway; checking first means ccxt never rounds
an approved quantity or price to the venue's precision behind our back (it truncates
quantities silently), and the paper broker refuses exactly what a venue would.
"""

from __future__ import annotations

from decimal import Decimal

from core.errors import RejectedError
from core.types import Instrument
from tools.executor._types import BrokerOrder


def check_order_rules(
    order: BrokerOrder, instrument: Instrument, reference_price: Decimal | None
) -> None:
    """Raise ``RejectedError`` unless the quantity is a whole number of lots at or above
    the minimum, a limit price sits on the tick, and the order's value (at the limit, or
    at ``reference_price`` for a market order) reaches the minimum notional. A market
    order without a reference price skips the notional check (the venue makes it)."""
    qty, lot, symbol = order.quantity, instrument.lot_size, order.symbol
    if qty % lot:
        raise RejectedError(
            f"quantity {qty} of {symbol} is not a multiple of the lot size {lot}; "
            f"round it down to {(qty // lot) * lot}"
        )
    if qty < instrument.min_qty:
        raise RejectedError(f"quantity {qty} is below the minimum {instrument.min_qty} of {symbol}")
    price = order.limit_price
    if price is not None and price % instrument.tick_size:
        raise RejectedError(
            f"limit price {price} of {symbol} is not a multiple of the tick size "
            f"{instrument.tick_size}"
        )
    value_price = price if price is not None else reference_price
    if value_price is not None and qty * value_price < instrument.min_notional:
        raise RejectedError(
            f"order value {qty * value_price} is below the minimum {instrument.min_notional} "
            f"of {symbol}"
        )
