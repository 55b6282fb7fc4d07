"""What the ledger returns: frozen snapshots, detached from any database session."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from core.errors import NotFoundError, TillerError
from core.types import OrderStatus, OrderType, Position, Side, Symbol


class LedgerError(TillerError):
    """The ledger refused a write because it would make the record inconsistent."""

    exit_code = 3


class DuplicateOrderError(LedgerError):
    """An order with this client order id is already recorded. ``existing`` is that
    order: resolve from its status (query the venue if it may have been sent), never by
    sending again."""

    def __init__(self, existing: OrderRecord, *, same_fields: bool) -> None:
        differs = "" if same_fields else " with different order fields"
        super().__init__(
            f"client order id {existing.client_order_id!r} is already recorded{differs} "
            f"(status {existing.status.value}); query it instead of recording it again"
        )
        self.existing = existing
        self.same_fields = same_fields


class IllegalTransitionError(LedgerError):
    """A status change the order lifecycle does not allow (e.g. FILLED → OPEN)."""


class ConflictingFillError(LedgerError):
    """A fill id seen before came back with different contents."""


class StaleStateError(LedgerError):
    """Someone saved the risk state since it was loaded (``expected_version`` differs)."""


class UnknownRecordError(LedgerError, NotFoundError):
    """No order, run or other record has this id."""

    exit_code = NotFoundError.exit_code


class UnknownOrderError(UnknownRecordError):
    """No order has this client order id (or venue order id)."""


class RunStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ABORTED = "aborted"


@dataclass(frozen=True, slots=True)
class OrderRecord:
    client_order_id: str
    intent_id: str
    venue: str
    symbol: Symbol
    side: Side
    order_type: OrderType
    quantity: Decimal
    limit_price: Decimal | None
    reduce_only: bool
    status: OrderStatus
    venue_order_id: str | None
    filled_qty: Decimal
    avg_fill_price: Decimal | None
    created_at: datetime
    updated_at: datetime
    last_error: str | None

    @property
    def remaining_qty(self) -> Decimal:
        return max(self.quantity - self.filled_qty, Decimal(0))


@dataclass(frozen=True, slots=True)
class FillRecord:
    venue: str
    fill_id: str
    client_order_id: str
    symbol: Symbol
    side: Side
    quantity: Decimal
    price: Decimal
    fee: Decimal
    fee_currency: str
    ts: datetime
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class FillResult:
    """What ``record_fill`` did. ``duplicate``: the fill was already recorded and
    nothing changed."""

    fill: FillRecord
    duplicate: bool
    order: OrderRecord
    position: PositionRecord


@dataclass(frozen=True, slots=True)
class PositionRecord:
    venue: str
    symbol: Symbol
    quantity: Decimal
    average_price: Decimal
    realised_pnl: Decimal
    updated_at: datetime

    def as_position(self) -> Position:
        return Position(
            symbol=self.symbol, quantity=self.quantity, average_price=self.average_price
        )


@dataclass(frozen=True, slots=True)
class Balance:
    """One currency at a venue: ``free`` to trade, ``used`` locked in working orders."""

    currency: str
    free: Decimal
    used: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        for name in ("free", "used"):
            value = getattr(self, name)
            if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
                raise ValueError(
                    f"balance {self.currency} {name} is {value!r}: pass a finite Decimal >= 0"
                )

    @property
    def total(self) -> Decimal:
        return self.free + self.used


@dataclass(frozen=True, slots=True)
class BalanceRecord:
    venue: str
    currency: str
    free: Decimal
    used: Decimal
    updated_at: datetime

    @property
    def total(self) -> Decimal:
        return self.free + self.used


@dataclass(frozen=True, slots=True)
class RunRecord:
    id: str
    kind: str
    started_at: datetime
    finished_at: datetime | None
    status: RunStatus
    inputs: dict[str, Any]
    data_hashes: dict[str, Any]
    outputs: dict[str, Any] | None
    error: str | None


@dataclass(frozen=True, slots=True)
class RiskStateRecord:
    venue: str
    account: str
    trading_state: str
    payload: dict[str, Any] = field(default_factory=dict)
    version: int = 0
    updated_at: datetime | None = None
