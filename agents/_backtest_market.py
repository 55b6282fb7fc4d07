"""The market side of an agent backtest: when the agent decides, the bars that reach the
paper broker between decisions, the account as its fills leave it, and the curve
statistics. None of this is visible to the agent: it only ever sees what the graph's
nodes read from the store and the knowledge base at its clock's ``as_of``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd

from core.errors import DataError
from core.types import Bar, Fill, Symbol, Timeframe
from tools.executor import PaperBroker, assets_of


@dataclass(frozen=True)
class Plan:
    """Decision times (each exactly a bar's close) and the final mark (the close of the
    window's last bar, after every decision, so each decision has a next bar to fill on)."""

    decisions: list[datetime]
    final: datetime


def plan(
    index: pd.DatetimeIndex, timeframe: Timeframe, start: datetime, end: datetime,
    every: timedelta, what: str,
) -> Plan:  # fmt: skip
    """Decide at the first bar close of the window, then at the first close at or after
    each further ``every`` (a gap in the data never yields two decisions at one close)."""
    opens = index[(index >= pd.Timestamp(start)) & (index <= pd.Timestamp(end))]
    if len(opens) < 2:
        have = f"{index[0]:%Y-%m-%d} → {index[-1]:%Y-%m-%d}" if len(index) else "nothing"
        raise DataError(
            f"fewer than two {timeframe} bars of {what} open between {start:%Y-%m-%d} and "
            f"{end:%Y-%m-%d} (stored: {have}); widen --start/--end"
        )
    closes = [t.to_pydatetime() + timeframe.delta for t in opens]
    candidates, final = closes[:-1], closes[-1]
    decisions: list[datetime] = []
    target = candidates[0]
    position = 0
    while True:
        while position < len(candidates) and candidates[position] < target:
            position += 1
        if position == len(candidates):
            break
        decisions.append(candidates[position])
        while target <= candidates[position]:
            target += every
    return Plan(decisions, final)


class Feed:
    """Replays stored bars into the paper broker, each once and in order, up to a time:
    the broker fills an order only from bars that opened after it was sent."""

    def __init__(self, frame: pd.DataFrame, symbol: Symbol, timeframe: Timeframe,
                 first_close: datetime) -> None:  # fmt: skip
        self.frame = frame
        self.symbol = symbol
        self.timeframe = timeframe
        closes = frame.index + pd.Timedelta(timeframe.delta)
        # Nothing can be working before the first decision: start at the bar it sees.
        self._next = int(closes.searchsorted(pd.Timestamp(first_close), side="left"))
        self._closes = closes

    def advance(self, broker: PaperBroker, until: datetime) -> list[Fill]:
        """Feed every bar that has closed by ``until``; returns the fills they made."""
        fills: list[Fill] = []
        stop = int(self._closes.searchsorted(pd.Timestamp(until), side="right"))
        for i in range(self._next, stop):
            fills.extend(broker.on_bar(self.bar(i)))
        self._next = max(self._next, stop)
        return fills

    def bar(self, i: int) -> Bar:
        row = self.frame.iloc[i]
        return Bar(
            symbol=self.symbol, timeframe=self.timeframe,
            open_time=self.frame.index[i].to_pydatetime(),
            open=_dec(row["open"]), high=_dec(row["high"]), low=_dec(row["low"]),
            close=_dec(row["close"]), volume=_dec(row["volume"]),
        )  # fmt: skip

    def close_at(self, close_time: datetime) -> Decimal:
        """The close of the bar that closed exactly at ``close_time``."""
        i = int(self._closes.searchsorted(pd.Timestamp(close_time), side="left"))
        if i >= len(self._closes) or self._closes[i] != pd.Timestamp(close_time):
            raise DataError(f"no bar of {self.symbol} closes at {close_time:%Y-%m-%d %H:%M}")
        return _dec(self.frame["close"].iloc[i])


def _dec(value: float) -> Decimal:
    return Decimal(str(value))


@dataclass
class Book:
    """The account's totals, kept from the broker's own fills (the broker reports only
    free balances; marking needs what is held, reserved or not)."""

    symbol: Symbol
    cash: Decimal
    quantity: Decimal = Decimal(0)
    fills: int = 0
    fees: Decimal = Decimal(0)
    traded: Decimal = Decimal(0)  # notional of every fill
    history: list[Fill] = field(default_factory=list)
    base: str = field(init=False)
    quote: str = field(init=False)

    def __post_init__(self) -> None:
        self.base, self.quote = assets_of(self.symbol)

    def apply(self, fills: Sequence[Fill]) -> None:
        for fill in fills:
            sign = fill.side.sign
            self.quantity += sign * fill.quantity
            self.cash -= sign * fill.quantity * fill.price + fill.fee
            self.fills += 1
            self.fees += fill.fee
            self.traded += fill.quantity * fill.price
            self.history.append(fill)

    def equity(self, price: Decimal) -> Decimal:
        return self.cash + self.quantity * price

    def totals(self) -> dict[str, Decimal]:
        return {self.quote: self.cash, self.base: self.quantity}


@dataclass(frozen=True)
class CurveFigures:
    total_return: float
    sharpe: float | None
    max_drawdown: float


def figures(curve: Sequence[Decimal], periods_per_year: float) -> CurveFigures:
    """Simple returns between points, Sharpe annualised with ``periods_per_year`` (risk-free
    rate 0), max drawdown as a fraction of the running peak."""
    values = np.array([float(v) for v in curve])
    total = float(values[-1] / values[0] - 1.0)
    returns = np.diff(values) / values[:-1]
    std = float(returns.std(ddof=1)) if len(returns) > 1 else 0.0
    sharpe = float(returns.mean() / std * math.sqrt(periods_per_year)) if std > 0 else None
    peaks = np.maximum.accumulate(values)
    drawdown = float(np.max((peaks - values) / peaks))
    return CurveFigures(total, sharpe, drawdown)
