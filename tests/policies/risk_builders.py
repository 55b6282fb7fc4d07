"""Small builders shared by the risk-officer tests: one clean world, varied per test."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from core.types import Instrument, OrderIntent, OrderType, Quote, Side, Symbol
from policies.risk import (
    Decision,
    Limits,
    MarketView,
    PortfolioView,
    RiskState,
    TokenSigner,
    WorkingOrder,
    check,
    load_limits,
)

T0 = datetime(2024, 3, 4, 14, 30, tzinfo=UTC)
AAPL = Symbol("AAPL")
MSFT = Symbol("MSFT")
BTC = Symbol("BTC/USDT")
KEY = b"tiller-test-key-0123456789abcdef"  # 32 bytes
SIGNER = TokenSigner(KEY)

INSTRUMENTS = {
    AAPL: Instrument(
        symbol=AAPL, tick_size=Decimal("0.01"), lot_size=Decimal(1), min_qty=Decimal(1)
    ),
    MSFT: Instrument(symbol=MSFT, tick_size=Decimal("0.01"), lot_size=Decimal(1)),
    BTC: Instrument(
        symbol=BTC,
        tick_size=Decimal("0.01"),
        lot_size=Decimal("0.001"),
        min_qty=Decimal("0.001"),
        min_notional=Decimal(10),
    ),
}
PRICES = {AAPL: Decimal(100), MSFT: Decimal(400), BTC: Decimal(30_000)}


def D(value: Any) -> Decimal:  # noqa: N802 - reads like the literal it builds
    return Decimal(str(value))


def quote(symbol: Symbol, price: Any, at: datetime = T0, spread: Any = None) -> Quote:
    price = D(price)
    if spread is None:
        return Quote(symbol=symbol, timestamp=at, last=price)
    half = D(spread) / 2
    return Quote(symbol=symbol, timestamp=at, last=price, bid=price - half, ask=price + half)


def market(
    prices: Mapping[Symbol, Any] | None = None,
    at: datetime = T0,
    instruments: Mapping[Symbol, Instrument] | None = None,
) -> MarketView:
    prices = PRICES if prices is None else prices
    quotes = {symbol: quote(symbol, price, at) for symbol, price in prices.items()}
    return MarketView(
        quotes=quotes, instruments=INSTRUMENTS if instruments is None else instruments
    )


def intent(
    symbol: Symbol = AAPL,
    side: Side = Side.BUY,
    qty: Any = 10,
    price: Any = None,
    **fields: Any,
) -> OrderIntent:
    """A market order unless ``price`` is given (then a limit order)."""
    extra: dict[str, Any] = {"created_at": T0, "intent_id": "intent-1", **fields}
    if price is not None:
        extra.update(order_type=OrderType.LIMIT, limit_price=D(price))
    return OrderIntent(symbol=symbol, side=side, quantity=D(qty), **extra)


def portfolio(
    cash: Any = 100_000,
    positions: Mapping[Symbol, Any] | None = None,
    working: Sequence[WorkingOrder] = (),
) -> PortfolioView:
    held = {symbol: D(qty) for symbol, qty in (positions or {}).items()}
    return PortfolioView(cash=D(cash), positions=held, working_orders=tuple(working))


def state(equity: Any = 100_000, now: datetime = T0) -> RiskState:
    return RiskState.start(D(equity), now)


def limits(**overrides: Any) -> Limits:
    return load_limits(overrides)


def run(
    proposal: OrderIntent,
    *,
    book: PortfolioView | None = None,
    view: MarketView | None = None,
    rules: Limits | None = None,
    risk: RiskState | None = None,
    now: datetime = T0,
) -> Decision:
    """``check`` in the default clean world, with any part replaced."""
    if book is None:
        book = portfolio()
    if view is None:
        view = market()
    if rules is None:
        rules = load_limits(None)
    if risk is None:
        risk = state(book.cash + sum(q * PRICES[s] for s, q in book.positions.items()), now)
    return check(proposal, book, view, rules, risk, now, signer=SIGNER)


def later(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)
