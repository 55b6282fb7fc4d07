"""Order-level checks: pricing (collar, market → protected limit), exchange precision
and order size. Each appends what it finds to ``found``; none raises for a denial."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation

from core.types import Instrument, OrderIntent, OrderType, Side
from policies.risk._limits import Limits, canonical_decimal
from policies.risk._reasons import ReasonCode, Violation

_ONE = Decimal(1)
# Module constants: enum attribute lookups cost ~50 ns each on the hot path.
_BUY = Side.BUY
_LIMIT = OrderType.LIMIT
# The fields a market order changes when it becomes a protected limit (see priced_order).
CONVERTED_FIELDS = ("order_type", "limit_price")


def priced_order(
    proposal: OrderIntent,
    ref: Decimal | None,
    instrument: Instrument | None,
    limits: Limits,
    found: list[Violation],
) -> OrderIntent | None:
    """The order to send, priced: a limit as proposed (inside the collar), or a market
    order turned into a limit at the collar's edge. None when it cannot be priced."""
    if proposal.order_type is _LIMIT:
        limit = proposal.limit_price
        assert limit is not None  # OrderIntent guarantees it for limit orders
        if ref is not None and abs(limit - ref) > ref * limits.collar_fraction:
            off = abs(limit - ref) / ref * 100
            message = (
                f"limit {_d(limit)} is {off:.2f}% from the reference {_d(ref)} "
                f"(price_collar_pct {limits.price_collar_pct}%)"
            )
            found.append(
                Violation(
                    ReasonCode.PRICE_COLLAR, f"{limits.price_collar_pct}%", f"{off:.2f}%", message
                )
            )
        return proposal
    if ref is None or instrument is None:
        return None
    protected = protected_price(proposal.side, ref, limits.collar_fraction, instrument.tick_size)
    if protected <= 0:
        message = f"a protected limit for {proposal.symbol} rounds to {_d(protected)}"
        found.append(Violation(ReasonCode.PRICE_COLLAR, "a positive price", _d(protected), message))
        return None
    return proposal.model_copy(update={"order_type": _LIMIT, "limit_price": protected})


def protected_price(side: Side, ref: Decimal, collar: Decimal, tick: Decimal) -> Decimal:
    """The limit a market order becomes: ``ref`` ± collar, rounded to a tick towards the
    reference (down for a buy, up for a sell), so it never pays beyond the collar."""
    if side is _BUY:
        return (ref * (_ONE + collar) / tick).to_integral_value(ROUND_FLOOR) * tick
    return (ref * (_ONE - collar) / tick).to_integral_value(ROUND_CEILING) * tick


def _is_multiple(value: Decimal, step: Decimal) -> bool:
    try:
        return value % step == 0
    except InvalidOperation:  # quotient beyond Decimal precision: cannot be proven exact
        return False


def precision(
    proposal: OrderIntent, price: Decimal | None, instrument: Instrument, found: list[Violation]
) -> None:
    qty = proposal.quantity
    if not _is_multiple(qty, instrument.lot_size):
        message = f"quantity {_d(qty)} is not a multiple of the lot size {_d(instrument.lot_size)}"
        found.append(Violation(ReasonCode.LOT_SIZE, _d(instrument.lot_size), _d(qty), message))
    if qty < instrument.min_qty:
        message = f"quantity {_d(qty)} is below the minimum {_d(instrument.min_qty)}"
        found.append(Violation(ReasonCode.MIN_QTY, _d(instrument.min_qty), _d(qty), message))
    limit = proposal.limit_price
    if limit is not None and not _is_multiple(limit, instrument.tick_size):
        message = f"limit {_d(limit)} is not a multiple of the tick size {_d(instrument.tick_size)}"
        found.append(Violation(ReasonCode.TICK_SIZE, _d(instrument.tick_size), _d(limit), message))
    if price is not None and qty * price < instrument.min_notional:
        value = qty * price
        message = (
            f"order value {_d(value)} is below the venue minimum {_d(instrument.min_notional)}"
        )
        found.append(
            Violation(ReasonCode.MIN_NOTIONAL, _d(instrument.min_notional), _d(value), message)
        )


def size(
    proposal: OrderIntent,
    price: Decimal | None,
    ref: Decimal | None,
    limits: Limits,
    found: list[Violation],
) -> None:
    qty = proposal.quantity
    cap = limits.order_qty_cap(proposal.symbol)
    if qty > cap:
        message = f"quantity {_d(qty)} exceeds the cap {_d(cap)} for {proposal.symbol}"
        found.append(Violation(ReasonCode.MAX_ORDER_QTY, _d(cap), _d(qty), message))
    # Valued at the higher of limit and reference: the worse of what it may cost and
    # what it will be worth once filled.
    worst = price if price is not None else proposal.limit_price
    if ref is not None and (worst is None or ref > worst):
        worst = ref
    if worst is not None:
        value = qty * worst
        if value > limits.max_order_notional:
            cap_text = _d(limits.max_order_notional)
            message = f"order value {_d(value)} exceeds max_order_notional {cap_text}"
            found.append(Violation(ReasonCode.MAX_ORDER_NOTIONAL, cap_text, _d(value), message))


def _d(value: Decimal) -> str:
    return canonical_decimal(value)
