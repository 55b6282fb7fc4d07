"""The forecaster contract shared by the transformer and the baselines."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from tools.forecaster._features import WARMUP, SeriesData


class QuantileForecaster(Protocol):
    """Forecasts quantiles of the next ``horizon`` cumulative log returns.

    Contract:
    - ``fit(data, train_end)`` may read features, returns and targets of rows
      ``< train_end`` only, and only targets that were known by bar ``train_end - 1``
      (``train_origins`` enforces both). Fitting twice with the same inputs and seed
      gives the same model.
    - ``predict(data, origins)`` returns an array (len(origins), horizon, len(quantiles)),
      sorted along the last axis, using features of rows ``<= origin`` only.
    - ``refit_every`` tells the walk-forward harness how many folds a fit may serve.
    """

    name: str
    horizon: int
    quantiles: tuple[float, ...]
    refit_every: int
    lookback: int

    def fit(self, data: SeriesData, train_end: int) -> None: ...

    def predict(self, data: SeriesData, origins: np.ndarray) -> np.ndarray: ...


def first_origin(lookback: int) -> int:
    """The first bar whose trailing ``lookback`` feature rows are all defined."""
    return WARMUP + max(lookback, 1) - 1


def train_origins(data: SeriesData, train_end: int, lookback: int) -> np.ndarray:
    """Origins a model trained on rows ``< train_end`` may learn from: every target
    step ``t + h`` must itself lie before ``train_end`` (no label from the test window)."""
    last = train_end - 1 - data.horizon
    origins = np.arange(first_origin(lookback), last + 1)
    if len(origins) < 10:
        raise ValueError(
            f"training window of {train_end} bars leaves {len(origins)} usable examples "
            f"(warm-up {WARMUP}, lookback {lookback}, horizon {data.horizon}); use more history"
        )
    return origins
