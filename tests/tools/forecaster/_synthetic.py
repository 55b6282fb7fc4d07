"""Synthetic bar series for forecaster tests."""

from __future__ import annotations

import numpy as np
import pandas as pd


def bars_from_returns(returns: np.ndarray, seed: int = 0) -> pd.DataFrame:
    """Daily OHLCV bars whose close-to-close log returns are ``returns``."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(returns))
    prev = np.concatenate([[100.0], close[:-1]])
    open_ = prev * np.exp(rng.normal(0, 0.001, len(close)))
    spread = np.abs(rng.normal(0, 0.005, len(close)))
    high = np.maximum(open_, close) * np.exp(spread)
    low = np.minimum(open_, close) * np.exp(-spread)
    volume = rng.lognormal(10, 0.3, len(close))
    index = pd.date_range("2015-01-01", periods=len(close), freq="D", tz="UTC", name="open_time")
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index
    )


def ar1_returns(n: int, phi: float, sigma: float = 0.01, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.normal(0, sigma, n)
    out = np.empty(n)
    out[0] = noise[0]
    for t in range(1, n):
        out[t] = phi * out[t - 1] + noise[t]
    return out
