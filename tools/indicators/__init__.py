"""Technical indicators as NumPy/numba kernels (NaN during warm-up, no look-ahead:
the value at t uses only inputs at or before t)."""

from tools.indicators._kernels import (
    atr,
    crosses_above,
    crosses_below,
    ema,
    realised_vol,
    roc,
    rolling_std,
    rsi,
    sma,
)

__all__ = [
    "atr",
    "crosses_above",
    "crosses_below",
    "ema",
    "realised_vol",
    "roc",
    "rolling_std",
    "rsi",
    "sma",
]
