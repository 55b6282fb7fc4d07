"""Orders, fills and positions: the record the executor relies on after a crash."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.ledger import (
    ConflictingFillError,
    DuplicateOrderError,
    IllegalTransitionError,
    Ledger,
    LedgerError,
    UnknownOrderError,
)
from core.types import Fill, OrderIntent, OrderStatus, OrderType, Side
from tests.core.ledger.ledger_support import T0

S = OrderStatus
_ids = itertools.count(1)


def intent(
    symbol: str = "BTC/USDT", side: Side = Side.BUY, qty: str = "2", **kw: object
) -> OrderIntent:
    return OrderIntent(
        symbol=symbol,
        side=side,
        quantity=Decimal(qty),
        order_type=OrderType.LIMIT,
        limit_price=Decimal("100"),
        created_at=T0,
        **kw,
    )


def fill(
    order_id: str,
    qty: str,
    price: str = "100",
    *,
    fill_id: str | None = None,
    symbol: str = "BTC/USDT",
    side: Side = Side.BUY,
) -> Fill:
    return Fill(
        order_id=order_id,
        fill_id=fill_id or f"f{next(_ids)}",
        symbol=symbol,
        side=side,
        quantity=Decimal(qty),
        price=Decimal(price),
        fee=Decimal("0.1"),
        timestamp=T0,
    )


def test_pending_order_is_recorded_before_sending_and_walks_its_lifecycle(ledger: Ledger) -> None:
    order = ledger.record_order_pending(intent(), "c-1")
    assert order.status is S.PENDING_SEND and order.filled_qty == 0
    assert [o.client_order_id for o in ledger.working_orders()] == ["c-1"]

    ledger.update_order("c-1", S.SENT)
    ledger.update_order("c-1", S.OPEN, venue_order_id="V-77")
    ledger.record_fill(fill("c-1", "0.5", "99"))
    ledger.record_fill(fill("c-1", "1.5", "101"))

    done = ledger.get_order("c-1")
    assert done is not None
    assert (done.status, done.filled_qty, done.venue_order_id) == (S.FILLED, Decimal(2), "V-77")
    assert done.avg_fill_price == Decimal("100.5")
    assert ledger.working_orders() == []
    assert ledger.orders(S.FILLED, symbol="BTC/USDT") == [done]


@pytest.mark.parametrize("final", [S.FILLED, S.CANCELED, S.REJECTED, S.EXPIRED])
@pytest.mark.parametrize("later", [S.SENT, S.OPEN, S.PARTIALLY_FILLED, S.UNKNOWN, S.PENDING_SEND])
def test_a_final_order_never_goes_back_to_working(
    ledger: Ledger, final: OrderStatus, later: OrderStatus
) -> None:
    ledger.record_order_pending(intent(), "c-final")
    ledger.update_order("c-final", final)
    with pytest.raises(IllegalTransitionError, match="final"):
        ledger.update_order("c-final", later)
    assert ledger.get_order("c-final").status is final  # type: ignore[union-attr]


def test_illegal_moves_are_refused_and_stale_reports_do_not_move_an_order_back(
    ledger: Ledger,
) -> None:
    ledger.record_order_pending(intent(), "c-2")
    ledger.record_fill(fill("c-2", "1"))  # the fill report beat the "open" ack
    assert ledger.update_order("c-2", S.OPEN).status is S.PARTIALLY_FILLED
    with pytest.raises(IllegalTransitionError, match="partially_filled to rejected"):
        ledger.update_order("c-2", S.REJECTED)
    with pytest.raises(IllegalTransitionError, match="only new orders are pending"):
        ledger.update_order("c-2", S.PENDING_SEND)


def test_an_unknown_order_is_resolved_by_what_the_venue_says(ledger: Ledger) -> None:
    ledger.record_order_pending(intent(), "c-amb")
    ledger.update_order("c-amb", S.UNKNOWN, error="timeout after 10 s")
    assert [o.client_order_id for o in ledger.working_orders()] == ["c-amb"]
    resolved = ledger.update_order("c-amb", S.OPEN, venue_order_id="V-1")
    assert resolved.status is S.OPEN and resolved.last_error == "timeout after 10 s"


def test_recording_the_same_client_order_id_twice_keeps_one_order(ledger: Ledger) -> None:
    first = ledger.record_order_pending(intent(), "c-dup")
    ledger.update_order("c-dup", S.SENT)
    with pytest.raises(DuplicateOrderError) as caught:
        ledger.record_order_pending(intent(), "c-dup")
    assert caught.value.existing.status is S.SENT
    assert caught.value.existing.created_at == first.created_at
    with pytest.raises(DuplicateOrderError, match="different order fields"):
        ledger.record_order_pending(intent(qty="3"), "c-dup")
    assert len(ledger.orders()) == 1


def test_a_venue_order_id_once_set_cannot_be_replaced(ledger: Ledger) -> None:
    ledger.record_order_pending(intent(), "c-3")
    ledger.update_order("c-3", S.OPEN, venue_order_id="V-3")
    ledger.update_order("c-3", S.OPEN, venue_order_id="V-3")  # the same report again
    with pytest.raises(LedgerError, match="already has venue order id"):
        ledger.update_order("c-3", S.OPEN, venue_order_id="V-other")


def test_a_duplicate_fill_report_changes_nothing(ledger: Ledger) -> None:
    ledger.record_order_pending(intent(), "c-4")
    first = ledger.record_fill(fill("c-4", "1", fill_id="X1"))
    again = ledger.record_fill(fill("c-4", "1", fill_id="X1"))
    assert (first.duplicate, again.duplicate) == (False, True)
    assert again.position.quantity == Decimal(1) and again.order.filled_qty == Decimal(1)
    assert len(ledger.fills("c-4")) == 1


def test_a_fill_id_reported_again_with_other_contents_is_refused(ledger: Ledger) -> None:
    ledger.record_order_pending(intent(), "c-5")
    ledger.record_fill(fill("c-5", "1", fill_id="X2"))
    with pytest.raises(ConflictingFillError, match="X2"):
        ledger.record_fill(fill("c-5", "1.5", fill_id="X2"))
    assert ledger.positions()[0].quantity == Decimal(1)


def test_a_fill_is_found_by_venue_order_id_and_must_match_the_order(ledger: Ledger) -> None:
    ledger.record_order_pending(intent(), "c-6")
    ledger.update_order("c-6", S.OPEN, venue_order_id="V-6")
    assert ledger.record_fill(fill("V-6", "1")).order.client_order_id == "c-6"
    with pytest.raises(LedgerError, match="is sell"):
        ledger.record_fill(fill("c-6", "1", side=Side.SELL))
    with pytest.raises(UnknownOrderError):
        ledger.record_fill(fill("nobody", "1"))
    with pytest.raises(UnknownOrderError):
        ledger.update_order("nobody", S.OPEN)


def test_a_late_fill_after_cancel_still_counts(ledger: Ledger) -> None:
    ledger.record_order_pending(intent(), "c-7")
    ledger.update_order("c-7", S.CANCELED)
    result = ledger.record_fill(fill("c-7", "0.5"))
    assert result.position.quantity == Decimal("0.5")
    assert result.order.status is S.CANCELED and "after the order was canceled" in str(
        result.order.last_error
    )


def test_positions_net_buys_and_sells_and_realise_pnl(ledger: Ledger) -> None:
    ledger.record_order_pending(intent(qty="2"), "b")
    ledger.record_order_pending(intent(side=Side.SELL, qty="3"), "s")
    ledger.record_fill(fill("b", "2", "100"))
    pos = ledger.record_fill(fill("s", "3", "110", side=Side.SELL)).position
    assert pos.quantity == Decimal(-1)
    assert pos.average_price == Decimal(110)  # flipped short at the fill price
    assert pos.realised_pnl == Decimal(20)
    assert pos.as_position().quantity == Decimal(-1)


_symbols = itertools.count(1)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    fills=st.lists(
        st.tuples(st.sampled_from(Side), st.integers(1, 10_000), st.integers(1, 500)),
        min_size=1,
        max_size=8,
    ),
    data=st.data(),
)
def test_position_equals_the_sum_of_unique_fills_whatever_the_arrival_order(
    ledger: Ledger, fills: list[tuple[Side, int, int]], data: st.DataObject
) -> None:
    symbol = f"P{next(_symbols)}/USD"  # a fresh position for every example
    reports: list[Fill] = []
    for i, (side, qty_units, price) in enumerate(fills):
        cid = f"{symbol}-{i}"
        ledger.record_order_pending(intent(symbol, side, qty="100"), cid)
        qty = f"{qty_units / 1000:.3f}"
        reports.append(fill(cid, qty, str(price), fill_id=f"{cid}-f", symbol=symbol, side=side))
    # Every fill at least once, some twice or three times, in any order.
    repeats = data.draw(st.lists(st.sampled_from(reports), max_size=10))
    arrivals = data.draw(st.permutations(reports + repeats))

    for report in arrivals:
        ledger.record_fill(report)

    expected = sum((f.quantity * f.side.sign for f in reports), Decimal(0))
    [position] = [p for p in ledger.positions() if p.symbol == symbol]
    assert position.quantity == expected
    for report in reports:
        assert ledger.get_order(report.order_id).filled_qty == report.quantity  # type: ignore[union-attr]
