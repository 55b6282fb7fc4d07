"""The executor against a fake Binance over real sockets: every approved intent becomes
at most one order at the venue, positions equal the sum of unique fills, and nothing is
sent without a valid approval or after a halt."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from core.clock import FixedClock
from core.ledger import Ledger, open_ledger
from core.types import OrderIntent, OrderStatus, Quote, Side
from policies.risk import (
    Approved,
    MarketView,
    PortfolioView,
    TokenSigner,
    TradingState,
    check,
    load_limits,
)
from tests.fakes.binance_server import FakeBinance
from tests.tools.executor._support import BTC, posts
from tools.executor import (
    BrokerOrder,
    CcxtBroker,
    Executor,
    InvalidApprovalError,
    NotReconciledError,
    TradingHaltedError,
    startup,
)

SIGNER = TokenSigner(b"executor-test-key-0123456789abcd")
LIMITS = load_limits({"allowed_symbols": ["BTC/USDT"], "allowed_venues": ["binance"]})
PRICE = Decimal(30_000)


@pytest.fixture
def ledger(tmp_path: Path, clock: FixedClock) -> Iterator[Ledger]:
    with open_ledger(f"sqlite:///{tmp_path / 'ledger.sqlite3'}", clock=clock) as led:
        yield led


def new_executor(broker: CcxtBroker, ledger: Ledger, clock: FixedClock) -> Executor:
    executor = Executor(
        broker=broker, ledger=ledger, signer=SIGNER, limits=LIMITS, clock=clock,
        ambiguity_window=timedelta(seconds=30), initial_equity=Decimal(100_000),
    )  # fmt: skip
    startup(executor)
    return executor


@pytest.fixture
def executor(
    broker: CcxtBroker, ledger: Ledger, clock: FixedClock, server: FakeBinance
) -> Executor:
    server.account.set_price("BTCUSDT", PRICE)
    return new_executor(broker, ledger, clock)


def approve(
    executor: Executor, intent_id: str, qty: str = "0.01", side: Side = Side.BUY
) -> Approved:
    now = executor.clock.now()
    proposal = OrderIntent(
        intent_id=intent_id, symbol=BTC, side=side, quantity=Decimal(qty), venue="binance",
        created_at=now,
    )  # fmt: skip
    market = MarketView(
        quotes={BTC: Quote(symbol=BTC, timestamp=now, last=PRICE)},
        instruments=executor.broker.instruments(),
    )
    positions = {p.symbol: p.quantity for p in executor.ledger.positions()}
    book = PortfolioView(cash=Decimal(100_000), positions=positions, currency="USDT")
    decision = check(proposal, book, market, LIMITS, executor.risk_state(), now, signer=SIGNER)
    assert isinstance(decision, Approved), decision
    return decision


def audit_kinds(ledger: Ledger) -> list[str]:
    return [e.kind for e in ledger.audit.tail(10_000)]


def test_approved_order_is_sent_once_recorded_and_filled(
    executor: Executor, server: FakeBinance, ledger: Ledger
) -> None:
    approved = approve(executor, "i-1")
    result = executor.submit(approved)
    assert result.outcome == "accepted"
    assert result.order.status is OrderStatus.OPEN  # a protected limit rests at the venue
    assert posts(server) == 1
    again = executor.submit(approved)
    assert again.outcome == "known" and posts(server) == 1
    server.account.fill(approved.client_order_id)
    (order,) = executor.sync()
    assert order.status is OrderStatus.FILLED
    assert ledger.positions()[0].quantity == Decimal("0.01")
    kinds = audit_kinds(ledger)
    assert kinds.index("order_sent") < kinds.index("ack") < kinds.index("fill")
    assert ledger.audit.verify().ok


def test_order_without_a_valid_token_is_never_sent(executor: Executor, server: FakeBinance) -> None:
    approved = approve(executor, "i-2")
    bigger = approved.order.model_copy(update={"quantity": Decimal("0.02")})
    with pytest.raises(InvalidApprovalError, match="token invalid"):
        executor.submit(dataclasses.replace(approved, order=bigger))
    executor.clock.advance(LIMITS.approval_ttl + timedelta(seconds=1))  # type: ignore[attr-defined]
    with pytest.raises(InvalidApprovalError):
        executor.submit(approved)
    assert posts(server) == 0
    assert "order_refused" in audit_kinds(executor.ledger)


def test_timeout_on_an_accepted_order_resolves_by_query_never_by_resending(
    executor: Executor, server: FakeBinance
) -> None:
    server.account.accept_then_timeout(1.0)
    approved = approve(executor, "i-3")
    result = executor.submit(approved)
    assert result.outcome == "unknown"
    time.sleep(1.2)  # whatever the first query saw, the venue has answered by now
    executor.resolve_unknown()
    resolved = executor.ledger.get_order(approved.client_order_id)
    assert resolved is not None and resolved.status is OrderStatus.OPEN
    assert posts(server) == 1
    assert server.account.order(approved.client_order_id) is not None


@pytest.mark.parametrize("placed", [True, False])
def test_status_unknown_reply_is_resolved_by_client_order_id(
    executor: Executor, server: FakeBinance, placed: bool
) -> None:
    server.account.status_unknown_next(placed=placed)
    approved = approve(executor, "i-4")
    result = executor.submit(approved)
    if placed:
        assert result.outcome == "unknown" and result.order.status is OrderStatus.OPEN
    else:
        assert result.order.status is OrderStatus.UNKNOWN  # absent so far: not proof yet
        executor.clock.advance(timedelta(seconds=31))
        (resolved,) = executor.resolve_unknown()
        assert resolved.status is OrderStatus.REJECTED and "never arrived" in str(
            resolved.last_error
        )
    assert posts(server) == 1


def test_definite_rejection_is_recorded_and_not_retried(
    executor: Executor, server: FakeBinance
) -> None:
    body = {"code": -2010, "msg": "Account has insufficient balance for requested action."}
    server.fail_next(1, 400, body, path="/api/v3/order", method="POST")
    result = executor.submit(approve(executor, "i-5"))
    assert result.outcome == "rejected" and result.order.status is OrderStatus.REJECTED
    assert posts(server) == 1


def test_rate_limited_submit_is_ambiguous_and_resolved_without_resending(
    executor: Executor, server: FakeBinance
) -> None:
    server.account.throttle_next(retry_after_s=1)
    result = executor.submit(approve(executor, "i-6"))
    assert result.order.status is OrderStatus.UNKNOWN
    executor.clock.advance(timedelta(seconds=31))
    (resolved,) = executor.resolve_unknown()
    assert resolved.status is OrderStatus.REJECTED
    assert posts(server) == 1


def test_partial_duplicate_and_out_of_order_fills_sum_to_the_position(
    executor: Executor, server: FakeBinance, ledger: Ledger
) -> None:
    approved = approve(executor, "i-7", qty="0.03")
    executor.submit(approved)
    cid = approved.client_order_id
    first = server.account.fill(cid, qty="0.01")
    server.account.report_twice(first.trade_id)
    (order,) = executor.sync()
    assert order.status is OrderStatus.PARTIALLY_FILLED and order.filled_qty == Decimal("0.01")
    server.account.trades_out_of_order = True
    server.account.fill(cid, qty="0.005")
    server.account.fill(cid)
    executor.sync()
    executor.sync()  # a second pass over the same reports changes nothing
    final = ledger.get_order(cid)
    assert final is not None and final.status is OrderStatus.FILLED
    unique = {f.fill_id: f.quantity for f in ledger.fills(cid)}
    assert sum(unique.values()) == Decimal("0.03") == ledger.positions()[0].quantity


def test_killed_between_persisting_and_sending_leaves_no_order_and_never_sends(
    executor: Executor, server: FakeBinance, ledger: Ledger, broker: CcxtBroker
) -> None:
    approved = approve(executor, "i-8")
    ledger.record_order_pending(approved.order, approved.client_order_id)  # then the crash
    restarted = new_executor(broker, ledger, executor.clock)  # type: ignore[arg-type]
    record = ledger.get_order(approved.client_order_id)
    assert record is not None and record.status is OrderStatus.CANCELED
    assert restarted.submit(approved).outcome == "known"
    assert posts(server) == 0


def test_killed_between_sending_and_the_ack_adopts_the_venue_order(
    executor: Executor, server: FakeBinance, ledger: Ledger, broker: CcxtBroker
) -> None:
    approved = approve(executor, "i-9")
    cid = approved.client_order_id
    ledger.record_order_pending(approved.order, cid)
    ledger.update_order(cid, OrderStatus.SENT)
    broker.submit(BrokerOrder.from_intent(approved.order, cid))  # reached the venue; crash
    new_executor(broker, ledger, executor.clock)  # type: ignore[arg-type]
    record = ledger.get_order(cid)
    assert record is not None and record.status is OrderStatus.OPEN
    assert posts(server) == 1


def test_startup_refuses_to_trade_with_an_order_the_ledger_does_not_know(
    executor: Executor, server: FakeBinance, ledger: Ledger, broker: CcxtBroker
) -> None:
    broker.submit(
        BrokerOrder(
            client_order_id="manual-1", symbol=BTC, side=Side.BUY, quantity=Decimal("0.01"),
            order_type="limit", limit_price=Decimal(29_000), venue="binance",
        )
    )  # fmt: skip
    with pytest.raises(NotReconciledError, match="manual-1"):
        new_executor(broker, ledger, executor.clock)  # type: ignore[arg-type]


def test_halt_cancels_working_orders_and_blocks_further_sends(
    executor: Executor, server: FakeBinance, ledger: Ledger
) -> None:
    executor.submit(approve(executor, "i-10"))
    pending = approve(executor, "i-11", qty="0.02")
    report = executor.halt("test halt", operator="tester")
    assert report.state.trading_state is TradingState.HALTED and len(report.canceled) == 1
    with pytest.raises(TradingHaltedError):
        executor.submit(pending)
    assert posts(server) == 1
    assert executor.broker.open_orders() == []
    executor.resume("checked", operator="tester")
    assert executor.risk_state().trading_state is TradingState.ACTIVE
    kinds = audit_kinds(ledger)
    assert "human_action" in kinds and kinds.count("state_change") >= 1


def test_kill_switch_during_a_burst_of_approvals_stops_every_later_send(
    executor: Executor, server: FakeBinance, ledger: Ledger
) -> None:
    import threading

    approvals = [approve(executor, f"burst-{i}", qty=f"0.0{i + 1:02d}") for i in range(12)]
    sent = threading.Semaphore(0)
    outcomes: list[str] = []

    def sender(batch: list[Approved]) -> None:
        for approved in batch:
            try:
                outcomes.append(executor.submit(approved).outcome)
                sent.release()
            except TradingHaltedError:
                outcomes.append("halted")

    threads = [threading.Thread(target=sender, args=(approvals[i::3],)) for i in range(3)]
    for t in threads:
        t.start()
    for _ in range(4):
        sent.acquire(timeout=10)
    report = executor.halt("burst test", operator="tester")
    for t in threads:
        t.join(timeout=30)
    entries = ledger.audit.tail(10_000)
    halt_seq = next(e.seq for e in entries if e.kind == "state_change"
                    and e.payload.get("event") == "risk.halt")  # fmt: skip
    sent_seqs = [e.seq for e in entries if e.kind == "order_sent"]
    assert sent_seqs and max(sent_seqs) < halt_seq  # nothing permitted after the halt
    assert posts(server) == len(sent_seqs) >= 4
    assert "halted" in outcomes  # the burst really was cut off
    # An order permitted just before the halt was cancelled by its own sender.
    assert executor.broker.open_orders() == []
    assert report.state.trading_state is TradingState.HALTED


def test_a_broken_audit_chain_at_start_up_halts_trading(
    executor: Executor, ledger: Ledger, broker: CcxtBroker
) -> None:
    from core.ledger import AuditChainError
    from tests.core.ledger.ledger_support import RawSql

    executor.submit(approve(executor, "i-12"))
    RawSql(ledger).tamper("UPDATE audit_entries SET payload = '{}' WHERE seq = 1")
    with pytest.raises(AuditChainError, match="seq 1"):
        new_executor(broker, ledger, executor.clock)  # type: ignore[arg-type]
    assert executor.risk_state().trading_state is TradingState.HALTED
    assert "audit chain broken" in str(executor.risk_state().halted_reason)


def test_approvals_decided_together_cannot_jointly_break_the_rate_limit(
    executor: Executor, server: FakeBinance, ledger: Ledger
) -> None:
    from tools.executor import SendRefusedError

    # 25 approvals decided against the same state: each passes the 20-a-minute limit alone.
    approvals = [approve(executor, f"rate-{i}", qty=f"0.0{i + 10}") for i in range(25)]
    sent, refused = 0, 0
    for approved in approvals:
        try:
            executor.submit(approved)
            sent += 1
        except SendRefusedError:
            refused += 1
    assert (sent, refused) == (LIMITS.max_orders_per_minute, 25 - LIMITS.max_orders_per_minute)
    assert posts(server) == LIMITS.max_orders_per_minute


def test_a_stale_open_report_after_a_halt_cancel_keeps_the_order_cancelled(
    executor: Executor, ledger: Ledger
) -> None:
    # Arrange: an accepted order, and the "open" acknowledgement its send received.
    acks = []
    submit = executor.broker.submit

    def recording_submit(order):  # type: ignore[no-untyped-def]
        state = submit(order)
        acks.append(state)
        return state

    executor.broker.submit = recording_submit  # type: ignore[method-assign]
    result = executor.submit(approve(executor, "stale-ack"))
    assert result.order.status.is_working
    executor.halt("race test", operator="tester")  # cancels it at the venue
    # Act: the send's acknowledgement arrives after the cancel (the burst race).
    record = executor.apply(acks[0])
    # Assert: the final status is kept, recorded as a stale report, and nothing is open.
    assert record.status is OrderStatus.CANCELED
    assert executor.broker.open_orders() == []
    stale = [e for e in ledger.audit.tail(50) if e.kind == "ack" and e.payload.get("stale")]
    assert stale and stale[-1].payload["kept"] == "canceled"
