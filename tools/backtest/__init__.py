"""The backtester: signals at the close, fills at the next open, costs on every fill."""

from tools.backtest._result import METRIC_KEYS, BacktestResult
from tools.backtest._runner import periods_per_year, run_arrays, run_backtest
from tools.backtest._sweep import sweep, with_overrides

__all__ = [
    "METRIC_KEYS",
    "BacktestResult",
    "periods_per_year",
    "run_arrays",
    "run_backtest",
    "sweep",
    "with_overrides",
]
