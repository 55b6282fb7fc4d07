"""The account's equity at market prices: what the breakers are fed (the autopilot's
scheduled marks) and where an admin who accepts the losses restarts them from."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from pydantic import BaseModel

from core.errors import NotFoundError

if TYPE_CHECKING:
    from app.bootstrap import Container
    from tools.market_data import BarStore


class MarkedEquity(BaseModel):
    """Cash plus every position at its last stored price by ``at``. ``equity`` is None,
    and ``problem`` says why, when a position has no price: a partial equity would look
    like a loss and trip a breaker."""

    at: datetime
    venue: str
    currency: str
    equity: Decimal | None
    problem: str | None = None


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


def marked_equity(c: Container, at: datetime, symbols: Sequence[str] = ()) -> MarkedEquity:
    """The equity of ``c``'s trading venue at ``at``, in the account's currency (the
    paper currency, or an exchange account's quote currency: see
    ``Container.account_currency``; ``symbols`` are the pairs about to be traded)."""
    venue = c.settings.trading_venue.strip().lower()
    positions = [p for p in c.ledger.positions(venue=venue) if p.quantity]
    prices = {str(p.symbol): last_price(c.store, str(p.symbol), at) for p in positions}
    currency = c.account_currency([*symbols, *prices])
    missing = sorted(s for s, price in prices.items() if price is None)
    if missing:
        return MarkedEquity(at=at, venue=venue, currency=currency, equity=None, problem=(
            f"cannot mark to market: no price of {', '.join(missing)} by "
            f"{at:%Y-%m-%d %H:%M} UTC"
        ))  # fmt: skip
    balances = {b.currency: b.free + b.used for b in c.ledger.balances(venue=venue)}
    cash = balances.get(currency, Decimal(0) if c.live_venue else c.settings.paper_cash)
    held = sum((p.quantity * (prices[str(p.symbol)] or 0) for p in positions), Decimal(0))
    return MarkedEquity(at=at, venue=venue, currency=currency, equity=cash + held)
