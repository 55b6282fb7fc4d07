"""Marks to market: the account's equity at current prices, fed to the breakers.

``Executor.mark_to_market`` moves the risk state to REDUCING on the daily loss or the
first drawdown limit and to HALTED on the second; the autopilot calls it on a schedule
and after every run, so a falling account stops adding exposure by itself.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from core.clock import Clock
from core.errors import NotFoundError

if TYPE_CHECKING:
    from app.bootstrap import Container
    from tools.market_data import BarStore


def last_price(store: BarStore, symbol: str, at: datetime) -> Decimal | None:
    """The last close of ``symbol`` by ``at``, from its finest stored timeframe."""
    try:
        timeframes = sorted(store.timeframes(symbol), key=lambda t: t.seconds)
    except NotFoundError:
        return None
    for tf in timeframes:
        frame = store.bars(symbol, tf, as_of=at)
        if len(frame):
            return Decimal(str(frame["close"].iloc[-1]))
    return None


def mark_account(c: Container, clock: Clock) -> dict[str, Any]:
    """Mark the account of ``c``'s venue at ``clock``; a position without a price means no
    mark at all (a partial equity would look like a loss and trip a breaker)."""
    at = clock.now()
    executor = c.executor_at(clock)
    venue = executor.venue
    positions = [p for p in c.ledger.positions(venue=venue) if p.quantity]
    prices = {str(p.symbol): last_price(c.store, str(p.symbol), at) for p in positions}
    missing = sorted(s for s, price in prices.items() if price is None)
    if missing:
        problem = f"cannot mark to market: no price of {', '.join(missing)} by {at:%Y-%m-%d %H:%M}"
        return {"at": at.isoformat(), "venue": venue, "problem": problem + " UTC"}
    balances = {b.currency: b.free + b.used for b in c.ledger.balances(venue=venue)}
    cash = balances.get(c.settings.paper_currency, c.settings.paper_cash)
    held = sum((p.quantity * (prices[str(p.symbol)] or 0) for p in positions), Decimal(0))
    equity = cash + held
    state = executor.mark_to_market(equity)
    return {"at": at.isoformat(), "venue": venue, "equity": str(equity),
            "trading_state": state.trading_state.value,
            "reason": state.halted_reason}  # fmt: skip
