"""Rows to records: the only place that turns stored strings back into domain enums."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from core.ledger._types import tidy_decimal, to_storable_decimal
from core.ledger.models import BalanceRow, FillRow, OrderRow, PositionRow, RiskStateRow, RunRow
from core.ledger.records import (
    BalanceRecord,
    FillRecord,
    OrderRecord,
    PositionRecord,
    RiskStateRecord,
    RunRecord,
    RunStatus,
)
from core.types import OrderStatus, OrderType, Side, Symbol


# A row just written still holds the caller's values; normalising them as storage does
# makes a returned record equal to the same record read back later.
def _m(value: Decimal) -> Decimal:
    return tidy_decimal(to_storable_decimal(value))


def _m_opt(value: Decimal | None) -> Decimal | None:
    return None if value is None else _m(value)


def _t(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _t_opt(value: datetime | None) -> datetime | None:
    return None if value is None else _t(value)


def order(row: OrderRow) -> OrderRecord:
    return OrderRecord(
        client_order_id=row.client_order_id,
        intent_id=row.intent_id,
        venue=row.venue,
        symbol=Symbol(row.symbol),
        side=Side(row.side),
        order_type=OrderType(row.order_type),
        quantity=_m(row.quantity),
        limit_price=_m_opt(row.limit_price),
        reduce_only=row.reduce_only,
        status=OrderStatus(row.status),
        venue_order_id=row.venue_order_id,
        filled_qty=_m(row.filled_qty),
        avg_fill_price=_m_opt(row.avg_fill_price),
        created_at=_t(row.created_at),
        updated_at=_t(row.updated_at),
        last_error=row.last_error,
    )


def fill(row: FillRow) -> FillRecord:
    return FillRecord(
        venue=row.venue,
        fill_id=row.fill_id,
        client_order_id=row.client_order_id,
        symbol=Symbol(row.symbol),
        side=Side(row.side),
        quantity=_m(row.quantity),
        price=_m(row.price),
        fee=_m(row.fee),
        fee_currency=row.fee_currency,
        ts=_t(row.ts),
        recorded_at=_t(row.recorded_at),
    )


def fill_from_values(values: dict[str, Any]) -> FillRecord:
    """The record of a fill just inserted, without reading it back."""
    return fill(FillRow(**values))


def position(row: PositionRow) -> PositionRecord:
    return PositionRecord(
        venue=row.venue,
        symbol=Symbol(row.symbol),
        quantity=_m(row.quantity),
        average_price=_m(row.average_price),
        realised_pnl=_m(row.realised_pnl),
        updated_at=_t(row.updated_at),
    )


def balance(row: BalanceRow) -> BalanceRecord:
    return BalanceRecord(
        venue=row.venue,
        currency=row.currency,
        free=_m(row.free),
        used=_m(row.used),
        updated_at=_t(row.updated_at),
    )


def run(row: RunRow) -> RunRecord:
    return RunRecord(
        id=row.id,
        kind=row.kind,
        started_at=_t(row.started_at),
        finished_at=_t_opt(row.finished_at),
        status=RunStatus(row.status),
        inputs=dict(row.inputs),
        data_hashes=dict(row.data_hashes),
        outputs=None if row.outputs is None else dict(row.outputs),
        error=row.error,
    )


def risk_state(row: RiskStateRow) -> RiskStateRecord:
    return RiskStateRecord(
        venue=row.venue,
        account=row.account,
        trading_state=row.trading_state,
        payload=dict(row.payload),
        version=row.version,
        updated_at=_t(row.updated_at),
    )
