"""The account as the trading venue and the ledger see it: positions valued at the last
stored close, cash, equity, exposure, orders, and the risk officer's state over it."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from app.services.risk import ChainCheck
from core.errors import ConfigError, NotFoundError
from core.types import OrderStatus

if TYPE_CHECKING:
    from app.bootstrap import Container
    from core.ledger import OrderRecord


class PositionView(BaseModel):
    symbol: str
    quantity: Decimal
    average_price: Decimal | None = None
    mark: Decimal | None  # the last stored close as of now; None: no price stored
    value: Decimal | None


class Exposure(BaseModel):
    gross: Decimal
    net: Decimal
    unpriced: list[str]  # positions with no stored price (not in gross or net)


class PortfolioView(BaseModel):
    venue: str
    currency: str
    cash: Decimal
    equity: Decimal
    exposure: Exposure
    positions: list[PositionView]
    working_orders: int


class OrderView(BaseModel):
    client_order_id: str
    intent_id: str
    venue: str
    symbol: str
    side: Literal["buy", "sell"]
    order_type: str
    quantity: Decimal
    limit_price: Decimal | None
    status: str
    filled_qty: Decimal
    avg_fill_price: Decimal | None
    created_at: datetime
    updated_at: datetime
    last_error: str | None


def venue_of(c: Container) -> str:
    return c.settings.trading_venue.strip().lower()


def portfolio(c: Container) -> PortfolioView:
    """Positions at the last stored close (as of the container's clock), cash and equity."""
    venue = venue_of(c)
    rows, gross, net, unpriced = [], Decimal(0), Decimal(0), []
    for p in c.ledger.positions(venue=venue):
        mark = _mark(c, str(p.symbol))
        value = None if mark is None else p.quantity * mark
        if value is None:
            unpriced.append(str(p.symbol))
        else:
            gross, net = gross + abs(value), net + value
        rows.append(
            PositionView(
                symbol=str(p.symbol),
                quantity=p.quantity,
                average_price=p.average_price,
                mark=mark,
                value=value,
            )
        )
    balances = {b.currency: b.free + b.used for b in c.ledger.balances(venue=venue)}
    currency = c.account_currency([str(p.symbol) for p in c.ledger.positions(venue=venue)])
    cash = balances.get(currency, Decimal(0) if c.live_venue else c.settings.paper_cash)
    return PortfolioView(
        venue=venue, currency=currency, cash=cash, equity=cash + net,
        exposure=Exposure(gross=gross, net=net, unpriced=unpriced), positions=rows,
        working_orders=len(c.ledger.working_orders(venue=venue)),
    )  # fmt: skip


def _mark(c: Container, symbol: str) -> Decimal | None:
    try:
        frame = c.store.bars(symbol, "1d", as_of=c.clock.now())
    except NotFoundError:
        return None
    return Decimal(str(frame["close"].iloc[-1])) if len(frame) else None


def orders(
    c: Container, *, status: str | None = None, symbol: str | None = None, limit: int = 100
) -> list[OrderView]:
    """Orders at the trading venue, newest first."""
    wanted = None
    if status is not None:
        try:
            wanted = OrderStatus(status)
        except ValueError:
            known = ", ".join(s.value for s in OrderStatus)
            raise ConfigError(f"unknown order status {status!r}; one of {known}") from None
    found = c.ledger.orders(wanted, symbol=symbol, venue=venue_of(c))
    return [_order(o) for o in reversed(found)][:limit]


def _order(o: OrderRecord) -> OrderView:
    return OrderView(
        client_order_id=o.client_order_id, intent_id=o.intent_id, venue=o.venue,
        symbol=str(o.symbol), side=str(o.side.value),
        order_type=str(o.order_type.value), quantity=o.quantity, limit_price=o.limit_price,
        status=str(o.status.value), filled_qty=o.filled_qty, avg_fill_price=o.avg_fill_price,
        created_at=o.created_at, updated_at=o.updated_at, last_error=o.last_error,
    )  # fmt: skip


class RiskStatusView(BaseModel):
    """``tiller risk status --json`` and ``GET /v1/risk``."""

    venue: str
    state: dict[str, Any]
    audit_chain_ok: bool
    audit_chain: ChainCheck
    equity: Decimal
    pnl_today: Decimal
    exposure: Exposure
    positions: list[PositionView]
    working_orders: int
    limits: dict[str, Any]
    limits_hash: str


def risk_status(c: Container) -> RiskStatusView:
    """The trading state, today's P&L and the limits. The audit chain is checked first
    (a broken chain halts trading, whatever else is misconfigured)."""
    from app.services.risk import hold_if_chain_broken

    chain = hold_if_chain_broken(c)
    state = c.executor().risk_state()
    book = portfolio(c)
    return RiskStatusView(
        venue=book.venue, state=state.to_dict(), audit_chain_ok=chain.ok, audit_chain=chain,
        equity=book.equity, pnl_today=book.equity - state.day_start_equity,
        exposure=book.exposure, positions=book.positions, working_orders=book.working_orders,
        limits={k: _plain(v) for k, v in c.limits.as_dict().items()},
        limits_hash=c.limits.limits_hash(),
    )  # fmt: skip


def _plain(value: Any) -> Any:
    if isinstance(value, list | tuple | set | frozenset):
        return sorted(str(v) for v in value)
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    return value if isinstance(value, bool | int | str) or value is None else str(value)
