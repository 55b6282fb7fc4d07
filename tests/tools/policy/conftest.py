from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread() -> None:
    torch.set_num_threads(1)


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


@pytest.fixture
def bars() -> pd.DataFrame:
    return make_bars()
