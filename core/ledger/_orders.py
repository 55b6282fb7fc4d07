"""Order lifecycle and fill accounting, as functions over an open session.

Callers (``Ledger``) own the transaction; everything here happens inside it, so a fill,
the order's filled quantity and the position move together or not at all.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import Executable, inspect, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from core.ledger.models import Base, FillRow, OrderRow, PositionRow
from core.ledger.records import (
    ConflictingFillError,
    IllegalTransitionError,
    LedgerError,
    UnknownOrderError,
)
from core.types import Fill, OrderIntent, OrderStatus, Position, Symbol

S = OrderStatus
_NEXT: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.PENDING_SEND: frozenset(
        {S.SENT, S.OPEN, S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.REJECTED, S.EXPIRED, S.UNKNOWN}
    ),
    S.SENT: frozenset(
        {S.OPEN, S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.REJECTED, S.EXPIRED, S.UNKNOWN}
    ),
    S.OPEN: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.REJECTED, S.EXPIRED, S.UNKNOWN}),
    # Once something filled, a venue cancels or expires the rest; it does not reject it.
    S.PARTIALLY_FILLED: frozenset({S.FILLED, S.CANCELED, S.EXPIRED, S.UNKNOWN}),
    # An ambiguous order is resolved by querying the venue, to whatever it says.
    S.UNKNOWN: frozenset({S.OPEN, S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.REJECTED, S.EXPIRED}),
}
# Reports arrive out of order (an "open" ack after the first fill). Among working states
# an older one never moves an order backwards; it is ignored instead of refused.
_PROGRESS = {S.PENDING_SEND: 0, S.SENT: 1, S.OPEN: 2, S.PARTIALLY_FILLED: 3}


def next_status(current: OrderStatus, new: OrderStatus) -> OrderStatus:
    """The status after a report of ``new``; raises for a move the lifecycle forbids."""
    if new is current:
        return current
    if current.is_final:
        raise IllegalTransitionError(
            f"order is {current.value}, which is final; it cannot become {new.value}"
        )
    if new is S.PENDING_SEND:
        raise IllegalTransitionError(f"order is {current.value}; only new orders are pending")
    if new in _PROGRESS and current in _PROGRESS and _PROGRESS[new] < _PROGRESS[current]:
        return current  # stale report
    if new not in _NEXT[current]:
        raise IllegalTransitionError(f"order cannot go from {current.value} to {new.value}")
    return new


def insert_ignore(session: Session, model: type[Base], values: dict[str, Any]) -> bool:
    """INSERT, doing nothing on a primary-key or unique conflict; True if a row went in.

    Race-free on both backends: the database decides, not a prior SELECT.
    """
    dialect = session.get_bind().dialect.name
    statement = _insert_ignore_statement(dialect, model)
    # Core execution with parameters: one cached statement instead of a new one (and a
    # new cache key) per call, which the benchmark showed dominating the write path.
    return session.connection().execute(statement, values).first() is not None


@cache
def _insert_ignore_statement(dialect: str, model: type[Base]) -> Executable:
    insert = sqlite_insert if dialect == "sqlite" else pg_insert
    key = inspect(model).primary_key[0]
    # RETURNING rather than rowcount: drivers do not all report rowcount for INSERT.
    return insert(model).on_conflict_do_nothing().returning(key)


def new_order_values(intent: OrderIntent, client_order_id: str, now: datetime) -> dict[str, Any]:
    if not client_order_id or len(client_order_id) > 64:
        raise ValueError("client_order_id must be 1 to 64 characters")
    return {
        "client_order_id": client_order_id,
        "intent_id": intent.intent_id,
        "venue": intent.venue,
        "symbol": str(intent.symbol),
        "side": intent.side.value,
        "order_type": intent.order_type.value,
        "quantity": intent.quantity,
        "limit_price": intent.limit_price,
        "reduce_only": intent.reduce_only,
        "status": S.PENDING_SEND.value,
        "venue_order_id": None,
        "filled_qty": Decimal(0),
        "avg_fill_price": None,
        "created_at": now,
        "updated_at": now,
        "last_error": None,
    }


def same_order(row: OrderRow, values: dict[str, Any]) -> bool:
    fields = ("intent_id", "venue", "symbol", "side", "order_type", "quantity", "limit_price")
    return all(getattr(row, f) == values[f] for f in fields)


def lock_order(session: Session, order_id: str) -> OrderRow:
    """The order by client order id, else by venue order id; row-locked on PostgreSQL."""
    row = session.execute(
        select(OrderRow).where(OrderRow.client_order_id == order_id).with_for_update()
    ).scalar_one_or_none()
    if row is not None:
        return row
    rows = (
        session.execute(
            select(OrderRow).where(OrderRow.venue_order_id == order_id).with_for_update()
        )
        .scalars()
        .all()
    )
    if len(rows) == 1:
        return rows[0]
    what = "no order" if not rows else f"{len(rows)} orders (ambiguous)"
    raise UnknownOrderError(f"{what} with client or venue order id {order_id!r}")


def apply_update(row: OrderRow, status: OrderStatus, now: datetime, **fields: Any) -> None:
    """Move ``row`` to ``status`` and merge the reported fields."""
    row.status = next_status(S(row.status), status).value
    venue_order_id = fields.get("venue_order_id")
    if venue_order_id is not None:
        if row.venue_order_id not in (None, venue_order_id):
            raise LedgerError(
                f"order {row.client_order_id} already has venue order id "
                f"{row.venue_order_id!r}; refusing {venue_order_id!r}"
            )
        row.venue_order_id = venue_order_id
    filled = fields.get("filled_qty")
    # Filled quantity never decreases: a smaller number comes from a stale report.
    if filled is not None and filled > row.filled_qty:
        row.filled_qty = filled
        row.avg_fill_price = fields.get("avg_fill_price") or row.avg_fill_price
    if fields.get("error") is not None:
        row.last_error = fields["error"]
    row.updated_at = now


def check_fill_matches(row: OrderRow, fill: Fill) -> None:
    if fill.symbol != row.symbol or fill.side.value != row.side:
        raise LedgerError(
            f"fill {fill.fill_id} is {fill.side.value} {fill.symbol} but order "
            f"{row.client_order_id} is {row.side} {row.symbol}"
        )


def fill_values(row: OrderRow, fill: Fill, now: datetime) -> dict[str, Any]:
    return {
        "venue": row.venue,
        "fill_id": fill.fill_id,
        "client_order_id": row.client_order_id,
        "symbol": row.symbol,
        "side": fill.side.value,
        "quantity": fill.quantity,
        "price": fill.price,
        "fee": fill.fee,
        "fee_currency": fill.fee_currency,
        "ts": fill.timestamp,
        "recorded_at": now,
    }


def existing_fill(session: Session, row: OrderRow, fill: Fill) -> FillRow:
    """The stored fill with this id; refuses a report that contradicts it."""
    stored = session.execute(
        select(FillRow).where(FillRow.venue == row.venue, FillRow.fill_id == fill.fill_id)
    ).scalar_one()
    same = (
        stored.client_order_id == row.client_order_id
        and stored.side == fill.side.value
        and stored.quantity == fill.quantity
        and stored.price == fill.price
    )
    if not same:
        raise ConflictingFillError(
            f"fill {fill.fill_id} at {row.venue} was recorded as {stored.side} "
            f"{stored.quantity} @ {stored.price} for {stored.client_order_id}; the new report "
            f"says {fill.side.value} {fill.quantity} @ {fill.price} for {row.client_order_id}"
        )
    return stored


def apply_fill_to_order(row: OrderRow, fill: Fill, now: datetime) -> None:
    """Add the fill to the order's filled quantity and average price and advance it.

    A fill is a fact: it is counted even on an order we thought canceled or rejected
    (the venue filled it before, or despite, that report) and the anomaly is noted.
    """
    total = row.filled_qty + fill.quantity
    previous = (row.avg_fill_price or Decimal(0)) * row.filled_qty
    row.avg_fill_price = (previous + fill.price * fill.quantity) / total
    row.filled_qty = total
    status = S(row.status)
    if total >= row.quantity and status is not S.REJECTED:
        row.status = S.FILLED.value
    elif status.is_working:
        row.status = S.PARTIALLY_FILLED.value
    if status in (S.REJECTED, S.CANCELED, S.EXPIRED):
        row.last_error = f"fill {fill.fill_id} arrived after the order was {status.value}"
    if total > row.quantity:
        row.last_error = f"overfilled: {total} filled of {row.quantity}"
    row.updated_at = now


def lock_position(session: Session, venue: str, symbol: str, now: datetime) -> PositionRow:
    """The position row, created flat if missing; row-locked on PostgreSQL."""
    query = (
        select(PositionRow)
        .where(PositionRow.venue == venue, PositionRow.symbol == symbol)
        .with_for_update()
    )
    row = session.execute(query).scalar_one_or_none()
    if row is not None:
        return row
    zero = Decimal(0)
    # Two first fills of a symbol can race here; the losing insert does nothing and
    # both then lock the one row.
    insert_ignore(
        session,
        PositionRow,
        {"venue": venue, "symbol": symbol, "quantity": zero, "average_price": zero,
         "realised_pnl": zero, "updated_at": now},
    )  # fmt: skip
    return session.execute(query).scalar_one()


def apply_fill_to_position(row: PositionRow, fill: Fill, now: datetime) -> None:
    current = Position(
        symbol=Symbol(row.symbol), quantity=row.quantity, average_price=row.average_price
    )
    after, realised = current.apply(fill)
    row.quantity = after.quantity
    row.average_price = after.average_price
    row.realised_pnl = row.realised_pnl + realised
    row.updated_at = now
