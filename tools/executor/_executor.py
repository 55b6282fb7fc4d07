"""The executor: the only path from a risk approval to a broker.

Order of every step, and why:
1. The approval token must verify for exactly this order, these limits and now.
2. The order is persisted as PENDING_SEND under its deterministic client order id. A
   second attempt for the same intent finds it and never sends again.
3. One audit append records ``order_sent`` and, in the same transaction, checks the
   persisted trading state and records the submission (throttles, duplicates). Every
   audit append is ordered by the chain's lock, so once a HALT is recorded no later
   ``order_sent`` can exist: this append is the send permit.
4. The order is marked SENT, *then* sent. A crash before the mark leaves PENDING_SEND
   (provably never sent); after it, the venue is asked by client order id.
5. The outcome is classified: accepted (recorded), definitely rejected (recorded), or
   ambiguous (UNKNOWN, resolved by querying; never re-sent).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from core.clock import Clock
from core.errors import (
    AmbiguousOutcomeError,
    NotFoundError,
    RejectedError,
    TillerError,
    UnavailableError,
)
from core.ledger import (
    AuditChainError,
    AuditKind,
    DuplicateOrderError,
    FillRecord,
    Ledger,
    OrderRecord,
)
from core.types import Fill, OrderStatus, Position, Symbol
from policies.risk import (
    Approved,
    RiskState,
    TradingState,
    is_reducing,
    on_equity,
    on_order_submitted,
    on_trade_closed,
    send_time_violations,
)
from policies.risk import halt as halt_state
from policies.risk import resume as resume_state
from policies.risk._limits import Limits
from policies.risk._token import TokenSigner
from tools.executor._state_codec import decode_state, encode_state
from tools.executor._types import Broker, BrokerOrder, OrderState, SubmitThrottledError
from tools.executor._types import DuplicateOrderError as VenueDuplicateError


class TradingHaltedError(RejectedError):
    """Trading is HALTED (or the order would add exposure while REDUCING)."""


class SendRefusedError(RejectedError):
    """Orders sent since this approval used up a rate limit or made it a duplicate."""


class InvalidApprovalError(RejectedError):
    """No valid approval token for exactly this order: it is never sent."""


class NotReconciledError(TillerError):
    """Local orders and the venue disagree; trading stays off until resolved."""

    exit_code = 10


@dataclass(frozen=True)
class SubmitResult:
    order: OrderRecord
    outcome: str  # accepted | rejected | unknown | known (an earlier attempt's order)


@dataclass(frozen=True)
class HaltReport:
    """``audited`` is False when the audit log could not take the halt's entry: HALTED
    was then saved in the risk state alone and no cancel was sent (each is in
    ``failed``), because a cancel request must be recorded before it is made."""

    state: RiskState
    canceled: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    audited: bool = True


class Executor:
    """Sends approved orders through one broker and keeps the ledger and audit log.

    Thread-safe: sends are serialised per process (venue clients are not thread-safe);
    ``halt`` does not wait for them, and an order permitted just before a halt is
    cancelled by its own sender right after it reaches the venue.

    Without a ``signer`` it can halt, resume, reconcile and cancel but never send: that
    is how the kill switch works when the token key or the limits are misconfigured.

    ``initial_equity`` is where a fresh risk state's peak and day start (the paper cash);
    None for a real account, whose first mark to market sets them to its real equity.
    """

    def __init__(
        self,
        *,
        broker: Broker,
        ledger: Ledger,
        signer: TokenSigner | None,
        limits: Limits,
        clock: Clock,
        account: str = "default",
        ambiguity_window: timedelta = timedelta(seconds=60),
        initial_equity: Decimal | None = Decimal(0),
    ) -> None:
        self.broker, self.ledger, self.signer, self.limits = broker, ledger, signer, limits
        self.clock, self.account = clock, account
        self.ambiguity_window = ambiguity_window
        self.initial_equity = initial_equity
        self.reconciled = False
        self._send_lock = threading.Lock()

    @property
    def venue(self) -> str:
        return self.broker.venue

    # -- risk state ---------------------------------------------------------------------
    def risk_state(self) -> RiskState:
        record = self.ledger.load_risk_state(self.venue, account=self.account)
        if record is None:
            return RiskState.start(self.initial_equity or Decimal(0), self.clock.now())
        return decode_state(record.payload)

    def _read_in(self, conn: Connection, first_equity: Decimal | None = None) -> RiskState:
        record = self.ledger.read_risk_state_in(conn, self.venue, account=self.account)
        if record is None:
            start = self.initial_equity
            if start is None:  # a real account: its first mark is where the breakers start
                start = first_equity if first_equity is not None else Decimal(0)
            return RiskState.start(start, self.clock.now())
        return decode_state(record.payload)

    def _transition(
        self,
        kind: AuditKind,
        payload: Mapping[str, Any],
        change: Callable[[RiskState], RiskState],
        first_equity: Decimal | None = None,
    ) -> RiskState:
        """Audit ``kind`` and apply ``change`` to the persisted state in one transaction.
        ``change`` may raise to refuse; then nothing is written."""
        result: list[RiskState] = []

        def guard(conn: Connection) -> None:
            new = change(self._read_in(conn, first_equity))
            self.ledger.write_risk_state_in(
                conn, self.venue, new.trading_state.value, encode_state(new), account=self.account
            )
            result.append(new)

        self.ledger.audit.append(kind, payload, at=self.clock.now(), guard=guard)
        return result[0]

    def mark_to_market(self, equity: Decimal) -> RiskState:
        """Feed mark-to-market equity (open positions included) to the breakers."""
        now = self.clock.now()
        before = self.risk_state()
        fresh = self.initial_equity is None and self._unsaved()
        if fresh:  # a real account's first mark: the breakers start from its equity
            before = RiskState.start(equity, now)
        after = on_equity(before, equity, now, self.limits)
        if after == before and not fresh:
            return before
        payload = {"event": "mark", "equity": str(equity), "to": after.to_dict()}
        return self._transition(
            AuditKind.STATE_CHANGE, payload, lambda s: on_equity(s, equity, now, self.limits),
            first_equity=equity,
        )  # fmt: skip

    def _unsaved(self) -> bool:
        return self.ledger.load_risk_state(self.venue, account=self.account) is None

    # -- sending ------------------------------------------------------------------------
    def submit(self, approved: Approved) -> SubmitResult:
        """Send exactly the approved order, once. See the module docstring for the steps."""
        with self._send_lock:
            if not self.reconciled:
                raise NotReconciledError(
                    "the executor has not reconciled with the venue; run startup()"
                )
            order, cid = approved.order, approved.client_order_id
            self._require_valid(approved)
            try:
                record = self.ledger.record_order_pending(order, cid)
            except DuplicateOrderError as dup:
                return SubmitResult(self.resolve(dup.existing), "known")
            self._permit(approved, record)
            self.ledger.update_order(cid, OrderStatus.SENT)
            result = self._send(BrokerOrder.from_intent(order, cid), record)
        self._cancel_if_halted(result.order)
        return result

    def _require_valid(self, approved: Approved) -> None:
        now = self.clock.now()
        current = self.limits.limits_hash()
        ok = (
            self.signer is not None
            and approved.limits_hash == current
            and self.signer.verify(
                approved.token, approved.order, approved.client_order_id, current, now
            )
        )
        if not ok:
            if self.signer is None:
                why = "this executor has no token key: it can halt and cancel, never send"
            elif approved.limits_hash != current:
                why = "limits changed since approval"
            else:
                why = "token invalid or expired for this exact order"
            self.ledger.audit.append(
                AuditKind.ORDER_REFUSED,
                {"client_order_id": approved.client_order_id, "reason": why},
                at=now,
            )
            raise InvalidApprovalError(f"order {approved.client_order_id} not sent: {why}")

    def _permit(self, approved: Approved, record: OrderRecord) -> None:
        now = self.clock.now()
        position = self._position(record.symbol)

        def change(state: RiskState) -> RiskState:
            if state.trading_state is TradingState.HALTED:
                raise TradingHaltedError(f"trading is halted ({state.halted_reason})")
            if state.trading_state is TradingState.REDUCING and not is_reducing(
                approved.order, position
            ):
                raise TradingHaltedError("trading is REDUCING: only exposure-reducing orders")
            late = send_time_violations(approved, state, self.limits, now)
            if late:
                raise SendRefusedError("; ".join(v.message for v in late))
            return on_order_submitted(state, approved, now)

        try:
            self._transition(AuditKind.ORDER_SENT, approved.to_dict(), change)
        except (TradingHaltedError, SendRefusedError) as exc:
            self.ledger.audit.append(
                AuditKind.ORDER_REFUSED, {"client_order_id": record.client_order_id,
                                          "reason": str(exc)}, at=now,
            )  # fmt: skip
            self.ledger.update_order(record.client_order_id, OrderStatus.CANCELED, error=str(exc))
            raise

    def _send(self, order: BrokerOrder, record: OrderRecord) -> SubmitResult:
        cid = order.client_order_id
        try:
            state = self.broker.submit(order)
        except VenueDuplicateError:
            # The venue already has this id open: an earlier attempt got through.
            return SubmitResult(self.resolve(self._get(cid)), "known")
        except AmbiguousOutcomeError as exc:
            self.ledger.audit.append(
                AuditKind.AMBIGUOUS, {"client_order_id": cid, "error": str(exc)},
                at=self.clock.now(),
            )  # fmt: skip
            self.ledger.update_order(cid, OrderStatus.UNKNOWN, error=str(exc))
            if isinstance(exc, SubmitThrottledError):
                return SubmitResult(self._get(cid), "unknown")
            return SubmitResult(self.resolve(self._get(cid)), "unknown")
        except RejectedError as exc:
            self.ledger.audit.append(
                AuditKind.REJECT, {"client_order_id": cid, "error": str(exc)}, at=self.clock.now()
            )
            return SubmitResult(
                self.ledger.update_order(cid, OrderStatus.REJECTED, error=str(exc)), "rejected"
            )
        return SubmitResult(self.apply(state), "accepted")

    # -- what the venue says ------------------------------------------------------------
    def apply(self, state: OrderState) -> OrderRecord:
        """Record a venue report: fills first (idempotent), then the status.

        A report of a working status for an order the ledger already holds as final is
        stale, not a resurrection: e.g. the kill switch cancelled the order at the venue
        while the send's own acknowledgement ("open") was still on its way back. Its
        fills are booked; the final status stays."""
        self.record_fills(state.fills)
        current = self.ledger.get_order(state.client_order_id)
        if current is not None and current.status.is_final and not state.status.is_final:
            self.ledger.audit.append(
                AuditKind.ACK,
                {"client_order_id": state.client_order_id, "status": state.status.value,
                 "stale": True, "kept": current.status.value},
                at=self.clock.now(),
            )  # fmt: skip
            return current
        self.ledger.audit.append(
            AuditKind.ACK,
            {"client_order_id": state.client_order_id, "status": state.status.value,
             "venue_order_id": state.venue_order_id, "filled_qty": str(state.filled_qty)},
            at=self.clock.now(),
        )  # fmt: skip
        return self.ledger.update_order(
            state.client_order_id, state.status, venue_order_id=state.venue_order_id,
            filled_qty=state.filled_qty, avg_fill_price=state.avg_price,
        )  # fmt: skip

    def record_fills(self, fills: Iterable[Fill]) -> int:
        """Book executions; a fill reported twice is booked once. A fill that closes a
        position (to flat, or through zero) feeds that trade's net P&L to the
        consecutive-loss cooldown. Returns the number of new fills."""
        new = 0
        for fill in fills:
            self.ledger.audit.append(
                AuditKind.FILL, fill.model_dump(mode="json"), at=self.clock.now()
            )
            result = self.ledger.record_fill(fill)
            if result.duplicate:
                continue
            new += 1
            after = result.position.quantity
            before = after - fill.quantity * fill.side.sign
            if before != 0 and (after == 0 or (after > 0) != (before > 0)):
                self._trade_closed(fill.symbol)
        return new

    def _trade_closed(self, symbol: Symbol) -> None:
        pnl = closed_trade_pnl(self.ledger.fills(symbol=symbol))
        now = self.clock.now()
        payload = {"event": "trade_closed", "symbol": str(symbol), "pnl": str(pnl)}
        self._transition(
            AuditKind.STATE_CHANGE, payload,
            lambda s: on_trade_closed(s, pnl, now, self.limits),
        )  # fmt: skip

    def resolve(self, record: OrderRecord) -> OrderRecord:
        """Find out what became of an order by asking the venue; never re-send."""
        if record.status is OrderStatus.PENDING_SEND:
            return self.ledger.update_order(
                record.client_order_id, OrderStatus.CANCELED,
                error="never sent: the process stopped before sending",
            )  # fmt: skip
        if record.status.is_final:
            return record
        try:
            state = self.broker.fetch_order(record.client_order_id, record.symbol)
        except UnavailableError:
            return record  # stays as it is; resolve_unknown() asks again later
        if state is not None:
            return self.apply(state)
        age = self.clock.now() - record.updated_at
        if record.status in (OrderStatus.SENT, OrderStatus.UNKNOWN) and age > self.ambiguity_window:
            return self.ledger.update_order(
                record.client_order_id, OrderStatus.REJECTED,
                error=f"not at the venue {age} after sending: it never arrived",
            )  # fmt: skip
        return record

    def resolve_unknown(self) -> list[OrderRecord]:
        """Query the venue for every order whose outcome we do not know."""
        pending = self.ledger.orders(
            [OrderStatus.SENT, OrderStatus.UNKNOWN, OrderStatus.PENDING_SEND], venue=self.venue
        )
        return [self.resolve(r) for r in pending]

    def sync(self) -> list[OrderRecord]:
        """Refresh every working order from the venue: first the complete list of
        executions (an order query may report none), then each order's status."""
        working = self.ledger.working_orders(venue=self.venue)
        by_symbol: dict[Symbol, datetime] = {}
        for record in working:
            since = by_symbol.get(record.symbol, record.created_at)
            by_symbol[record.symbol] = min(since, record.created_at)
        known = {r.client_order_id for r in working}
        for symbol, since in by_symbol.items():
            try:
                fills = self.broker.fills_since(since, symbol)
            except UnavailableError:
                continue  # statuses below still refresh; fills come on the next sync
            self.record_fills(f for f in fills if f.order_id in known)
        return [self.resolve(self._get(r.client_order_id)) for r in working]

    # -- kill switch --------------------------------------------------------------------
    def halt(self, reason: str, *, operator: str) -> HaltReport:
        """Set HALTED first (nothing is sent after that), then cancel every working order.

        If the audit log cannot take the entry (its tables are damaged, or it is keyed
        and this ledger was opened without the key), HALTED is still saved in the risk
        state, which every send checks; the report says so (``audited`` False)."""
        now = self.clock.now()
        payload = {"event": "risk.halt", "operator": operator, "reason": reason}
        try:
            state = self._transition(
                AuditKind.STATE_CHANGE, payload, lambda s: halt_state(s, reason, now)
            )
        except (AuditChainError, SQLAlchemyError) as exc:
            return self._halt_unaudited(reason, now, exc)
        report = HaltReport(state)
        for record in self.ledger.working_orders(venue=self.venue):
            self._cancel(record, report)
        return report

    def _halt_unaudited(self, reason: str, now: datetime, exc: Exception) -> HaltReport:
        state = halt_state(self.risk_state(), reason, now)
        self.ledger.save_risk_state(
            self.venue, state.trading_state.value, encode_state(state), account=self.account
        )
        why = f"not cancelled: the audit log cannot record the request ({exc})"
        failed = [(r.client_order_id, why) for r in self.ledger.working_orders(venue=self.venue)]
        return HaltReport(state, failed=failed, audited=False)

    def resume(self, reason: str, *, operator: str, equity: Decimal | None = None) -> RiskState:
        """Back to ACTIVE: the only way out of HALTED or REDUCING, with a reason."""
        now = self.clock.now()
        _, record = resume_state(self.risk_state(), reason, now, operator=operator, equity=equity)
        return self._transition(
            AuditKind.HUMAN_ACTION, record,
            lambda s: resume_state(s, reason, now, operator=operator, equity=equity)[0],
        )  # fmt: skip

    def _cancel(self, record: OrderRecord, report: HaltReport) -> None:
        cid = record.client_order_id
        if record.status is OrderStatus.PENDING_SEND:
            self.ledger.update_order(cid, OrderStatus.CANCELED, error="halted before sending")
            report.canceled.append(cid)
            return
        self.ledger.audit.append(
            AuditKind.CANCEL_REQUESTED, {"client_order_id": cid}, at=self.clock.now()
        )
        try:
            state = self.broker.cancel(cid, record.symbol)
        except NotFoundError:
            # The venue does not know it (yet): find out what became of it instead.
            if self.resolve(record).status.is_final:
                report.canceled.append(cid)
            else:
                report.failed.append((cid, "not found at the venue yet; run resolve later"))
            return
        except (UnavailableError, RejectedError) as exc:
            report.failed.append((cid, str(exc)))
            return
        self.apply(state)
        report.canceled.append(cid)

    def _cancel_if_halted(self, record: OrderRecord) -> None:
        if not record.status.is_working:
            return
        state = self.risk_state()
        if state.trading_state is TradingState.HALTED:
            self._cancel(record, HaltReport(state))

    # -- helpers ------------------------------------------------------------------------
    def _get(self, cid: str) -> OrderRecord:
        record = self.ledger.get_order(cid)
        assert record is not None, cid
        return record

    def _position(self, symbol: Symbol) -> Decimal:
        for pos in self.ledger.positions(venue=self.venue):
            if pos.symbol == symbol:
                return Decimal(pos.quantity)
        return Decimal(0)


def closed_trade_pnl(fills: list[FillRecord]) -> Decimal:
    """Net P&L (realised minus fees) of the last round trip in ``fills`` (one symbol,
    in time order): from the last fill that opened the position from flat to the fill
    that closed it. Replayed from the ledger, so it survives restarts."""
    if not fills:
        return Decimal(0)
    position = Position(symbol=fills[0].symbol, quantity=Decimal(0))
    pnl = Decimal(0)
    for record in fills:
        if position.quantity == 0:
            pnl = Decimal(0)  # a new round trip starts here
        fill = Fill(
            order_id=record.client_order_id, fill_id=record.fill_id, symbol=record.symbol,
            side=record.side, quantity=record.quantity, price=record.price, fee=record.fee,
            timestamp=record.ts,
        )  # fmt: skip
        position, realised = position.apply(fill)
        pnl += realised - _fee_in_quote(record)
    return pnl


def _fee_in_quote(record: FillRecord) -> Decimal:
    """Venues may charge the fee in the asset received (the base on a buy); anything
    else (e.g. BNB) has no price here and is left out."""
    currency = record.fee_currency.upper()
    if currency == record.symbol.base:
        return record.fee * record.price
    if currency in {record.symbol.quote or "", "USD"}:
        return record.fee
    return Decimal(0)
