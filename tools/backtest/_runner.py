"""Run a ``StrategySpec`` over bars."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from core.errors import DataError
from core.types import Symbol, Timeframe
from tools.backtest._kernel import N_TRADE_COLS, simulate
from tools.backtest._result import BacktestResult, SimResult, compute_metrics, trade_table
from tools.indicators import realised_vol
from tools.strategy import StrategySpec, signals
from tools.strategy._spec import VolatilityTarget


def periods_per_year(symbol: str, timeframe: str) -> float:
    """Crypto trades around the clock; equities about 252 days of 6.5 hours."""
    tf = Timeframe(timeframe)
    if Symbol(symbol).is_pair:
        return tf.periods_per_year()
    if tf.seconds >= 86400:
        return 252.0 * 86400 / tf.seconds * (7 / 5 if tf.seconds >= 604800 else 1)
    return 252.0 * 6.5 * 3600 / tf.seconds


def position_sizes(spec: StrategySpec, close: np.ndarray, ppy: float) -> np.ndarray:
    sizing = spec.sizing
    if isinstance(sizing, VolatilityTarget):
        vol = realised_vol(close, sizing.lookback) * math.sqrt(ppy)
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.minimum(sizing.target_vol / vol, sizing.max_fraction)
        return np.where(np.isfinite(frac), frac, 0.0)
    return np.array([sizing.fraction])


def run_arrays(
    spec: StrategySpec,
    bars: Mapping[str, np.ndarray],
    sig: Mapping[str, np.ndarray],
    ppy: float,
) -> SimResult:
    """The numeric core on plain arrays."""
    close = bars["close"]
    n = close.shape[0]
    # The kernel is compiled without bounds checks: check every length here instead.
    for name in ("open", "high", "low"):
        if bars[name].shape != (n,):
            raise ValueError(f"bars[{name!r}] has shape {bars[name].shape}, expected ({n},)")
    for name in ("entry", "exit", "short_entry", "short_exit"):
        if sig[name].shape != (n,) or sig[name].dtype != np.bool_:
            raise ValueError(f"signal {name!r} must be a bool array of length {n}")
    size = position_sizes(spec, close, ppy)
    off = np.nan
    max_trades = int(np.count_nonzero(sig["entry"]) + np.count_nonzero(sig["short_entry"])) + 1
    # Allocated here, not in the kernel: see tools.indicators for why.
    equity = np.empty(n)
    trades = np.full((max_trades, N_TRADE_COLS), np.nan)
    never = np.zeros(0, dtype=np.bool_)
    sig = {k: v if v.any() else never for k, v in sig.items()}  # skip unused arrays
    n_trades, fees, notional, stats = simulate(
        bars["open"], bars["high"], bars["low"], close,
        sig["entry"], sig["exit"], sig["short_entry"], sig["short_exit"], size,
        spec.fee_rate, spec.slippage,
        spec.stop_loss if spec.stop_loss is not None else off,
        spec.take_profit if spec.take_profit is not None else off,
        spec.trailing_stop if spec.trailing_stop is not None else off,
        float(spec.initial_cash), equity, trades,
    )  # fmt: skip
    return SimResult(equity, trades[:n_trades], fees, notional, stats)


def run_backtest(
    spec: StrategySpec, frame: pd.DataFrame, *, symbol: str, timeframe: str
) -> BacktestResult:
    """Backtest ``spec`` on a bar frame (as returned by ``BarStore.bars``)."""
    if len(frame) < 2:
        raise DataError(
            f"{symbol} {timeframe}: {len(frame)} bar(s) in the window; a backtest needs at least 2"
        )
    warmup = spec.warmup()
    if len(frame) <= warmup:
        raise DataError(
            f"{symbol} {timeframe}: {len(frame)} bars, but the strategy's indicators need "
            f"{warmup} bars to warm up; widen the date range or shorten the windows"
        )
    bars = {c: np.ascontiguousarray(frame[c].to_numpy(dtype="float64")) for c in frame.columns}
    ppy = periods_per_year(symbol, timeframe)
    sig = signals(spec, bars)
    sim = run_arrays(spec, bars, sig, ppy)
    equity = sim.equity
    index = pd.DatetimeIndex(frame.index)
    trades = trade_table(sim.trades, index)
    init = float(spec.initial_cash)
    metrics = compute_metrics(
        sim, init_cash=init, periods_per_year=ppy,
        bar_days=Timeframe(timeframe).seconds / 86400, open_times=index.as_unit("ns").asi8,
    )  # fmt: skip
    return BacktestResult(
        symbol=str(symbol),
        timeframe=str(timeframe),
        strategy=spec.name,
        start=index[0],
        end=index[-1],
        bars=len(frame),
        initial_cash=init,
        final_equity=float(equity[-1]),
        metrics=metrics,
        equity=pd.Series(equity, index=index, name="equity"),
        trades=trades,
        assumptions={
            "signals": "at each bar's close",
            "fills": "next bar's open, slippage against the order, fee on notional",
            "stops": "checked inside each bar; stop assumed before take-profit",
            "fee_rate": spec.fee_rate,
            "slippage": spec.slippage,
            "periods_per_year": ppy,
            "risk_free_rate": 0.0,
        },
    )
