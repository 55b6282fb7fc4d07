"""Portfolio-level checks: position, gross and net exposure, cash, and the live breakers.

Everything is measured at the worst case: a symbol's exposure is the larger of "every
working buy fills" and "every working sell fills", with the proposed order added to its
side. Held symbols are marked at fresh reference prices; if any is missing or stale the
portfolio cannot be valued and an order that adds exposure is denied (fail closed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from operator import mul
from typing import cast

from core.types import OrderIntent, Quote, Side, Symbol
from policies.risk._limits import Limits, canonical_decimal
from policies.risk._reasons import ReasonCode, Violation
from policies.risk._state import RiskState
from policies.risk._views import (
    MAX_CLOCK_SKEW,
    MarketView,
    PortfolioView,
    WorkingOrder,
    reference_price,
)

_ZERO = Decimal(0)
_ONE = Decimal(1)
_HALF = Decimal("0.5")
_BUY = Side.BUY  # a module constant: enum attribute lookups cost ~50 ns in the hot loops


class Flow:
    """Working orders of one symbol, summed: what could still be bought and sold.

    Class-level zeros instead of an ``__init__``: creating one is on the hot path."""

    buys: Decimal = _ZERO
    sells: Decimal = _ZERO
    buy_cost: Decimal = _ZERO  # remaining × limit of priced buys
    unpriced_buys: Decimal = _ZERO  # buys without a limit: costed at the collar's edge


def aggregate(working: Sequence[WorkingOrder]) -> dict[Symbol, Flow]:
    flows: dict[Symbol, Flow] = {}
    for symbol, side, remaining, limit_price in working:
        flow = flows.get(symbol)
        if flow is None:
            flow = flows[symbol] = Flow()
        if side is _BUY:
            flow.buys += remaining
            if limit_price is None:
                flow.unpriced_buys += remaining
            else:
                flow.buy_cost += remaining * limit_price
        else:
            flow.sells += remaining
    return flows


def mark(symbol: Symbol, market: MarketView, limits: Limits, now: datetime) -> Decimal | Violation:
    """A fresh reference price for ``symbol``, or the violation that explains why not."""
    quote = market.quotes.get(symbol)
    if quote is None:
        return Violation(ReasonCode.NO_REFERENCE_PRICE, "a quote", "none", f"no quote for {symbol}")
    age = now - quote.timestamp
    if age > limits.max_quote_age:
        return Violation(
            ReasonCode.STALE_REFERENCE_PRICE,
            f"{limits.max_quote_age.total_seconds():g}s",
            f"{age.total_seconds():g}s",
            f"the quote for {symbol} is {age.total_seconds():g}s old "
            f"(max_quote_age {limits.max_quote_age.total_seconds():g}s)",
        )
    if -age > MAX_CLOCK_SKEW:
        return Violation(
            ReasonCode.NO_REFERENCE_PRICE,
            "a quote not from the future",
            quote.timestamp.isoformat(),
            f"the quote for {symbol} is timestamped after now (clock skew or look-ahead)",
        )
    price = reference_price(quote)
    if price is None:
        return Violation(
            ReasonCode.NO_REFERENCE_PRICE,
            "bid <= ask",
            f"bid {quote.bid} ask {quote.ask}",
            f"the quote for {symbol} is crossed (bid above ask): not a usable price",
        )
    return price


@dataclass(slots=True)
class Book:
    """The portfolio valued at reference prices, the proposed order included."""

    equity: Decimal
    gross: Decimal
    net_high: Decimal  # every working buy (and this order, if a buy) fills
    net_low: Decimal  # every working sell (and this order, if a sell) fills
    order_worst_qty: Decimal  # the order's symbol, worst case on the order's side
    buy_reserve: Decimal  # cash that working buys could still spend


def value_book(
    proposal: OrderIntent,
    ref: Decimal,
    portfolio: PortfolioView,
    flows: Mapping[Symbol, Flow],
    market: MarketView,
    limits: Limits,
    now: datetime,
) -> Book | list[Violation]:
    """Value every held or in-flight symbol; the order's own symbol is marked at ``ref``.

    Holdings are first marked as they stand, then widened to the worst case of the
    symbols with orders in flight (the proposal included).
    """
    held, gross, marks, problems = _mark_holdings(portfolio, market, limits, now)
    marks[proposal.symbol] = ref
    positions = portfolio.positions
    widen = net_high = net_low = reserve = _ZERO
    worst_buy = _ONE + limits.collar_fraction
    for symbol, flow in flows.items():
        price = marks.get(symbol)
        if price is None:
            if positions.get(symbol):
                continue  # held but unpriced: already reported
            fresh = mark(symbol, market, limits, now)
            if isinstance(fresh, Violation):
                problems.append(fresh)
                continue
            price = fresh
        position = positions.get(symbol, _ZERO)
        buys, sells = flow.buys, flow.sells
        if sells:
            widen += (max(abs(position + buys), abs(position - sells)) - abs(position)) * price
            net_low -= sells * price
        elif position >= 0:  # the common case: buys onto a long (or flat) position
            widen += buys * price
        else:
            widen += (max(abs(position + buys), -position) + position) * price
        net_high += buys * price
        reserve += flow.buy_cost
        if flow.unpriced_buys:
            reserve += flow.unpriced_buys * price * worst_buy
    if problems:  # fail closed: an exposure cannot be valued without every price
        return problems
    book = Book(
        portfolio.cash + held, gross + widen, held + net_high, held + net_low, _ZERO, reserve
    )
    _add_proposal(book, proposal, ref, positions.get(proposal.symbol, _ZERO), flows)
    return book


_Marked = tuple[Decimal, Decimal, dict[Symbol, Decimal], list[Violation]]


def _mark_holdings(
    portfolio: PortfolioView, market: MarketView, limits: Limits, now: datetime
) -> _Marked:
    """Σ position × price, Σ |position × price|, each holding's price, and the
    holdings that could not be priced.

    This is the loop that dominates a check with fifty positions, so the usual case
    (every quote present, fresh and uncrossed) runs as comprehensions and C-level
    ``map``/``sum``; any anomaly falls back to the loop that names each problem.
    """
    positions = portfolio.positions
    get, half = market.quotes.get, _HALF
    quotes = cast("list[Quote]", [get(symbol) for symbol in positions])
    try:
        stamps = [quote.timestamp for quote in quotes]  # AttributeError: a missing quote
        prices = [
            quote.last
            if (bid := quote.bid) is None or (ask := quote.ask) is None
            else ((bid + ask) * half if bid <= ask else None)  # None: a crossed book
            for quote in quotes
        ]
        values = list(map(mul, positions.values(), prices))  # TypeError: Decimal × None
    except (AttributeError, TypeError):
        return _mark_one_by_one(portfolio, market, limits, now)
    if stamps and (min(stamps) < now - limits.max_quote_age or max(stamps) > now + MAX_CLOCK_SKEW):
        return _mark_one_by_one(portfolio, market, limits, now)
    by_symbol = dict(zip(positions, cast("list[Decimal]", prices), strict=True))
    return sum(values, _ZERO), sum(map(abs, values), _ZERO), by_symbol, []


def _mark_one_by_one(
    portfolio: PortfolioView, market: MarketView, limits: Limits, now: datetime
) -> _Marked:
    """``_mark_holdings`` for a book with a missing, stale or crossed quote somewhere:
    every holding that cannot be priced is reported (a flat position needs no price)."""
    problems: list[Violation] = []
    held = gross = _ZERO
    by_symbol: dict[Symbol, Decimal] = {}
    for symbol, position in portfolio.positions.items():
        if not position:
            continue
        price = mark(symbol, market, limits, now)
        if isinstance(price, Violation):
            problems.append(price)
            continue
        value = position * price
        held += value
        gross += abs(value)
        by_symbol[symbol] = price
    return held, gross, by_symbol, problems


def _add_proposal(
    book: Book,
    proposal: OrderIntent,
    ref: Decimal,
    position: Decimal,
    flows: Mapping[Symbol, Flow],
) -> None:
    """Add the proposal on top of its symbol's worst case (already in ``book``)."""
    flow = flows.get(proposal.symbol)
    bought = flow.buys if flow is not None else _ZERO
    sold = flow.sells if flow is not None else _ZERO
    before = max(abs(position + bought), abs(position - sold))
    qty = proposal.quantity
    if proposal.side is _BUY:
        bought += qty
        book.order_worst_qty = abs(position + bought)
        book.net_high += qty * ref
    else:
        sold += qty
        book.order_worst_qty = abs(position - sold)
        book.net_low -= qty * ref
    after = max(abs(position + bought), abs(position - sold))
    book.gross += (after - before) * ref


def exposure_violations(
    proposal: OrderIntent,
    price: Decimal,
    ref: Decimal,
    book: Book,
    portfolio: PortfolioView,
    limits: Limits,
) -> list[Violation]:
    """MAX_POSITION, MAX_GROSS_EXPOSURE, MAX_NET_EXPOSURE and INSUFFICIENT_BALANCE."""
    found: list[Violation] = []
    position_value = book.order_worst_qty * ref
    if position_value > limits.max_position_notional:
        what = f"worst-case {proposal.symbol} position value"
        found.append(
            _over(ReasonCode.MAX_POSITION, limits.max_position_notional, position_value, what)
        )
    equity = book.equity
    if equity <= 0:
        why = f"equity is {_d(equity)}: there is no room for any exposure"
        found.append(Violation(ReasonCode.MAX_GROSS_EXPOSURE, "equity > 0", _d(equity), why))
        return found + _balance(proposal, price, book, portfolio, limits)
    gross_cap = limits.max_gross_exposure * equity
    if book.gross > gross_cap:
        what = f"worst-case gross exposure (cap {limits.max_gross_exposure}× equity)"
        found.append(_over(ReasonCode.MAX_GROSS_EXPOSURE, gross_cap, book.gross, what))
    net = max(abs(book.net_high), abs(book.net_low))
    net_cap = limits.max_net_exposure * equity
    if net > net_cap:
        what = f"worst-case net exposure (cap {limits.max_net_exposure}× equity)"
        found.append(_over(ReasonCode.MAX_NET_EXPOSURE, net_cap, net, what))
    return found + _balance(proposal, price, book, portfolio, limits)


def _balance(
    proposal: OrderIntent, price: Decimal, book: Book, portfolio: PortfolioView, limits: Limits
) -> list[Violation]:
    if limits.allow_leverage:
        return []
    cash = portfolio.cash
    if proposal.side is _BUY:
        needed = book.buy_reserve + proposal.quantity * price
        if needed <= cash:
            return []
        why = (
            f"this buy and the working buys could spend {_d(needed)} {portfolio.currency}; "
            f"the account holds {_d(cash)} and leverage is off"
        )
        return [Violation(ReasonCode.INSUFFICIENT_BALANCE, _d(cash), _d(needed), why)]
    # Without leverage a sell may only shrink a long; anything more borrows (a short).
    why = (
        f"selling {_d(proposal.quantity)} {proposal.symbol} would open or grow a short "
        "(it exceeds the holdings not already offered for sale) and leverage is off"
    )
    return [
        Violation(ReasonCode.INSUFFICIENT_BALANCE, "unsold holdings", _d(proposal.quantity), why)
    ]


def breaker_violations(book: Book, state: RiskState, limits: Limits) -> list[Violation]:
    """The breakers measured live, in case the caller has not yet fed this equity to
    ``on_equity``: an order that adds exposure is denied either way."""
    found: list[Violation] = []
    equity = book.equity
    peak = max(state.peak_equity, equity)
    if peak > 0 and equity < peak:
        drawdown = (peak - equity) / peak
        if drawdown >= limits.reducing_drawdown_fraction:
            why = f"equity {_d(equity)} is {drawdown * 100:.2f}% below its peak {_d(peak)}"
            limit = f"{limits.reducing_drawdown_pct}%"
            found.append(Violation(ReasonCode.DRAWDOWN, limit, f"{drawdown * 100:.2f}%", why))
    start = state.day_start_equity
    if start > 0 and equity < start:
        loss = (start - equity) / start
        if loss >= limits.daily_loss_fraction:
            why = f"equity {_d(equity)} is {loss * 100:.2f}% below the day's start {_d(start)}"
            limit = f"{limits.max_daily_loss_pct}%"
            found.append(Violation(ReasonCode.DAILY_LOSS, limit, f"{loss * 100:.2f}%", why))
    return found


def _d(value: Decimal) -> str:
    return canonical_decimal(value)


def _over(code: ReasonCode, limit: Decimal, value: Decimal, what: str) -> Violation:
    return Violation(code, _d(limit), _d(value), f"{what} {_d(value)} exceeds {_d(limit)}")
