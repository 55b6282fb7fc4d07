"""PaperBroker: fills from bars and quotes with the backtester's costs, venue-like
refusals, reserved balances, idempotent submits.

The look-ahead guarded against: an order filling at the open of a bar that had already
opened when the order was created.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from core.clock import FixedClock
from core.errors import ConfigError, NotFoundError, RejectedError
from core.types import Bar, Instrument, OrderStatus, OrderType, Quote, Side, Symbol
from tools.executor import Broker, BrokerOrder, FillModel, PaperBroker

T0 = datetime(2024, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
BTC = Symbol("BTC/USDT")
AAPL = Symbol("AAPL")
INSTRUMENTS = [
    Instrument(symbol=BTC, tick_size=Decimal("0.01"), lot_size=Decimal("0.001"),
               min_notional=Decimal("10")),
    Instrument(symbol=AAPL, tick_size=Decimal("0.01"), lot_size=Decimal(1)),
]  # fmt: skip
MODEL = FillModel(fee_rate=Decimal("0.001"), slippage=Decimal("0.0005"))


def bar(day: int, o: str, h: str, low: str, c: str, symbol: Symbol = BTC) -> Bar:
    return Bar(
        symbol=symbol, timeframe="1d", open_time=T0 + day * DAY, open=Decimal(o),
        high=Decimal(h), low=Decimal(low), close=Decimal(c), volume=Decimal(1),
    )  # fmt: skip


def order(
    cid: str, side: Side, qty: str, limit: str | None = None, symbol: Symbol = BTC
) -> BrokerOrder:
    return BrokerOrder(
        client_order_id=cid, symbol=symbol, side=side, quantity=Decimal(qty),
        order_type=OrderType.LIMIT if limit else OrderType.MARKET,
        limit_price=Decimal(limit) if limit else None,
    )  # fmt: skip


class Desk:
    """A paper broker whose clock sits at the close of the last bar it was shown."""

    def __init__(self, cash: dict[str, str] | None = None, ratio: str | None = None) -> None:
        self.clock = FixedClock(T0)
        funds = {k: Decimal(v) for k, v in (cash or {"USDT": "10000"}).items()}
        self.broker = PaperBroker(
            funds, INSTRUMENTS, MODEL, self.clock,
            partial_fill_ratio=Decimal(ratio) if ratio else None,
        )  # fmt: skip

    def show(self, b: Bar) -> list:  # type: ignore[type-arg]
        fills = self.broker.on_bar(b)
        self.clock.set(b.close_time)
        return fills


def test_paper_broker_is_a_broker() -> None:
    assert isinstance(Desk().broker, Broker)


def test_market_buy_fills_at_next_bar_open_with_slippage_and_fee() -> None:
    desk = Desk()
    desk.show(bar(0, "100", "101", "99", "100"))
    desk.broker.submit(order("b1", Side.BUY, "10"))

    (fill,) = desk.show(bar(1, "102", "103", "101", "102"))

    assert fill.price == Decimal("102") * Decimal("1.0005")
    assert fill.fee == fill.price * 10 * Decimal("0.001")
    assert (fill.timestamp, fill.fee_currency, fill.fill_id) == (T0 + DAY, "USDT", "b1-1")
    assert desk.broker.balances() == {
        "USDT": Decimal(10000) - fill.price * 10 - fill.fee, "BTC": Decimal(10),
    }  # fmt: skip
    state = desk.broker.fetch_order("b1", BTC)
    assert state is not None and state.status is OrderStatus.FILLED
    assert state.avg_price == fill.price


def test_an_order_never_fills_on_a_bar_that_opened_before_it_was_created() -> None:
    desk = Desk()
    desk.show(bar(0, "100", "101", "99", "100"))
    desk.broker.submit(order("b1", Side.BUY, "1"))

    # Bar 0 again (a late or repeated delivery): its open is history for this order.
    assert desk.broker.on_bar(bar(0, "100", "101", "99", "100")) == []
    assert desk.show(bar(1, "105", "106", "104", "105"))[0].price == Decimal(105) * MODEL.price(
        Side.BUY, Decimal(1)
    )


def test_market_sell_fills_below_the_open() -> None:
    desk = Desk({"BTC": "2"})
    desk.show(bar(0, "100", "101", "99", "100"))
    desk.broker.submit(order("s1", Side.SELL, "2"))

    (fill,) = desk.show(bar(1, "100", "101", "99", "100"))

    assert fill.price == Decimal("99.95")
    assert desk.broker.balances()["USDT"] == Decimal("199.9") - Decimal("0.1999")


def test_limit_buy_fills_at_the_limit_only_when_the_bar_reaches_it() -> None:
    desk = Desk()
    desk.show(bar(0, "100", "101", "99", "100"))
    desk.broker.submit(order("l1", Side.BUY, "1", limit="95.00"))

    assert desk.show(bar(1, "99", "100", "96", "97")) == []  # low 96 never reached 95
    (fill,) = desk.show(bar(2, "97", "98", "94", "96"))

    assert fill.price == Decimal(95)
    assert fill.timestamp == T0 + 3 * DAY  # stamped at the close: when it became knowable


def test_limit_buy_opening_through_the_limit_fills_at_the_open_but_never_above_the_limit() -> None:
    desk = Desk()
    desk.show(bar(0, "100", "101", "99", "100"))
    desk.broker.submit(order("gap", Side.BUY, "1", limit="95.00"))
    desk.broker.submit(order("edge", Side.BUY, "1", limit="90.00"))

    fills = desk.show(bar(1, "90", "91", "89", "90"))

    by_id = {f.order_id: f.price for f in fills}
    assert by_id["gap"] == Decimal("90") * Decimal("1.0005")  # better than its limit
    assert by_id["edge"] == Decimal(90)  # slippage capped at the limit


def test_limit_sell_fills_when_the_high_reaches_it() -> None:
    desk = Desk({"BTC": "1"})
    desk.show(bar(0, "100", "101", "99", "100"))
    desk.broker.submit(order("ls", Side.SELL, "1", limit="104.00"))

    assert desk.show(bar(1, "100", "103", "99", "102")) == []
    assert desk.show(bar(2, "102", "105", "101", "103"))[0].price == Decimal(104)


def test_partial_fills_take_a_ratio_of_what_remains_per_bar() -> None:
    desk = Desk(ratio="0.5")
    desk.show(bar(0, "100", "101", "99", "100"))
    desk.broker.submit(order("p1", Side.BUY, "1.001"))

    quantities: list[Decimal] = []
    for day in range(1, 30):
        quantities += [f.quantity for f in desk.show(bar(day, "100", "101", "99", "100"))]
        state = desk.broker.fetch_order("p1", BTC)
        assert state is not None
        if state.remaining == 0:
            break
        assert state.status is OrderStatus.PARTIALLY_FILLED
        assert state.filled_qty == sum(quantities)

    # 0.5 × remaining, rounded down to the 0.001 lot; the last sliver fills whole.
    assert quantities[:4] == [Decimal("0.5"), Decimal("0.25"), Decimal("0.125"), Decimal("0.063")]
    assert (sum(quantities), quantities[-1]) == (Decimal("1.001"), Decimal("0.001"))
    assert state.status is OrderStatus.FILLED
    assert [f.fill_id for f in state.fills][:2] == ["p1-1", "p1-2"]


def test_quotes_fill_buys_at_the_ask_and_sells_at_the_bid() -> None:
    desk = Desk({"USDT": "10000", "BTC": "1"})
    desk.broker.on_quote(Quote(symbol=BTC, timestamp=T0, last=Decimal(100)))
    desk.broker.submit(order("qb", Side.BUY, "1"))
    desk.broker.submit(order("qs", Side.SELL, "1"))

    quote = Quote(symbol=BTC, timestamp=T0 + timedelta(seconds=1), last=Decimal(100),
                  bid=Decimal("99.9"), ask=Decimal("100.1"))  # fmt: skip
    fills = {f.order_id: f for f in desk.broker.on_quote(quote)}

    assert fills["qb"].price == Decimal("100.1") * Decimal("1.0005")
    assert fills["qs"].price == Decimal("99.9") * Decimal("0.9995")
    assert fills["qb"].timestamp == quote.timestamp


def test_insufficient_balance_is_rejected_and_working_orders_hold_their_funds() -> None:
    desk = Desk({"USDT": "1000", "BTC": "1"})
    desk.show(bar(0, "100", "101", "99", "100"))

    with pytest.raises(RejectedError, match="insufficient USDT"):
        desk.broker.submit(order("too-big", Side.BUY, "10"))  # 1000 + slippage + fee
    with pytest.raises(RejectedError, match="insufficient BTC"):
        desk.broker.submit(order("naked", Side.SELL, "1.5"))  # spot: no shorting
    desk.broker.submit(order("half", Side.BUY, "5", limit="100.00"))
    with pytest.raises(RejectedError, match="insufficient USDT"):
        desk.broker.submit(order("other-half", Side.BUY, "5", limit="100.00"))

    assert desk.broker.balances()["USDT"] == Decimal(1000) - Decimal("500.5")
    assert desk.broker.fetch_order("too-big", BTC) is None  # refusals leave no order


def test_submitting_the_same_client_id_again_returns_the_order_without_a_second_one() -> None:
    desk = Desk()
    desk.show(bar(0, "100", "101", "99", "100"))
    first = desk.broker.submit(order("same", Side.BUY, "1"))
    free_after_first = desk.broker.balances()["USDT"]

    again = desk.broker.submit(order("same", Side.BUY, "1"))
    desk.show(bar(1, "100", "101", "99", "100"))

    assert again == first
    (fill,) = desk.broker.fills_since(T0, BTC)  # one order, one fill
    assert desk.broker.balances() == {
        "USDT": Decimal(10000) - fill.price - fill.fee, "BTC": Decimal(1),
    }  # fmt: skip
    assert free_after_first == desk.broker.balances()["USDT"]  # its funds were held once
    with pytest.raises(RejectedError, match="different order"):
        desk.broker.submit(order("same", Side.BUY, "2"))


def test_cancel_releases_the_reservation_and_a_final_order_stays_final() -> None:
    desk = Desk()
    desk.show(bar(0, "100", "101", "99", "100"))
    desk.broker.submit(order("rest", Side.BUY, "10", limit="50.00"))
    desk.broker.submit(order("done", Side.BUY, "1"))
    desk.show(bar(1, "100", "101", "99", "100"))

    canceled = desk.broker.cancel("rest", BTC)
    done = desk.broker.cancel("done", BTC)

    assert canceled.status is OrderStatus.CANCELED and canceled.filled_qty == 0
    assert done.status is OrderStatus.FILLED
    assert desk.broker.open_orders() == []
    assert (
        desk.broker.balances()["USDT"] == Decimal(10000) - done.fills[0].price - done.fills[0].fee
    )
    assert desk.show(bar(2, "40", "41", "39", "40")) == []  # a canceled order never fills
    with pytest.raises(NotFoundError):
        desk.broker.cancel("never", BTC)


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (order("u", Side.BUY, "1", symbol=Symbol("DOGE/USDT")), "not traded here"),
        (order("lot", Side.BUY, "0.0015"), "lot size 0.001; round it down to 0.001"),
        (order("tick", Side.BUY, "1", limit="99.995"), "tick size"),
        (order("small", Side.BUY, "0.05"), "below the minimum 10"),
        (order("ro", Side.BUY, "1").model_copy(update={"reduce_only": True}), "reduce-only"),
        (order("venue", Side.BUY, "1").model_copy(update={"venue": "binance"}), "venue"),
    ],
)
def test_orders_a_venue_would_refuse_are_rejected(bad: BrokerOrder, reason: str) -> None:
    desk = Desk()
    desk.show(bar(0, "100", "101", "99", "100"))

    with pytest.raises(RejectedError, match=reason):
        desk.broker.submit(bad)


def test_a_market_order_without_any_price_yet_is_rejected() -> None:
    with pytest.raises(RejectedError, match="no price for BTC/USDT"):
        Desk().broker.submit(order("blind", Side.BUY, "1"))


def test_a_market_buy_that_gaps_beyond_its_cash_fills_what_the_cash_pays_and_expires() -> None:
    desk = Desk({"USDT": "1000"})
    desk.show(bar(0, "100", "101", "99", "100"))
    desk.broker.submit(order("gap", Side.BUY, "9"))  # ~901 reserved at 100

    (fill,) = desk.show(bar(1, "200", "201", "199", "200"))

    state = desk.broker.fetch_order("gap", BTC)
    assert state is not None and state.status is OrderStatus.EXPIRED
    assert fill.quantity == Decimal("4.992")  # floor(1000 / (200 × 1.0005 × 1.001)) to 0.001
    assert desk.broker.balances()["USDT"] >= 0


def test_equities_trade_against_usd() -> None:
    desk = Desk({"USD": "1000"})
    desk.show(bar(0, "150", "151", "149", "150", symbol=AAPL))
    desk.broker.submit(order("a", Side.BUY, "2", symbol=AAPL))

    (fill,) = desk.show(bar(1, "150", "151", "149", "150", symbol=AAPL))

    assert fill.fee_currency == "USD"
    assert desk.broker.balances()["AAPL"] == Decimal(2)


def test_fill_ids_and_prices_are_the_same_on_a_replay() -> None:
    def run() -> list[tuple[str, Decimal]]:
        desk = Desk(ratio="0.3")
        desk.show(bar(0, "100", "101", "99", "100"))
        desk.broker.submit(order("r", Side.BUY, "3"))
        fills = [f for day in (1, 2, 3) for f in desk.show(bar(day, "101", "102", "100", "101"))]
        return [(f.fill_id, f.price) for f in fills]

    assert run() == run()


def test_fills_since_lists_fills_at_or_after_the_time() -> None:
    desk = Desk()
    desk.show(bar(0, "100", "101", "99", "100"))
    desk.broker.submit(order("f1", Side.BUY, "1"))
    desk.show(bar(1, "100", "101", "99", "100"))
    desk.broker.submit(order("f2", Side.BUY, "1"))
    desk.show(bar(2, "100", "101", "99", "100"))

    assert [f.order_id for f in desk.broker.fills_since(T0 + 2 * DAY, BTC)] == ["f2"]
    assert len(desk.broker.fills_since(T0, BTC)) == 2


def test_invalid_configuration_is_refused_with_a_hint() -> None:
    clock = FixedClock(T0)
    with pytest.raises(ConfigError, match="partial_fill_ratio"):
        PaperBroker({}, INSTRUMENTS, MODEL, clock, partial_fill_ratio=Decimal("1.5"))
    with pytest.raises(ConfigError, match="not negative"):
        PaperBroker({"USDT": Decimal(-1)}, INSTRUMENTS, MODEL, clock)
    with pytest.raises(ConfigError, match="fee_rate"):
        FillModel(fee_rate=Decimal("1.5"))
    assert FillModel(fee_rate=0.001).fee_rate == Decimal("0.001")  # type: ignore[arg-type]
