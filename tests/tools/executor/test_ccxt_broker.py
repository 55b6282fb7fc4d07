"""CcxtBroker against the fake Binance when nothing goes wrong: what it sends, and how
the venue's answers become instruments, order states, balances and fills."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from core.clock import FixedClock
from core.errors import NotFoundError, RejectedError
from core.types import OrderStatus, Side, Symbol
from tests.fakes.binance_server import FakeBinance
from tests.tools.executor._support import (
    BTC,
    NOW,
    exchange_for,
    limit_order,
    market_buy,
    posts,
)
from tools.executor import Broker, BrokerOrder, CcxtBroker

ETH_BTC = Symbol("ETH/BTC")


def test_ccxt_broker_is_a_broker(broker: CcxtBroker) -> None:
    assert isinstance(broker, Broker)
    assert broker.venue == "binance"
    assert broker.ambiguity_window == timedelta(seconds=10)  # ccxt's binance recvWindow


def test_instruments_carry_tick_lot_and_minimums_from_exchange_info_filters(
    broker: CcxtBroker,
) -> None:
    instruments = broker.instruments()

    btc, eth_btc = instruments[BTC], instruments[ETH_BTC]
    assert (btc.tick_size, btc.lot_size, btc.min_qty, btc.min_notional) == (
        Decimal("0.01"), Decimal("0.00001"), Decimal("0.00001"), Decimal("5"),
    )  # fmt: skip
    assert (eth_btc.tick_size, eth_btc.lot_size, eth_btc.min_notional) == (
        Decimal("0.00001"), Decimal("0.0001"), Decimal("0.0001"),
    )  # fmt: skip
    assert btc.venue == "binance"
    assert all(s.quote in ("USDT", "BTC") for s in instruments)  # spot only, no futures


def test_submit_sends_the_client_order_id_and_maps_the_fill(
    broker: CcxtBroker, server: FakeBinance
) -> None:
    state = broker.submit(market_buy("tiller-1", "0.1"))

    (sent,) = [r for r in server.requests_to("/api/v3/order") if r.method == "POST"]
    assert b"newClientOrderId=tiller-1" in sent.body
    assert (state.client_order_id, state.status) == ("tiller-1", OrderStatus.FILLED)
    assert (state.filled_qty, state.avg_price) == (Decimal("0.1"), Decimal("30000"))
    (fill,) = state.fills
    assert (fill.order_id, fill.fill_id) == ("tiller-1", "binance:BTC/USDT:5001")
    # Binance charges the buyer's commission in the asset bought.
    assert (fill.fee, fill.fee_currency) == (Decimal("0.0001"), "BTC")
    assert state.venue_order_id == str(server.account.order("tiller-1").order_id)  # type: ignore[union-attr]


def test_limit_order_rests_open_and_partial_fills_map_to_partially_filled(
    broker: CcxtBroker, server: FakeBinance
) -> None:
    state = broker.submit(limit_order("lim-1", Side.BUY, "0.1", "29000.00"))
    assert state.status is OrderStatus.OPEN and state.filled_qty == 0 and state.avg_price is None

    server.account.fill("lim-1", "0.04", "29000")
    server.account.fill("lim-1", "0.04", "28900")
    queried = broker.fetch_order("lim-1", BTC)

    assert queried is not None
    assert queried.status is OrderStatus.PARTIALLY_FILLED
    assert (queried.filled_qty, queried.remaining) == (Decimal("0.08"), Decimal("0.02"))
    assert queried.avg_price == Decimal("28950")


def test_fetch_order_of_an_id_the_venue_never_saw_is_none(broker: CcxtBroker) -> None:
    assert broker.fetch_order("never-sent", BTC) is None


def test_cancel_maps_to_canceled_under_the_orders_own_client_id(
    broker: CcxtBroker, server: FakeBinance
) -> None:
    broker.submit(limit_order("lim-2", Side.BUY, "0.1", "25000"))
    server.account.fill("lim-2", "0.03")

    state = broker.cancel("lim-2", BTC)

    # Binance answers a cancel with clientOrderId = the cancel's own id; ours must stay.
    assert state.client_order_id == "lim-2"
    assert (state.status, state.filled_qty) == (OrderStatus.CANCELED, Decimal("0.03"))
    assert server.account.locked("USDT") == 0  # the venue released the rest


def test_cancel_of_a_filled_order_returns_its_final_state(broker: CcxtBroker) -> None:
    broker.submit(market_buy("mkt-1"))

    state = broker.cancel("mkt-1", BTC)

    assert state.status is OrderStatus.FILLED


def test_cancel_of_an_unknown_order_raises_not_found(broker: CcxtBroker) -> None:
    with pytest.raises(NotFoundError):
        broker.cancel("never-sent", BTC)


def test_open_orders_lists_working_orders_of_every_symbol(
    broker: CcxtBroker, server: FakeBinance
) -> None:
    server.account.deposit("ETH", "5")
    broker.submit(limit_order("a", Side.BUY, "0.1", "20000"))
    broker.submit(limit_order("b", Side.SELL, "1", "0.07", symbol=ETH_BTC))
    broker.submit(market_buy("c"))

    everything = {s.client_order_id: s for s in broker.open_orders()}
    only_btc = broker.open_orders(BTC)

    assert set(everything) == {"a", "b"}
    assert everything["b"].symbol == ETH_BTC and everything["b"].side is Side.SELL
    assert [s.client_order_id for s in only_btc] == ["a"]


def test_balances_are_free_amounts_parsed_exactly_as_decimal(
    broker: CcxtBroker, server: FakeBinance
) -> None:
    server.account.deposit("ETH", "1.23456789")
    broker.submit(limit_order("lock", Side.BUY, "1", "20000"))  # locks 20,000 USDT

    balances = broker.balances()

    assert balances["ETH"] == Decimal("1.23456789")
    assert balances["USDT"] == Decimal("80000")
    assert all(isinstance(v, Decimal) for v in balances.values())
    assert "SOL" not in balances  # zero balances are left out


def test_checks_that_fail_before_sending_never_reach_the_venue(
    broker: CcxtBroker, server: FakeBinance
) -> None:
    off_lot = market_buy("x1", "0.123456")
    off_tick = limit_order("x2", Side.BUY, "0.1", "29000.001")
    unknown = market_buy("x3", symbol=Symbol("DOGE/USDT"))
    other_venue = BrokerOrder(client_order_id="x4", symbol=BTC, side=Side.BUY, quantity=1)

    for order in (off_lot, off_tick, unknown, other_venue):
        with pytest.raises(RejectedError):
            broker.submit(order)

    assert posts(server) == 0


def test_fills_since_lists_each_trade_once_in_time_order(
    broker: CcxtBroker, server: FakeBinance, clock: FixedClock
) -> None:
    broker.submit(limit_order("p", Side.BUY, "0.3", "29000"))
    first = server.account.fill("p", "0.1")
    server.now += timedelta(minutes=5)
    server.account.fill("p", "0.2")
    clock.set(server.now)
    server.account.report_twice(first.trade_id)  # the venue reports one fill twice
    server.account.trades_out_of_order = True  # and lists trades newest first

    fills = broker.fills_since(NOW - timedelta(hours=1), BTC)

    assert [f.quantity for f in fills] == [Decimal("0.1"), Decimal("0.2")]
    assert len({f.fill_id for f in fills}) == 2
    assert sum(f.quantity for f in fills) == Decimal("0.3")
    assert {f.order_id for f in fills} == {"p"}


def test_fills_since_walks_more_than_a_day_in_24_hour_windows(
    broker: CcxtBroker, server: FakeBinance, clock: FixedClock
) -> None:
    broker.submit(market_buy("day0"))
    server.now += timedelta(days=3)  # Binance serves at most 24 h of trades per request
    broker.submit(market_buy("day3"))
    clock.set(server.now)

    fills = broker.fills_since(NOW - timedelta(minutes=1), BTC)

    assert [f.order_id for f in fills] == ["day0", "day3"]


def test_fills_since_names_orders_placed_by_an_earlier_process(
    broker: CcxtBroker, server: FakeBinance, clock: FixedClock
) -> None:
    broker.submit(market_buy("before-restart"))
    restarted = CcxtBroker(exchange_for(server), clock=clock)  # knows no venue order ids

    (fill,) = restarted.fills_since(NOW, BTC)

    assert fill.order_id == "before-restart"


def test_sandbox_mode_trades_the_test_network_urls(server: FakeBinance, clock: FixedClock) -> None:
    exchange = exchange_for(server, sandbox=True)
    broker = CcxtBroker(exchange, clock=clock)

    state = broker.submit(market_buy("sandboxed"))

    assert exchange.isSandboxModeEnabled
    assert state.status is OrderStatus.FILLED
    # In sandbox mode ccxt asks for no margin pairs or currency lists (testnet has none).
    assert not [r for r in server.requests if r.path.startswith("/sapi/")]
