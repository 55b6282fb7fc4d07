"""The paper broker and the backtester share one fill model: fed the same bars and the
same orders, the paper broker fills at the backtester's prices and charges its fees.

The backtest decides at a bar's close and fills at the next open; the paper broker is
driven the same way (submit at the close, fill on the next bar), in Decimal.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from core.clock import FixedClock
from core.types import Bar, Fill, Instrument, Side, Symbol
from tools.backtest import run_backtest
from tools.executor import BrokerOrder, FillModel, PaperBroker
from tools.strategy import parse_spec

BTC = Symbol("BTC/USDT")
FEE, SLIP = 0.002, 0.001
OPENS = [99, 100, 102, 99, 97, 102, 104, 106, 101, 98, 97]
CLOSES = [99, 101, 102, 98, 97, 103, 105, 99, 99, 97, 96]


def frame() -> pd.DataFrame:
    o, c = np.array(OPENS, float), np.array(CLOSES, float)
    index = pd.date_range("2024-01-01", periods=len(o), freq="D", tz="UTC").as_unit("ns")
    data = {"open": o, "high": np.maximum(o, c), "low": np.minimum(o, c), "close": c}
    return pd.DataFrame({**data, "volume": 1.0}, index=index)


def backtest_trades() -> pd.DataFrame:
    spec = parse_spec(
        {
            "entry": {"op": "gt", "left": "close", "right": 100},
            "exit": {"op": "lt", "left": "close", "right": 100},
            "initial_cash": 1000,
            "fee_rate": FEE,
            "slippage": SLIP,
        }
    )
    result = run_backtest(spec, frame(), symbol=str(BTC), timeframe="1d")
    assert len(result.trades) == 2  # two round trips: the comparison covers buys and sells
    return result.trades


def bars() -> list[Bar]:
    return [
        Bar(symbol=BTC, timeframe="1d", open_time=t.to_pydatetime(), open=Decimal(str(r.open)),
            high=Decimal(str(r.high)), low=Decimal(str(r.low)), close=Decimal(str(r.close)),
            volume=Decimal(1))
        for t, r in frame().iterrows()
    ]  # fmt: skip


def paper_fills(trades: pd.DataFrame) -> dict[str, Fill]:
    """Replay the backtest's orders through a paper broker: each is submitted at the
    close before the bar it filled on, for exactly the backtest's quantity."""
    series = bars()
    clock = FixedClock(series[0].open_time)
    lot = Instrument(symbol=BTC, lot_size=Decimal("1e-20"), tick_size=Decimal("1e-20"))
    model = FillModel(fee_rate=FEE, slippage=SLIP)  # floats read as their decimal text
    broker = PaperBroker({"USDT": Decimal(5000)}, [lot], model, clock)
    orders: dict[pd.Timestamp, BrokerOrder] = {}
    for n, trade in enumerate(trades.itertuples()):
        qty = Decimal(repr(trade.quantity))
        for side, when in ((Side.BUY, trade.entry_time), (Side.SELL, trade.exit_time)):
            cid = f"t{n}-{side.value}"
            orders[when] = BrokerOrder(client_order_id=cid, symbol=BTC, side=side, quantity=qty)
    fills: dict[str, Fill] = {}
    for b in series:
        clock.set(b.open_time)  # = the previous bar's close
        if b.open_time in orders:
            broker.submit(orders[b.open_time])
        fills.update((f.order_id, f) for f in broker.on_bar(b))
    return fills


def test_paper_fills_reproduce_backtest_prices_and_fees() -> None:
    trades = backtest_trades()

    fills = paper_fills(trades)

    for n, trade in enumerate(trades.itertuples()):
        buy, sell = fills[f"t{n}-buy"], fills[f"t{n}-sell"]
        assert (buy.timestamp, sell.timestamp) == (trade.entry_time, trade.exit_time)
        assert float(buy.price) == pytest.approx(trade.entry_price, rel=1e-12)
        assert float(sell.price) == pytest.approx(trade.exit_price, rel=1e-12)
        assert float(buy.fee + sell.fee) == pytest.approx(trade.fees, rel=1e-12)
        pnl = (sell.price - buy.price) * buy.quantity - buy.fee - sell.fee
        assert float(pnl) == pytest.approx(trade.pnl, rel=1e-9)


def test_fill_model_matches_the_kernel_formula_on_both_sides() -> None:
    model = FillModel(fee_rate=Decimal("0.001"), slippage=Decimal("0.01"))

    assert model.price(Side.BUY, Decimal(100)) == Decimal(101)
    assert model.price(Side.SELL, Decimal(100)) == Decimal(99)
    assert model.fee(Decimal("2500")) == Decimal("2.5")
    assert model.fee(Decimal("-2500")) == Decimal("2.5")  # a fee is never a rebate


def test_the_two_backtest_fills_do_not_coincide_by_accident() -> None:
    # Guards the parity test against a degenerate series (no slippage effect, no fee).
    trades = backtest_trades()
    assert (trades["entry_price"] != trades["entry_price"].round()).all()
    assert (trades["fees"] > 0).all()
    assert timedelta(days=1) <= (trades["exit_time"] - trades["entry_time"]).min()
