"""The ledger's tables. ``migrations/versions`` creates exactly this schema; a test compares
the two, so change both together (a new revision, never an edited one)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from core.ledger._types import Money, UtcDateTime

# Named constraints so migrations can refer to them on every backend.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ORDER_STATUSES = (
    "pending_send",
    "sent",
    "open",
    "partially_filled",
    "filled",
    "canceled",
    "rejected",
    "expired",
    "unknown",
)
GENESIS_HASH = "0" * 64
"""``prev_hash`` of the first audit entry."""


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime,
        Decimal: Money,
        dict[str, Any]: JSON,
    }


class OrderRow(Base):
    """One order, keyed by the client order id we persist *before* sending it."""

    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("side IN ('buy', 'sell')", name="side"),
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in ORDER_STATUSES) + ")", name="status"
        ),
        Index("ix_orders_venue_order", "venue", "venue_order_id"),
    )

    client_order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    intent_id: Mapped[str] = mapped_column(String(64), index=True)
    venue: Mapped[str] = mapped_column(String(32))
    symbol: Mapped[str] = mapped_column(String(64), index=True)
    side: Mapped[str] = mapped_column(String(4))
    order_type: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[Decimal]
    limit_price: Mapped[Decimal | None]
    reduce_only: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(20), index=True)
    venue_order_id: Mapped[str | None] = mapped_column(String(128))
    filled_qty: Mapped[Decimal]
    avg_fill_price: Mapped[Decimal | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)


class FillRow(Base):
    """An execution. ``(venue, fill_id)`` is unique, so a repeated report is a no-op."""

    __tablename__ = "fills"
    __table_args__ = (
        UniqueConstraint("venue", "fill_id", name="uq_fills_venue_fill_id"),
        CheckConstraint("side IN ('buy', 'sell')", name="side"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    venue: Mapped[str] = mapped_column(String(32))
    fill_id: Mapped[str] = mapped_column(String(128))
    client_order_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("orders.client_order_id"), index=True
    )
    symbol: Mapped[str] = mapped_column(String(64))
    side: Mapped[str] = mapped_column(String(4))
    quantity: Mapped[Decimal]
    price: Mapped[Decimal]
    fee: Mapped[Decimal]
    fee_currency: Mapped[str] = mapped_column(String(16))
    ts: Mapped[datetime]
    recorded_at: Mapped[datetime]


class PositionRow(Base):
    """Net position per venue and symbol, maintained from fills in the same transaction."""

    __tablename__ = "positions"

    venue: Mapped[str] = mapped_column(String(32), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(64), primary_key=True)
    quantity: Mapped[Decimal]
    average_price: Mapped[Decimal]
    realised_pnl: Mapped[Decimal]
    updated_at: Mapped[datetime]


class BalanceRow(Base):
    """The venue's latest balance snapshot per currency."""

    __tablename__ = "balances"

    venue: Mapped[str] = mapped_column(String(32), primary_key=True)
    currency: Mapped[str] = mapped_column(String(16), primary_key=True)
    free: Mapped[Decimal]
    used: Mapped[Decimal]
    updated_at: Mapped[datetime]


class RunRow(Base):
    """One agent run, backtest or autopilot tick, with what it was given."""

    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    started_at: Mapped[datetime] = mapped_column(index=True)
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16))
    inputs: Mapped[dict[str, Any]]
    data_hashes: Mapped[dict[str, Any]]
    outputs: Mapped[dict[str, Any] | None]
    error: Mapped[str | None] = mapped_column(Text)


class RunEventRow(Base):
    """One event of an agent run (core/ledger/runlog.py), its digest also in the audit log."""

    __tablename__ = "run_events"

    run_id: Mapped[str] = mapped_column(String(32), ForeignKey("runs.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column()
    node: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    digest: Mapped[str] = mapped_column(String(64))
    audit_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class RiskStateRow(Base):
    """The risk officer's persisted state, one row per venue and account. ``version``
    increments on every save so concurrent writers can detect a lost update."""

    __tablename__ = "risk_state"

    venue: Mapped[str] = mapped_column(String(32), primary_key=True)
    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    trading_state: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]]
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime]


class AuditRow(Base):
    """One audit entry. Append-only: database triggers refuse UPDATE and DELETE.

    ``payload`` is the canonical JSON text exactly as it was hashed, so verification
    never depends on how a backend re-serialises JSON.
    """

    __tablename__ = "audit_entries"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(32), index=True)
    payload: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    # How ``hash`` was made: "sha256" (entries written before the chain was keyed) or
    # "hmac-sha256" (keyed; the key never lives in the database).
    mac: Mapped[str] = mapped_column(String(16), server_default="sha256")


class AuditHeadRow(Base):
    """The chain's head (last seq and hash), a single row.

    Appenders lock this row (``SELECT ... FOR UPDATE``) so two processes cannot both
    extend the same head; an empty ``audit_entries`` has no row to lock, this table
    always does. Verification also compares it with the last entry, which catches a
    deleted tail.
    """

    __tablename__ = "audit_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class ApiKeyRow(Base):
    """An API key (``tiller keys create``). Only the key's SHA-256 is stored: the key
    itself is shown once. A revoked key stays, so the record of who did what keeps its
    name."""

    __tablename__ = "api_keys"
    __table_args__ = (CheckConstraint("role IN ('viewer', 'trader', 'admin')", name="role"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class IdempotencyRow(Base):
    """A POST made with an ``Idempotency-Key``: the first request claims the row, a repeat
    gets the stored answer (never a second run or order)."""

    __tablename__ = "api_idempotency"

    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    idem_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    scope: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    response: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime]


class ApiUsageRow(Base):
    """What one API key spent on LLM calls in one UTC day (its daily budget)."""

    __tablename__ = "api_usage"

    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    llm_cost_usd: Mapped[Decimal]
    updated_at: Mapped[datetime]
