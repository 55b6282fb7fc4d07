"""Walk-forward evaluation with no look-ahead.

The series is cut into an initial training window and consecutive test blocks. For the
fold whose test block starts at bar ``s``, a model is fitted on bars ``< s`` (expanding
window, or the last ``max_train`` bars when rolling) and forecasts every origin ``t`` in
``[s, s + test_size)``; features at ``t`` use bars ``<= t`` and the outcome uses bars
``t+1 .. t+H``. Every model is scored on the same origins. A model with
``refit_every = k`` is refitted only every k-th fold (the transformer is the costly one;
baselines refit every fold) and otherwise keeps forecasting with its last fit, which is
still trained on the past only.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from tools.forecaster._base import QuantileForecaster, first_origin
from tools.forecaster._features import SeriesData
from tools.forecaster._metrics import QUANTILES, score
from tools.forecaster._volatility import volatility_metrics


@dataclass(frozen=True)
class Fold:
    train_start: int
    train_end: int  # exclusive; also the first test origin
    test_end: int  # exclusive


@dataclass
class WalkForwardResult:
    folds: list[Fold]
    origins: np.ndarray
    outcomes: np.ndarray  # (n, H)
    forecasts: dict[str, np.ndarray]  # name → (n, H, Q)
    fit_seconds: dict[str, float] = field(default_factory=dict)

    def metrics(self, horizon_step: int | None = None) -> dict[str, dict[str, float]]:
        """Scores per model, pooled over all horizons or for one step (1-based)."""
        out = {}
        for name, q in self.forecasts.items():
            if horizon_step is None:
                out[name] = score(self.outcomes, q)
            else:
                h = horizon_step - 1
                out[name] = score(self.outcomes[:, h : h + 1], q[:, h : h + 1])
        return out

    def volatility(
        self, data: SeriesData, horizon_step: int | None = None
    ) -> dict[str, dict[str, float]]:
        """Volatility scores (QLIKE, variance ratio, log-variance MSE) of every model's
        quantile-derived sigma and of the trailing and EWMA baselines, on ``data`` (the
        series this result was computed on)."""
        return volatility_metrics(
            data, self.origins, self.outcomes, self.forecasts, QUANTILES, horizon_step
        )


def make_folds(
    n: int, horizon: int, initial_train: int, test_size: int, max_train: int | None = None
) -> list[Fold]:
    """Consecutive test blocks after ``initial_train`` bars; origins need ``horizon``
    future bars, so the last block stops ``horizon`` bars before the end."""
    if initial_train < 1 or test_size < 1:
        raise ValueError("initial_train and test_size must be positive")
    last_origin = n - 1 - horizon
    folds = []
    start = initial_train
    while start <= last_origin:
        end = min(start + test_size, last_origin + 1)
        train_start = 0 if max_train is None else max(0, start - max_train)
        folds.append(Fold(train_start, start, end))
        start = end
    if not folds:
        raise ValueError(f"{n} bars leave no test origin after {initial_train} training bars")
    return folds


def walk_forward(
    data: SeriesData,
    models: Sequence[QuantileForecaster],
    initial_train: int,
    test_size: int,
    max_train: int | None = None,
) -> WalkForwardResult:
    """Fit and forecast fold by fold; deterministic when every model is."""
    horizon = min(m.horizon for m in models)
    folds = make_folds(data.n, data.horizon, initial_train, test_size, max_train)
    start = max(first_origin(m.lookback) for m in models)
    preds: dict[str, list[np.ndarray]] = {m.name: [] for m in models}
    seconds = dict.fromkeys(preds, 0.0)
    fitted: dict[str, QuantileForecaster] = {}
    all_origins = []
    for k, fold in enumerate(folds):
        origins = np.arange(max(fold.train_end, start), fold.test_end)
        if not len(origins):
            continue
        view = _window(data, fold.train_start)
        for model in models:
            if k % model.refit_every == 0 or model.name not in fitted:
                began = time.perf_counter()
                fresh = copy.deepcopy(model)
                fresh.fit(view, fold.train_end - fold.train_start)
                fitted[model.name] = fresh
                seconds[model.name] += time.perf_counter() - began
            q = fitted[model.name].predict(view, origins - fold.train_start)
            preds[model.name].append(q[:, :horizon])
        all_origins.append(origins)
    origins_arr = np.concatenate(all_origins)
    return WalkForwardResult(
        folds=folds,
        origins=origins_arr,
        outcomes=data.targets[origins_arr, :horizon],
        forecasts={name: np.concatenate(p) for name, p in preds.items()},
        fit_seconds=seconds,
    )


def _window(data: SeriesData, start: int) -> SeriesData:
    """The series from bar ``start`` on (a rolling window); features are causal, so
    slicing after computing them is the same as computing them on the slice, except
    for the warm-up rows, which the slice keeps."""
    if start == 0:
        return data
    return SeriesData(
        index=data.index[start:],
        close=data.close[start:],
        returns=data.returns[start:],
        features=data.features[start:],
        targets=data.targets[start:],
    )
