"""``Ledger``: orders, fills, positions, balances, runs and risk state. Each method is
one transaction; nothing returned is attached to a session."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from core.clock import Clock, SystemClock
from core.ledger import _convert as conv
from core.ledger import _orders
from core.ledger._anchor import HeadFile
from core.ledger._canonical import to_jsonable
from core.ledger._engine import BEGIN_OPTION
from core.ledger.audit import AuditLog
from core.ledger.models import BalanceRow, FillRow, OrderRow, PositionRow, RiskStateRow, RunRow
from core.ledger.records import (
    Balance,
    BalanceRecord,
    DuplicateOrderError,
    FillRecord,
    FillResult,
    LedgerError,
    OrderRecord,
    PositionRecord,
    RiskStateRecord,
    RunRecord,
    RunStatus,
    StaleStateError,
    UnknownOrderError,
    UnknownRecordError,
)
from core.ledger.redact import Redactor
from core.types import Fill, OrderIntent, OrderStatus


class Ledger:
    """The trading record. Build it with ``open_ledger(url)``.

    Writes take the write lock up front (``BEGIN IMMEDIATE`` on SQLite, row locks on
    PostgreSQL), so two processes sharing one database serialise instead of losing
    updates.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Clock | None = None,
        redactor: Redactor | None = None,
        audit_key: bytes | None = None,
        head_file: HeadFile | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock or SystemClock()
        self._redactor = redactor or Redactor()
        self._read = sessionmaker(engine, expire_on_commit=False)
        writer = engine.execution_options(**{BEGIN_OPTION: "IMMEDIATE"})
        self._write = sessionmaker(writer, expire_on_commit=False)
        self.audit = AuditLog(engine, redactor=self._redactor, key=audit_key, head_file=head_file)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        with self._write() as session, session.begin():
            yield session

    # -- orders ---------------------------------------------------------------------

    def record_order_pending(self, intent: OrderIntent, client_order_id: str) -> OrderRecord:
        """Persist an order as PENDING_SEND *before* it is sent.

        A client order id is recorded once. Recording it again raises
        ``DuplicateOrderError`` carrying the existing order (``.existing``): a caller
        that retries after a crash must look at that order's status (and query the
        venue) instead of sending a second order.
        """
        values = _orders.new_order_values(intent, client_order_id, self.clock.now())
        with self._tx() as session:
            if _orders.insert_ignore(session, OrderRow, values):
                return conv.order(OrderRow(**values))
            row = session.get_one(OrderRow, client_order_id)
            existing = conv.order(row)
        raise DuplicateOrderError(existing, same_fields=_orders.same_order(row, values))

    def update_order(
        self,
        client_order_id: str,
        status: OrderStatus,
        *,
        venue_order_id: str | None = None,
        filled_qty: Decimal | None = None,
        avg_fill_price: Decimal | None = None,
        error: str | None = None,
    ) -> OrderRecord:
        """Record what the venue (or the executor) says about an order.

        Refuses illegal moves (a final order never changes status; nothing returns to
        PENDING_SEND) with ``IllegalTransitionError``. A stale report among working states
        (OPEN after PARTIALLY_FILLED) is ignored. ``filled_qty`` never decreases.
        """
        with self._tx() as session:
            row = session.execute(
                select(OrderRow)
                .where(OrderRow.client_order_id == client_order_id)
                .with_for_update()
            ).scalar_one_or_none()
            if row is None:
                raise UnknownOrderError(f"no order with client order id {client_order_id!r}")
            _orders.apply_update(
                row,
                OrderStatus(status),
                self.clock.now(),
                venue_order_id=venue_order_id,
                filled_qty=filled_qty,
                avg_fill_price=avg_fill_price,
                error=None if error is None else self._redactor.text(error),
            )
            session.flush()
            return conv.order(row)

    def record_fill(self, fill: Fill) -> FillResult:
        """Record an execution and, in the same transaction, add it to the order's filled
        quantity and to the position.

        ``fill.order_id`` is the client order id (or, failing that, the venue order id).
        Idempotent on (venue, fill id): a repeated report changes nothing and comes back
        with ``duplicate=True``; a repeated id with different contents raises
        ``ConflictingFillError``.
        """
        now = self.clock.now()
        with self._tx() as session:
            order = _orders.lock_order(session, fill.order_id)
            _orders.check_fill_matches(order, fill)
            values = _orders.fill_values(order, fill, now)
            inserted = _orders.insert_ignore(session, FillRow, values)
            if inserted:
                stored = conv.fill_from_values(values)
                _orders.apply_fill_to_order(order, fill, now)
                position = _orders.lock_position(session, order.venue, order.symbol, now)
                _orders.apply_fill_to_position(position, fill, now)
            else:
                stored = conv.fill(_orders.existing_fill(session, order, fill))
                position = _orders.lock_position(session, order.venue, order.symbol, now)
            session.flush()
            return FillResult(
                fill=stored,
                duplicate=not inserted,
                order=conv.order(order),
                position=conv.position(position),
            )

    def get_order(self, client_order_id: str) -> OrderRecord | None:
        with self._read() as session:
            row = session.get(OrderRow, client_order_id)
            return None if row is None else conv.order(row)

    def orders(
        self,
        status: Iterable[OrderStatus] | OrderStatus | None = None,
        *,
        symbol: str | None = None,
        venue: str | None = None,
    ) -> list[OrderRecord]:
        """Orders, oldest first, filtered by status (one or several), symbol and venue."""
        query = select(OrderRow).order_by(OrderRow.created_at, OrderRow.client_order_id)
        if status is not None:
            wanted = [status] if isinstance(status, OrderStatus) else list(status)
            query = query.where(OrderRow.status.in_([OrderStatus(s).value for s in wanted]))
        if symbol is not None:
            query = query.where(OrderRow.symbol == symbol)
        if venue is not None:
            query = query.where(OrderRow.venue == venue)
        with self._read() as session:
            return [conv.order(r) for r in session.execute(query).scalars()]

    def working_orders(self, *, venue: str | None = None) -> list[OrderRecord]:
        """Orders that could still fill, UNKNOWN included: they count against limits."""
        return self.orders([s for s in OrderStatus if s.is_working], venue=venue)

    def fills(
        self, client_order_id: str | None = None, *, symbol: str | None = None
    ) -> list[FillRecord]:
        """Fills in time order, optionally of one order or one symbol."""
        query = select(FillRow).order_by(FillRow.ts, FillRow.id)
        if client_order_id is not None:
            query = query.where(FillRow.client_order_id == client_order_id)
        if symbol is not None:
            query = query.where(FillRow.symbol == str(symbol))
        with self._read() as session:
            return [conv.fill(r) for r in session.execute(query).scalars()]

    def positions(self, *, venue: str | None = None) -> list[PositionRecord]:
        query = select(PositionRow).order_by(PositionRow.venue, PositionRow.symbol)
        if venue is not None:
            query = query.where(PositionRow.venue == venue)
        with self._read() as session:
            return [conv.position(r) for r in session.execute(query).scalars()]

    # -- balances -------------------------------------------------------------------

    def set_balances(self, venue: str, balances: Iterable[Balance]) -> list[BalanceRecord]:
        """Replace the venue's balance snapshot (currencies not listed are removed)."""
        now = self.clock.now()
        items = list(balances)
        with self._tx() as session:
            session.execute(delete(BalanceRow).where(BalanceRow.venue == venue))
            for b in items:
                session.add(
                    BalanceRow(
                        venue=venue, currency=b.currency, free=b.free, used=b.used, updated_at=now
                    )
                )
        return self.balances(venue=venue)

    def balances(self, *, venue: str | None = None) -> list[BalanceRecord]:
        query = select(BalanceRow).order_by(BalanceRow.venue, BalanceRow.currency)
        if venue is not None:
            query = query.where(BalanceRow.venue == venue)
        with self._read() as session:
            return [conv.balance(r) for r in session.execute(query).scalars()]

    # -- runs -----------------------------------------------------------------------

    def start_run(
        self,
        kind: str,
        *,
        inputs: Mapping[str, Any] | None = None,
        data_hashes: Mapping[str, str] | None = None,
    ) -> RunRecord:
        """Record that a run began, with what it was given (secrets masked)."""
        row = RunRow(
            id=uuid.uuid4().hex,
            kind=kind,
            started_at=self.clock.now(),
            finished_at=None,
            status=RunStatus.RUNNING.value,
            inputs=self._json(inputs or {}),
            data_hashes=self._json(data_hashes or {}),
            outputs=None,
            error=None,
        )
        with self._tx() as session:
            session.add(row)
        return conv.run(row)

    def finish_run(
        self,
        run_id: str,
        status: RunStatus,
        *,
        outputs: Mapping[str, Any] | None = None,
        error: str | None = None,
    ) -> RunRecord:
        status = RunStatus(status)
        if status is RunStatus.RUNNING:
            raise ValueError("finish_run needs a final status: succeeded, failed or aborted")
        with self._tx() as session:
            row = session.get(RunRow, run_id, with_for_update=True)
            if row is None:
                raise UnknownRecordError(f"no run with id {run_id!r}")
            if row.status != RunStatus.RUNNING.value:
                raise LedgerError(f"run {run_id} already finished ({row.status})")
            row.status = status.value
            row.finished_at = self.clock.now()
            row.outputs = None if outputs is None else self._json(outputs)
            row.error = None if error is None else self._redactor.text(error)
            session.flush()
            return conv.run(row)

    def get_run(self, run_id: str) -> RunRecord | None:
        with self._read() as session:
            row = session.get(RunRow, run_id)
            return None if row is None else conv.run(row)

    # -- risk state -----------------------------------------------------------------

    def save_risk_state(
        self,
        venue: str,
        trading_state: str,
        payload: Mapping[str, Any],
        *,
        account: str = "default",
        expected_version: int | None = None,
    ) -> RiskStateRecord:
        """Store the risk officer's state (any JSON-serialisable mapping).

        With ``expected_version`` the save happens only if nobody saved since that
        version was loaded (``StaleStateError`` otherwise), so a HALT written by
        ``tiller risk halt`` cannot be overwritten by a process holding an older state.
        """
        data = self._json(payload)
        with self._tx() as session:
            row = session.get(RiskStateRow, (venue, account), with_for_update=True)
            current = 0 if row is None else row.version
            if expected_version is not None and expected_version != current:
                raise StaleStateError(
                    f"risk state of {venue}/{account} is at version {current}, not "
                    f"{expected_version}: reload it and decide again"
                )
            if row is None:
                row = RiskStateRow(venue=venue, account=account)
                session.add(row)
            row.trading_state = trading_state
            row.payload = data
            row.version = current + 1
            row.updated_at = self.clock.now()
            session.flush()
            return conv.risk_state(row)

    def load_risk_state(self, venue: str, *, account: str = "default") -> RiskStateRecord | None:
        with self._read() as session:
            row = session.get(RiskStateRow, (venue, account))
            return None if row is None else conv.risk_state(row)

    # -- risk state inside another transaction (an audit append's guard) -------------

    def read_risk_state_in(
        self, conn: Connection, venue: str, *, account: str = "default"
    ) -> RiskStateRecord | None:
        """The risk state row, locked for the rest of ``conn``'s transaction."""
        query = select(RiskStateRow.__table__).where(
            RiskStateRow.venue == venue, RiskStateRow.account == account
        )
        row = conn.execute(query.with_for_update()).one_or_none()
        if row is None:
            return None
        return RiskStateRecord(
            venue=row.venue,
            account=row.account,
            trading_state=row.trading_state,
            payload=dict(row.payload),
            version=int(row.version),
            updated_at=row.updated_at,
        )

    def write_risk_state_in(
        self,
        conn: Connection,
        venue: str,
        trading_state: str,
        payload: Mapping[str, Any],
        *,
        account: str = "default",
    ) -> int:
        """Save the risk state within ``conn``'s transaction; returns the new version."""
        current = self.read_risk_state_in(conn, venue, account=account)
        values = {
            "trading_state": trading_state,
            "payload": self._json(payload),
            "updated_at": self.clock.now(),
        }
        if current is None:
            conn.execute(
                insert(RiskStateRow).values(venue=venue, account=account, version=1, **values)
            )
            return 1
        version = current.version + 1
        where = (RiskStateRow.venue == venue) & (RiskStateRow.account == account)
        conn.execute(update(RiskStateRow).where(where).values(version=version, **values))
        return version

    def _json(self, value: Mapping[str, Any]) -> dict[str, Any]:
        data: dict[str, Any] = self._redactor.data(to_jsonable(value))
        return data
