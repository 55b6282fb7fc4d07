"""Synthetic bars for the policy tests (a module of its own: the forecaster tests' conftest
is also importable as ``conftest``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tools.policy import ForecastConfig


def make_bars(n: int = 200, seed: int = 0, *, flat: bool = False) -> pd.DataFrame:
    """Daily OHLCV bars: a random walk, or a constant price when ``flat``."""
    rng = np.random.default_rng(seed)
    returns = np.zeros(n) if flat else rng.normal(0.0005, 0.02, n)
    close = 100.0 * np.exp(np.cumsum(returns))
    prev = np.concatenate([[100.0], close[:-1]])
    open_ = prev if flat else prev * np.exp(rng.normal(0, 0.002, n))
    spread = np.abs(rng.normal(0, 0.005, n))
    index = pd.date_range("2020-01-01", periods=n, freq="D", tz="UTC", name="open_time")
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * np.exp(spread),
            "low": np.minimum(open_, close) * np.exp(-spread),
            "close": close,
            "volume": rng.lognormal(10, 0.3, n),
        },
        index=index,
    )


def tiny_forecast() -> ForecastConfig:
    """A forecaster for the forecast channels that fits in a fraction of a second."""
    return ForecastConfig(window=16, d_model=8, epochs=2)
