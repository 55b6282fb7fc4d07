"""The paper broker: a spot account filled from market data with the backtester's costs.

Market data drives it: ``on_bar`` fills at the bar's open (or inside the bar for a limit
the bar crossed), ``on_quote`` at the quote. Only data that begins at or after an order's
creation can fill it, so an order decided at a bar's close fills at the next bar's open,
exactly like a backtest, and never at a price that was already history when it was sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType

from core.clock import Clock
from core.errors import ConfigError, NotFoundError, RejectedError
from core.types import Bar, Fill, Instrument, OrderStatus, OrderType, Quote, Side, Symbol
from tools.executor._fill_model import FillModel
from tools.executor._rules import check_order_rules
from tools.executor._types import BrokerOrder, OrderState

_ZERO = Decimal(0)
EQUITY_QUOTE = "USD"  # a bare ticker (AAPL) trades against this cash asset


def assets_of(symbol: Symbol) -> tuple[str, str]:
    """(base, quote) assets of a symbol: ``BTC/USDT`` → (BTC, USDT), ``AAPL`` → (AAPL, USD)."""
    return (symbol.base, symbol.quote) if symbol.quote else (str(symbol), EQUITY_QUOTE)


def _floor_to(value: Decimal, step: Decimal) -> Decimal:
    # Decimal // truncates toward zero, which is flooring for the positive values here.
    return (value // step) * step


@dataclass
class _Order:
    order: BrokerOrder
    created_at: datetime
    # Quote held back per unit still to buy, fee included (None for sells, which hold
    # the base asset itself): the limit price, or for a market order the reference price
    # with slippage at submission.
    reserve_unit: Decimal | None
    updated_at: datetime
    status: OrderStatus = OrderStatus.OPEN
    filled: Decimal = _ZERO
    notional: Decimal = _ZERO
    fills: list[Fill] = field(default_factory=list)

    @property
    def remaining(self) -> Decimal:
        return self.order.quantity - self.filled

    def state(self) -> OrderState:
        o = self.order
        return OrderState(
            client_order_id=o.client_order_id,
            venue_order_id=o.client_order_id,
            symbol=o.symbol,
            side=o.side,
            status=self.status,
            quantity=o.quantity,
            filled_qty=self.filled,
            avg_price=self.notional / self.filled if self.filled else None,
            fills=tuple(self.fills),
            updated_at=self.updated_at,
        )


@dataclass
class _Mark:
    last: Decimal
    bid: Decimal | None = None
    ask: Decimal | None = None

    def reference(self, side: Side) -> Decimal:
        touch = self.ask if side is Side.BUY else self.bid
        return touch if touch is not None else self.last


class PaperBroker:
    """A simulated spot account (no leverage, no shorting) implementing ``Broker``.

    ``cash`` is the starting balance per asset (e.g. ``{"USDT": Decimal(10_000)}``); a
    bare ticker such as AAPL trades against ``"USD"``. ``partial_fill_ratio`` (0 < r <= 1)
    caps each fill at r × the remaining quantity, rounded down to the lot. Fill ids are
    ``<client order id>-<n>``, so a replay produces the same ids. Not thread-safe: drive
    it from one thread.
    """

    def __init__(
        self,
        cash: Mapping[str, Decimal],
        instruments: Mapping[Symbol, Instrument] | Iterable[Instrument],
        fill_model: FillModel,
        clock: Clock,
        partial_fill_ratio: Decimal | None = None,
        *,
        venue: str = "paper",
    ) -> None:
        listed = instruments.values() if isinstance(instruments, Mapping) else instruments
        self._instruments = {inst.symbol: inst for inst in listed}
        bad = {a: v for a, v in cash.items() if not Decimal(v).is_finite() or Decimal(v) < 0}
        if bad:
            raise ConfigError(f"starting cash must be finite and not negative: {bad}")
        if partial_fill_ratio is not None and not 0 < partial_fill_ratio <= 1:
            raise ConfigError(
                f"partial_fill_ratio must lie in (0, 1], got {partial_fill_ratio}; "
                "pass None to fill whole orders"
            )
        self._balances: dict[str, Decimal] = {a: Decimal(v) for a, v in cash.items()}
        self._model = fill_model
        self._clock = clock
        self._ratio = partial_fill_ratio
        self._venue = venue
        self._orders: dict[str, _Order] = {}
        self._working: dict[str, _Order] = {}  # insertion order = fill priority
        self._fills: dict[Symbol, list[Fill]] = {}
        self._marks: dict[Symbol, _Mark] = {}

    # -- Broker -------------------------------------------------------------------------
    @property
    def venue(self) -> str:
        return self._venue

    def instruments(self) -> Mapping[Symbol, Instrument]:
        return MappingProxyType(self._instruments)

    def submit(self, order: BrokerOrder) -> OrderState:
        """Accept ``order`` after checking it as a venue would. Re-submitting a known
        client id returns that order's state; reusing it for a different order is
        refused."""
        known = self._orders.get(order.client_order_id)
        if known is not None:
            if known.order != order:
                raise RejectedError(
                    f"client order id {order.client_order_id} already names a different "
                    "order; derive a new id for a new order"
                )
            return known.state()
        self._check_rules(order)
        reserve_unit = self._reserve_unit(order)
        self._check_funds(order, reserve_unit)
        now = self._clock.now()
        placed = _Order(order, created_at=now, reserve_unit=reserve_unit, updated_at=now)
        self._orders[order.client_order_id] = placed
        self._working[order.client_order_id] = placed
        return placed.state()

    def fetch_order(self, client_order_id: str, symbol: Symbol) -> OrderState | None:
        found = self._orders.get(client_order_id)
        return found.state() if found is not None and found.order.symbol == symbol else None

    def cancel(self, client_order_id: str, symbol: Symbol) -> OrderState:
        found = self._orders.get(client_order_id)
        if found is None or found.order.symbol != symbol:
            raise NotFoundError(f"no paper order {client_order_id} in {symbol}")
        if found.status.is_working:
            self._finish(found, OrderStatus.CANCELED, self._clock.now())
        return found.state()

    def open_orders(self, symbol: Symbol | None = None) -> list[OrderState]:
        return [o.state() for o in self._working.values() if symbol in (None, o.order.symbol)]

    def balances(self) -> dict[str, Decimal]:
        free = {asset: self._free(asset) for asset in self._balances}
        return {asset: amount for asset, amount in free.items() if amount != 0}

    def fills_since(self, since: datetime, symbol: Symbol) -> list[Fill]:
        return [f for f in self._fills.get(symbol, []) if f.timestamp >= since]

    # -- market data --------------------------------------------------------------------
    def on_bar(self, bar: Bar) -> list[Fill]:
        """Fill working orders in ``bar.symbol`` created at or before the bar opened:
        market orders at the open with slippage; limits at the open when it is already
        through the limit (capped at the limit), else at the limit if the bar's range
        reached it (stamped at the bar's close, the first moment that is knowable).
        Returns the new fills."""
        fills: list[Fill] = []
        for placed in self._eligible(bar.symbol, bar.open_time):
            hit = self._bar_price(placed.order, bar)
            if hit is not None:
                fills.extend(self._execute(placed, *hit))
        self._marks[bar.symbol] = _Mark(bar.close)
        return fills

    def on_quote(self, quote: Quote) -> list[Fill]:
        """Fill working orders in ``quote.symbol`` created at or before the quote: at the
        ask (buys) or bid (sells), falling back to ``last``, with slippage; a limit only
        when the quote is at or through it, never beyond it. Returns the new fills."""
        mark = _Mark(quote.last, quote.bid, quote.ask)
        fills: list[Fill] = []
        for placed in self._eligible(quote.symbol, quote.timestamp):
            price = self._quote_price(placed.order, mark)
            if price is not None:
                fills.extend(self._execute(placed, price, quote.timestamp))
        self._marks[quote.symbol] = mark
        return fills

    # -- checks ---------------------------------------------------------------------------
    def _check_rules(self, order: BrokerOrder) -> None:
        if order.venue != self._venue:
            raise RejectedError(f"order for venue {order.venue!r} sent to {self._venue!r}")
        inst = self._instruments.get(order.symbol)
        if inst is None:
            known = ", ".join(sorted(self._instruments)) or "none"
            raise RejectedError(f"{order.symbol} is not traded here (known: {known})")
        if order.reduce_only and order.side is Side.BUY:
            raise RejectedError("a spot account holds no short: a reduce-only buy reduces nothing")
        reference = None if order.limit_price is not None else self._reference(order)
        check_order_rules(order, inst, reference)

    def _reference(self, order: BrokerOrder) -> Decimal:
        mark = self._marks.get(order.symbol)
        if mark is None:
            raise RejectedError(
                f"no price for {order.symbol} yet: feed a bar (on_bar) or a quote (on_quote) "
                "before a market order, so its cost can be checked and reserved"
            )
        return mark.reference(order.side)

    def _reserve_unit(self, order: BrokerOrder) -> Decimal | None:
        if order.side is Side.SELL:
            return None
        if order.order_type is OrderType.LIMIT:
            assert order.limit_price is not None  # BrokerOrder guarantees it
            per_unit = order.limit_price
        else:
            per_unit = self._model.price(Side.BUY, self._reference(order))
        return per_unit + self._model.fee(per_unit)

    def _check_funds(self, order: BrokerOrder, reserve_unit: Decimal | None) -> None:
        base, quote = assets_of(order.symbol)
        asset, need = (
            (base, order.quantity)
            if reserve_unit is None
            else (quote, order.quantity * reserve_unit)
        )
        have = self._free(asset)
        if need > have:
            raise RejectedError(
                f"insufficient {asset}: the order needs {need} (fees included), {have} is free"
            )

    def _free(self, asset: str) -> Decimal:
        locked = _ZERO
        for placed in self._working.values():
            base, quote = assets_of(placed.order.symbol)
            if placed.reserve_unit is None and base == asset:
                locked += placed.remaining
            elif placed.reserve_unit is not None and quote == asset:
                locked += placed.remaining * placed.reserve_unit
        return self._balances.get(asset, _ZERO) - locked

    # -- fills ----------------------------------------------------------------------------
    def _eligible(self, symbol: Symbol, at: datetime) -> list[_Order]:
        return [
            o for o in self._working.values() if o.order.symbol == symbol and o.created_at <= at
        ]

    def _bar_price(self, order: BrokerOrder, bar: Bar) -> tuple[Decimal, datetime] | None:
        at_open = self._model.price(order.side, bar.open)
        if order.limit_price is None:
            return at_open, bar.open_time
        limit, sign = order.limit_price, order.side.sign
        if (limit - bar.open) * sign >= 0:  # opened at or through the limit
            return (min(at_open, limit) if sign > 0 else max(at_open, limit)), bar.open_time
        reach = bar.low if order.side is Side.BUY else bar.high
        if (limit - reach) * sign >= 0:
            return limit, bar.close_time
        return None

    def _quote_price(self, order: BrokerOrder, mark: _Mark) -> Decimal | None:
        reference = mark.reference(order.side)
        price = self._model.price(order.side, reference)
        if order.limit_price is None:
            return price
        limit, sign = order.limit_price, order.side.sign
        if (limit - reference) * sign < 0:
            return None
        return min(price, limit) if sign > 0 else max(price, limit)

    def _execute(self, placed: _Order, price: Decimal, at: datetime) -> list[Fill]:
        order = placed.order
        qty = self._chunk(placed)
        short = False
        if order.side is Side.BUY:
            qty, short = self._affordable(placed, qty, price)
        if qty == 0:  # a market buy that gapped beyond the cash it could use
            self._finish(placed, OrderStatus.EXPIRED, at)
            return []
        fill = self._book(placed, qty, price, at)
        placed.fills.append(fill)
        placed.filled += qty
        placed.notional += qty * price
        placed.updated_at = at
        if placed.filled == order.quantity:
            self._finish(placed, OrderStatus.FILLED, at)
        elif short:
            self._finish(placed, OrderStatus.EXPIRED, at)
        else:
            placed.status = OrderStatus.PARTIALLY_FILLED
        return [fill]

    def _book(self, placed: _Order, qty: Decimal, price: Decimal, at: datetime) -> Fill:
        order = placed.order
        base, quote = assets_of(order.symbol)
        notional = qty * price
        fee = self._model.fee(notional)
        signed = qty * order.side.sign
        self._balances[base] = self._balances.get(base, _ZERO) + signed
        self._balances[quote] = self._balances.get(quote, _ZERO) - signed * price - fee
        fill = Fill(
            order_id=order.client_order_id,
            fill_id=f"{order.client_order_id}-{len(placed.fills) + 1}",
            symbol=order.symbol,
            side=order.side,
            quantity=qty,
            price=price,
            fee=fee,
            fee_currency=quote,
            timestamp=at,
        )
        self._fills.setdefault(order.symbol, []).append(fill)
        return fill

    def _chunk(self, placed: _Order) -> Decimal:
        if self._ratio is None:
            return placed.remaining
        lot = self._instruments[placed.order.symbol].lot_size
        part = _floor_to(placed.remaining * self._ratio, lot)
        return part if part > 0 else placed.remaining  # a last sliver fills whole

    def _affordable(self, placed: _Order, qty: Decimal, price: Decimal) -> tuple[Decimal, bool]:
        """Cap a buy at what its own reservation plus free cash pays for; other orders'
        reservations stay untouched. True when the cap bit."""
        _, quote = assets_of(placed.order.symbol)
        assert placed.reserve_unit is not None
        available = self._free(quote) + placed.remaining * placed.reserve_unit
        unit_cost = price + self._model.fee(price)
        if qty * unit_cost <= available:
            return qty, False
        lot = self._instruments[placed.order.symbol].lot_size
        return max(_floor_to(available / unit_cost, lot), _ZERO), True

    def _finish(self, placed: _Order, status: OrderStatus, at: datetime) -> None:
        placed.status, placed.updated_at = status, at
        self._working.pop(placed.order.client_order_id, None)
