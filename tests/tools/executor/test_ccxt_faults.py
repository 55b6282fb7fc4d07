"""Broker-level faults over a real socket: every way a submit or a read can go wrong is
classified by what it means for the order, and the broker never sends an order twice.

Each submit test counts the new-order requests the venue received: exactly one per
``submit`` call, whatever the outcome.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.errors import (
    AmbiguousOutcomeError,
    RejectedError,
    ThrottledError,
    UnavailableError,
)
from core.types import OrderStatus, Side
from tests.fakes.binance_account import ORDER
from tests.fakes.binance_server import FakeBinance
from tests.tools.executor._support import BTC, TIMEOUT_MS, limit_order, market_buy, posts
from tools.executor import CcxtBroker, DuplicateOrderError, SubmitThrottledError

HELD_BACK_S = 3 * TIMEOUT_MS / 1000  # the fake answers after the client gave up


# -- ambiguous submits -------------------------------------------------------------------
def test_timeout_after_the_venue_accepted_is_ambiguous_and_the_order_is_found_and_fills(
    broker: CcxtBroker, server: FakeBinance
) -> None:
    server.account.accept_then_timeout(HELD_BACK_S)

    with pytest.raises(AmbiguousOutcomeError) as caught:
        broker.submit(limit_order("slow-1", Side.BUY, "0.1", "29000"))

    assert not isinstance(caught.value, RejectedError)
    assert posts(server) == 1
    found = broker.fetch_order("slow-1", BTC)  # resolve by client id, never by re-sending
    assert found is not None and found.status is OrderStatus.OPEN
    server.account.fill("slow-1")
    filled = broker.fetch_order("slow-1", BTC)
    assert filled is not None and filled.status is OrderStatus.FILLED
    assert [f.order_id for f in broker.fills_since(found.updated_at, BTC)] == ["slow-1"]
    assert posts(server) == 1


@pytest.mark.parametrize("placed", [True, False], ids=["placed", "not-placed"])
def test_status_unknown_minus_1007_is_ambiguous_and_a_query_settles_it(
    broker: CcxtBroker, server: FakeBinance, placed: bool
) -> None:
    server.account.status_unknown_next(placed=placed)

    with pytest.raises(AmbiguousOutcomeError, match="unknown"):
        broker.submit(market_buy("unknown-1"))

    assert posts(server) == 1
    found = broker.fetch_order("unknown-1", BTC)
    if placed:
        assert found is not None and found.status is OrderStatus.FILLED
    else:
        assert found is None  # the venue positively does not know the id


def test_server_error_on_submit_is_ambiguous(broker: CcxtBroker, server: FakeBinance) -> None:
    server.fail_next(1, 502, "<html>Bad Gateway</html>", path=ORDER, method="POST")

    with pytest.raises(AmbiguousOutcomeError):
        broker.submit(market_buy("gw-1"))

    assert posts(server) == 1


def test_rate_limit_on_submit_is_ambiguous_with_the_venues_retry_after(
    broker: CcxtBroker, server: FakeBinance
) -> None:
    server.account.throttle_next(retry_after_s=7)

    with pytest.raises(SubmitThrottledError) as caught:
        broker.submit(market_buy("busy-1"))

    assert isinstance(caught.value, AmbiguousOutcomeError)
    assert caught.value.retry_after_s == 7
    assert posts(server) == 1
    assert broker.fetch_order("busy-1", BTC) is None  # Binance placed nothing


def test_connection_refused_on_submit_is_ambiguous_not_a_rejection(
    broker: CcxtBroker, server: FakeBinance
) -> None:
    server.stop()

    with pytest.raises(AmbiguousOutcomeError):
        broker.submit(market_buy("offline-1"))


# -- definite refusals ---------------------------------------------------------------------
def test_insufficient_balance_is_a_definite_rejection_and_nothing_is_placed(
    broker: CcxtBroker, server: FakeBinance
) -> None:
    with pytest.raises(RejectedError, match="InsufficientFunds"):
        broker.submit(market_buy("big-1", "50"))  # 1.5M USDT against 100k

    assert posts(server) == 1
    assert server.account.order("big-1") is None
    assert broker.fetch_order("big-1", BTC) is None


def test_duplicate_client_id_at_the_venue_means_an_earlier_attempt_got_through(
    broker: CcxtBroker, server: FakeBinance
) -> None:
    server.account.accept_then_timeout(HELD_BACK_S)
    order = limit_order("dup-1", Side.BUY, "0.1", "29000")
    with pytest.raises(AmbiguousOutcomeError):
        broker.submit(order)

    # A caller that wrongly re-sent instead of querying is stopped by the venue ...
    with pytest.raises(DuplicateOrderError) as caught:
        broker.submit(order)

    assert isinstance(caught.value, RejectedError)
    # ... and the order to adopt is the one the first attempt placed.
    original = broker.fetch_order("dup-1", BTC)
    assert original is not None and original.status is OrderStatus.OPEN
    assert len([o for o in server.account.orders if o.client_id == "dup-1"]) == 1
    assert posts(server) == 2  # one per submit call: the broker itself never retried


def test_a_client_id_reused_after_its_order_filled_becomes_a_second_order(
    broker: CcxtBroker, server: FakeBinance
) -> None:
    """Binance keeps client ids unique among *open* orders only. Once the first order
    filled, the venue cannot stop a re-send: querying first is the executor's duty."""
    broker.submit(market_buy("reused-1"))

    broker.submit(market_buy("reused-1"))

    assert len([o for o in server.account.orders if o.client_id == "reused-1"]) == 2


# -- reads -------------------------------------------------------------------------------
def test_a_query_that_cannot_reach_the_venue_is_unavailable_not_none(
    broker: CcxtBroker, server: FakeBinance
) -> None:
    broker.submit(market_buy("q-1"))
    server.fail_next(1, 503, path=ORDER, method="GET")

    with pytest.raises(UnavailableError):
        broker.fetch_order("q-1", BTC)

    server.delay_next(1, HELD_BACK_S, path=ORDER, method="GET")
    with pytest.raises(UnavailableError):
        broker.fetch_order("q-1", BTC)


def test_rate_limited_reads_are_throttled(broker: CcxtBroker, server: FakeBinance) -> None:
    server.fail_next(3, 429, headers={"Retry-After": "2"})

    for read in (lambda: broker.fetch_order("any", BTC), broker.balances, broker.open_orders):
        with pytest.raises(ThrottledError, match="wait 2 s"):
            read()


def test_an_unreachable_cancel_is_unavailable_and_safe_to_repeat(
    broker: CcxtBroker, server: FakeBinance
) -> None:
    broker.submit(limit_order("c-1", Side.SELL, "0.5", "40000"))
    server.fail_next(1, 503, path=ORDER, method="DELETE")

    with pytest.raises(UnavailableError):
        broker.cancel("c-1", BTC)

    assert broker.cancel("c-1", BTC).status is OrderStatus.CANCELED
    assert server.account.free("BTC") == Decimal(2)
