"""The paper account over time, its fills, and how much of each risk limit is in use.

The ledger keeps fills and balances, not a history of equity: the history is rebuilt
from the fills (cash moves by price x quantity and fee) with positions marked at the
last stored daily close at each point, so it needs nothing the ledger does not hold.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from app.services.portfolio import RiskStatusView, venue_of
from core.errors import NotFoundError
from core.types import Side

if TYPE_CHECKING:
    from app.bootstrap import Container

_MAX_POINTS = 2_000


class FillView(BaseModel):
    fill_id: str
    client_order_id: str
    symbol: str
    side: str
    quantity: Decimal
    price: Decimal
    fee: Decimal
    fee_currency: str
    at: datetime


class EquityPoint(BaseModel):
    at: datetime
    cash: Decimal
    holdings: Decimal  # positions marked at the last stored close then
    equity: Decimal


class AccountHistory(BaseModel):
    currency: str
    initial_cash: Decimal
    # The opening balance at the last close before the first fill, then a point at each
    # fill and at each later daily close, oldest first; empty before the first fill.
    points: list[EquityPoint]


def fills(c: Container, limit: int = 200) -> list[FillView]:
    """Fills at the trading venue, newest first."""
    venue = venue_of(c)
    found = [f for f in c.ledger.fills() if f.venue == venue]
    return [
        FillView(
            fill_id=f.fill_id, client_order_id=f.client_order_id, symbol=str(f.symbol),
            side=f.side.value, quantity=f.quantity, price=f.price, fee=f.fee,
            fee_currency=f.fee_currency, at=f.ts,
        )
        for f in reversed(found)
    ][:limit]  # fmt: skip


def account_history(c: Container) -> AccountHistory:
    """The opening balance, then equity after each fill and at each daily close since the
    first one, up to now."""
    currency, cash = c.settings.paper_currency, c.settings.paper_cash
    ordered = sorted(fills(c, limit=1_000_000), key=lambda f: (f.at, f.fill_id))
    if not ordered:
        return AccountHistory(currency=currency, initial_cash=cash, points=[])
    held: dict[str, Decimal] = defaultdict(Decimal)
    last_fill = {f.symbol: f.price for f in ordered}  # a mark when no close is stored
    closes = {s: _closes(c, s) for s in last_fill}
    first = ordered[0].at
    later = {t for series in closes.values() for t, _ in series if t > first}
    times = sorted({f.at for f in ordered} | later)[-_MAX_POINTS:]
    before = [t for series in closes.values() for t, _ in series if t < first]
    opened = max(before, default=first - timedelta(days=1))
    points = [EquityPoint(at=opened, cash=cash, holdings=Decimal(0), equity=cash)]
    i = 0
    for at in times:
        while i < len(ordered) and ordered[i].at <= at:
            f = ordered[i]
            sign = Decimal(1) if f.side == Side.BUY.value else Decimal(-1)
            held[f.symbol] += sign * f.quantity
            cash -= sign * f.quantity * f.price + (f.fee if f.fee_currency == currency else 0)
            i += 1
        holdings = sum(
            (q * _mark(closes[s], at, last_fill[s]) for s, q in held.items()), Decimal(0)
        )
        points.append(EquityPoint(at=at, cash=cash, holdings=holdings, equity=cash + holdings))
    return AccountHistory(currency=currency, initial_cash=c.settings.paper_cash, points=points)


def _closes(c: Container, symbol: str) -> list[tuple[datetime, Decimal]]:
    """(close time, close) of the stored daily bars that had closed by now."""
    from core.types import Timeframe

    try:
        frame = c.store.bars(symbol, "1d", as_of=c.clock.now())
    except NotFoundError:
        return []
    step = Timeframe("1d").delta
    return [(t.to_pydatetime() + step, Decimal(str(v))) for t, v in frame["close"].items()]


def _mark(series: list[tuple[datetime, Decimal]], at: datetime, fallback: Decimal) -> Decimal:
    """The last close at or before ``at`` (``fallback`` when none is stored)."""
    last = fallback
    for t, close in series:
        if t > at:
            break
        last = close
    return last


class LimitUsage(BaseModel):
    """One limit and how much of it is used (``used`` and ``limit`` in ``unit``)."""

    name: str
    description: str
    used: Decimal | None
    limit: Decimal
    unit: str

    @property
    def fraction(self) -> float | None:
        if self.used is None or self.limit == 0:
            return None
        return float(self.used / self.limit)


def limit_usage(status: RiskStatusView) -> list[LimitUsage]:
    """The limits that fill up as the account trades, with their use now."""
    lim, state, equity = status.limits, status.state, status.equity
    peak = Decimal(str(state.get("peak_equity") or equity))
    day_start = Decimal(str(state.get("day_start_equity") or equity))
    loss_pct = max(Decimal(0), (day_start - equity) / day_start * 100) if day_start else None
    dd_pct = max(Decimal(0), (peak - equity) / peak * 100) if peak else None
    gross = status.exposure.gross / equity if equity > 0 else None
    net = abs(status.exposure.net) / equity if equity > 0 else None

    def row(name: str, text: str, used: Any, unit: str) -> LimitUsage:
        return LimitUsage(name=name, description=text, used=used, limit=Decimal(str(lim[name])),
                          unit=unit)  # fmt: skip

    return [
        row("max_orders_per_day", "orders sent today", state.get("orders_today", 0), "orders"),
        row("max_gross_exposure", "gross exposure / equity", gross, "x equity"),
        row("max_net_exposure", "net exposure / equity", net, "x equity"),
        row("max_daily_loss_pct", "loss since the day's start (→ REDUCING)", loss_pct, "%"),
        row("reducing_drawdown_pct", "drawdown from peak (→ REDUCING)", dd_pct, "%"),
        row("max_drawdown_pct", "drawdown from peak (→ HALTED)", dd_pct, "%"),
    ]


def find_runs(
    c: Container, *, status: str | None = None, symbol: str | None = None,
    outcome: str | None = None, limit: int = 50,
) -> list[Any]:  # fmt: skip
    """Agent runs newest first, filtered by status, a symbol they decided on, outcome."""
    from app.services.runs import list_runs

    wanted = symbol.strip().upper() if symbol and symbol.strip() else None
    out = []
    for view in list_runs(c, limit=max(limit * 4, 200)):
        symbols = view.inputs.get("request", {}).get("symbols", [])
        if status and view.status != status:
            continue
        if outcome and view.outcome != outcome:
            continue
        if wanted and wanted not in symbols:
            continue
        out.append(view)
    return out[:limit]
