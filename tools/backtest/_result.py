"""Backtest results: metrics, equity curve and trade list, JSON-ready."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tools.backtest._kernel import (
    REASON_OPEN,
    REASONS,
    T_DIR,
    T_ENTRY_IDX,
    T_ENTRY_PX,
    T_EXIT_IDX,
    T_EXIT_PX,
    T_FEES,
    T_PNL,
    T_QTY,
    T_REASON,
)

SIDES = ("long", "short")

METRIC_KEYS = (
    "total_return",
    "annualized_return",
    "volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "max_drawdown_duration_bars",
    "max_drawdown_duration_days",
    "calmar",
    "n_trades",
    "win_rate",
    "exposure",
    "turnover",
    "fees_paid",
)


@dataclass(frozen=True)
class BacktestResult:
    symbol: str
    timeframe: str
    strategy: str
    start: pd.Timestamp
    end: pd.Timestamp
    bars: int
    initial_cash: float
    final_equity: float
    metrics: dict[str, float | int | None]
    equity: pd.Series
    trades: pd.DataFrame
    assumptions: dict[str, Any]

    def to_json(self, *, include_equity: bool = False) -> dict[str, Any]:
        trades = [
            {k: _jsonable(v) for k, v in row.items()} for row in self.trades.to_dict("records")
        ]
        out: dict[str, Any] = {
            "symbol": self.symbol,
            "timeframe": self.timeframe,
            "strategy": self.strategy,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "bars": self.bars,
            "initial_cash": self.initial_cash,
            "final_equity": self.final_equity,
            **{k: _jsonable(v) for k, v in self.metrics.items()},
            "trades": trades,
            "assumptions": self.assumptions,
        }
        if include_equity:
            out["equity_curve"] = [[t.isoformat(), float(v)] for t, v in self.equity.items()]
        return out


def _jsonable(value: Any) -> Any:
    if value is pd.NaT:
        return None  # an open trade has no exit time yet (JSON had the string "NaT")
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, float | np.floating):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def trade_table(raw: np.ndarray, index: pd.DatetimeIndex) -> pd.DataFrame:
    entry_idx = raw[:, T_ENTRY_IDX].astype(np.int64)
    exit_raw = raw[:, T_EXIT_IDX]
    is_open = np.isnan(exit_raw)
    exit_idx = np.where(is_open, len(index) - 1, exit_raw).astype(np.int64)
    exit_time = pd.Series(index[exit_idx], dtype=index.dtype).mask(is_open)
    entry_value = raw[:, T_QTY] * raw[:, T_ENTRY_PX]
    return pd.DataFrame(
        {
            "entry_time": index[entry_idx],
            "exit_time": exit_time,
            "side": pd.Categorical.from_codes((raw[:, T_DIR] < 0).astype(np.int8), SIDES),
            "quantity": raw[:, T_QTY],
            "entry_price": raw[:, T_ENTRY_PX],
            "exit_price": raw[:, T_EXIT_PX],
            "fees": raw[:, T_FEES],
            "pnl": raw[:, T_PNL],
            "return": raw[:, T_PNL] / entry_value,
            "exit_reason": pd.Categorical.from_codes(raw[:, T_REASON].astype(np.int64), REASONS),
            "bars_held": exit_idx - entry_idx + 1,
        }
    )


@dataclass(frozen=True)
class SimResult:
    """What the kernel produced: the equity curve (marked at each close), the raw trade
    table (see ``trade_table``), costs, and the equity statistics of the same pass."""

    equity: np.ndarray
    trades: np.ndarray
    fees_paid: float
    notional: float
    stats: tuple[float, float, float, float, int, int]


def longest_drawdown_days(
    equity: np.ndarray, open_times: np.ndarray, *, init_cash: float, bar_days: float
) -> float:
    """The longest time spent below a previous peak, in calendar days: from the open of
    the first bar under water to the close of the last one. Weekends, holidays and missing
    bars inside a drawdown count, which a count of bars times the bar length misses for
    equities (a drawdown over a weekend is 2 daily bars but 4 days). ``open_times`` are
    int64 nanoseconds since the epoch, one per bar."""
    if len(equity) == 0:
        return 0.0
    peaks = np.maximum.accumulate(np.r_[init_cash, equity])[1:]
    under = (equity < peaks).astype(np.int8)
    edges = np.diff(np.r_[0, under, 0])
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    if len(starts) == 0:
        return 0.0
    spans_ns = open_times[ends] - open_times[starts] + bar_days * 86_400e9
    return float(spans_ns.max() / 86_400e9)


def compute_metrics(
    sim: SimResult,
    *,
    init_cash: float,
    periods_per_year: float,
    bar_days: float,
    open_times: np.ndarray | None = None,
) -> dict[str, float | int | None]:
    """Per-bar returns annualised with ``periods_per_year``; risk-free rate 0. With the
    bars' ``open_times`` (int64 ns) the drawdown duration in days is calendar days;
    without, bars times ``bar_days`` (exact only for markets that never close)."""
    equity, raw_trades = sim.equity, sim.trades
    fees_paid, notional = sim.fees_paid, sim.notional
    n = len(equity)
    mean, std, downside, max_dd, dd_len, exposed = sim.stats
    final = float(equity[-1]) if n else init_cash
    total_return = final / init_cash - 1.0
    years = n / periods_per_year
    if final <= 0:
        annual = -1.0
    else:
        annual = (final / init_cash) ** (1.0 / years) - 1.0 if years > 0 else 0.0
    closed_pnl = raw_trades[:, T_PNL][raw_trades[:, T_REASON] != REASON_OPEN]
    win_rate = float(np.mean(closed_pnl > 0)) if len(closed_pnl) else None
    mean_equity = float(np.mean(equity)) if n else 0.0
    root = math.sqrt(periods_per_year)
    return {
        "total_return": total_return,
        "annualized_return": annual,
        "volatility": std * root,
        "sharpe": mean / std * root if std > 0 else None,
        "sortino": mean / downside * root if downside > 0 else None,
        "max_drawdown": max_dd,
        "max_drawdown_duration_bars": int(dd_len),
        "max_drawdown_duration_days": float(dd_len * bar_days)
        if open_times is None
        else longest_drawdown_days(equity, open_times, init_cash=init_cash, bar_days=bar_days),
        "calmar": annual / max_dd if max_dd > 0 else None,
        "n_trades": len(raw_trades),
        "win_rate": win_rate,
        "exposure": exposed / n if n else 0.0,
        "turnover": notional / mean_equity if mean_equity > 0 else None,
        "fees_paid": fees_paid,
    }
