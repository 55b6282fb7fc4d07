"""Baseline forecasters in the same harness as the transformer.

Each produces a point forecast of the h-step log return, and quantiles as the point
plus empirical quantiles of its own in-sample residuals (the median is the point
itself). They fit in milliseconds, so the walk-forward harness refits them every fold.
"""

from __future__ import annotations

import numpy as np

from tools.forecaster._base import train_origins
from tools.forecaster._features import SeriesData
from tools.forecaster._metrics import QUANTILES


class _ResidualQuantiles:
    """Shared machinery: subclasses define ``_points(data, origins) -> (n, H)``."""

    name = "baseline"
    refit_every = 1
    lookback = 1

    def __init__(self, horizon: int, quantiles: tuple[float, ...] = QUANTILES) -> None:
        self.horizon = horizon
        self.quantiles = quantiles
        self._offsets: np.ndarray | None = None

    def _fit_point(self, data: SeriesData, origins: np.ndarray) -> None:
        """Fit the point model on training origins (default: nothing to fit)."""

    def _points(self, data: SeriesData, origins: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def fit(self, data: SeriesData, train_end: int) -> None:
        origins = train_origins(data, train_end, lookback=self.lookback)
        self._fit_point(data, origins)
        resid = data.targets[origins, : self.horizon] - self._points(data, origins)
        offsets = np.quantile(resid, self.quantiles, axis=0).T  # (H, Q)
        offsets[:, self.quantiles.index(0.5)] = 0.0  # the median is the point forecast
        self._offsets = np.sort(offsets, axis=1)

    def predict(self, data: SeriesData, origins: np.ndarray) -> np.ndarray:
        if self._offsets is None:
            raise RuntimeError(f"{self.name}: call fit() before predict()")
        return self._points(data, origins)[..., None] + self._offsets[None]


class RandomWalk(_ResidualQuantiles):
    """The next price equals the last one: a zero log return at every horizon."""

    name = "random_walk"

    def _points(self, data: SeriesData, origins: np.ndarray) -> np.ndarray:
        return np.zeros((len(origins), self.horizon))


class HistoricalMean(_ResidualQuantiles):
    """Drift: ``h`` times the mean one-bar log return of the training window."""

    name = "historical_mean"

    def _fit_point(self, data: SeriesData, origins: np.ndarray) -> None:
        end = int(origins.max()) + 1
        self._mu = float(np.nanmean(data.returns[1:end]))

    def _points(self, data: SeriesData, origins: np.ndarray) -> np.ndarray:
        steps = np.arange(1, self.horizon + 1, dtype="float64")
        return np.tile(self._mu * steps, (len(origins), 1))


class LinearAR(_ResidualQuantiles):
    """Ridge regression of each h-step return on the last ``lags`` one-bar returns
    (closed form through ``numpy.linalg.lstsq`` on the augmented system)."""

    name = "linear_ar"

    def __init__(
        self, horizon: int, lags: int = 10, ridge: float = 1.0,
        quantiles: tuple[float, ...] = QUANTILES,
    ) -> None:  # fmt: skip
        super().__init__(horizon, quantiles)
        self.lags = lags
        self.ridge = ridge
        self.lookback = lags + 1  # returns[t - lags + 1] needs close[t - lags]

    def _design(self, data: SeriesData, origins: np.ndarray) -> np.ndarray:
        cols = [data.returns[origins - k] for k in range(self.lags)]
        return np.column_stack([np.ones(len(origins)), *cols])

    def _fit_point(self, data: SeriesData, origins: np.ndarray) -> None:
        x = self._design(data, origins)
        y = data.targets[origins, : self.horizon]
        scale = float(np.nanstd(x[:, 1:])) or 1.0
        # Ridge as least squares on [X; sqrt(lambda) I]; the intercept is not penalised.
        penalty = np.sqrt(self.ridge) * scale * np.eye(x.shape[1])[1:]
        x_aug = np.vstack([x, penalty])
        y_aug = np.vstack([y, np.zeros((penalty.shape[0], y.shape[1]))])
        self._coef, *_ = np.linalg.lstsq(x_aug, y_aug, rcond=None)

    def _points(self, data: SeriesData, origins: np.ndarray) -> np.ndarray:
        return self._design(data, origins) @ self._coef
