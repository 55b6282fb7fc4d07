"""Point-in-time inference: the quantile forecast a model makes at the last closed bar."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from core.errors import ConfigError, DataError
from core.types import Symbol, Timeframe
from tools.forecaster._features import WARMUP, prepare
from tools.forecaster._model import PatchTSTForecaster
from tools.forecaster._registry import ModelCard
from tools.forecaster._volatility import ewma_sigma, sigma_from_quantiles

VOLATILITY_NOTE = (
    "standard deviation of the cumulative log return to each step, (q90 - q10) / 2.563 "
    "under a normal approximation; volatility_ewma is sqrt(h) x the RiskMetrics EWMA "
    "(lambda 0.94) of past returns, the baseline it is scored against out of sample "
    "(model card metrics.volatility), which did as well or better at one step"
)


@dataclass(frozen=True)
class Forecast:
    symbol: str
    timeframe: str
    model_id: str
    as_of: datetime | None
    last_bar: datetime
    last_close: float
    quantiles: tuple[float, ...]
    log_returns: np.ndarray  # (horizon, Q)
    model_data_end: str
    ewma_volatility: np.ndarray | None = None  # (horizon,), the past-returns baseline

    @property
    def uses_future_data(self) -> bool:
        """True when the model was trained on bars after the forecast origin."""
        return pd.Timestamp(self.model_data_end) > pd.Timestamp(self.last_bar)

    def _named(self, values: np.ndarray) -> dict[str, float]:
        return {f"q{round(q * 100)}": float(v) for q, v in zip(self.quantiles, values, strict=True)}

    def close_times(self) -> list[datetime]:
        """When the bar each step forecasts will close. Estimated: equities skip weekends
        (not holidays); pairs trade around the clock."""
        tf = Timeframe(self.timeframe)
        start = pd.Timestamp(self.last_bar)
        n = len(self.log_returns)
        if Symbol(self.symbol).is_pair or tf.seconds < 86400:
            opens = [start + (h * tf.delta) for h in range(1, n + 1)]
        else:
            opens = list(pd.bdate_range(start + pd.Timedelta(days=1), periods=n, tz="UTC"))
            opens = [o + pd.Timedelta(hours=start.hour, minutes=start.minute) for o in opens]
        return [(o + tf.delta).to_pydatetime() for o in opens]

    @property
    def volatility(self) -> np.ndarray:
        """(horizon,) forecast standard deviation of the cumulative log return."""
        return sigma_from_quantiles(self.log_returns, self.quantiles)

    def to_json(self) -> dict[str, Any]:
        mid = self.quantiles.index(0.5)
        sigma = [float(v) for v in self.volatility]
        steps = [
            {
                "step": h,
                "target_close_time": when.isoformat(),
                "log_return": self._named(row),
                "price": self._named(self.last_close * np.exp(row)),
                "volatility": vol,
            }
            for h, (row, when, vol) in enumerate(
                zip(self.log_returns, self.close_times(), sigma, strict=True), start=1
            )
        ]
        return {
            "symbol": self.symbol,
            "timeframe": self.timeframe,
            "model_id": self.model_id,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "last_bar_open_time": self.last_bar.isoformat(),
            "last_close": self.last_close,
            "quantiles": list(self.quantiles),
            "point_forecast": [float(v) for v in self.log_returns[:, mid]],
            "point_forecast_price": [
                self.last_close * math.exp(v) for v in self.log_returns[:, mid]
            ],
            "volatility_forecast": sigma,
            "volatility_ewma": (
                None if self.ewma_volatility is None else [float(v) for v in self.ewma_volatility]
            ),
            "volatility_method": VOLATILITY_NOTE,
            "horizons": steps,
            "model_trained_through": self.model_data_end,
            "uses_future_data": self.uses_future_data,
        }


def forecast_bars(
    model: PatchTSTForecaster,
    card: ModelCard,
    frame: pd.DataFrame,
    horizon: int,
    as_of: datetime | None = None,
) -> Forecast:
    """Forecast ``horizon`` steps from the last bar of ``frame`` (already cut at ``as_of``)."""
    if not 1 <= horizon <= model.horizon:
        raise ConfigError(f"--horizon must be between 1 and {model.horizon} for this model")
    need = model.lookback + WARMUP
    if len(frame) < need:
        raise DataError(f"need {need} bars before the forecast time, got {len(frame)}")
    # Features are causal, so the last ``need`` bars give the same window as the full history.
    tail = frame.iloc[-need:]
    data = prepare(tail, 1)
    origin = np.array([data.n - 1])
    q = model.predict(data, origin)[0, :horizon]
    # lookback bars of EWMA history (64 for the shipped models): 0.94^64 leaves under 2 %
    # of the weight on the start-up variance
    ewma = ewma_sigma(data, origin, horizon)[0]
    last = pd.Timestamp(tail.index[-1]).to_pydatetime()
    return Forecast(
        symbol=card.symbol,
        timeframe=card.timeframe,
        model_id=card.model_id,
        as_of=as_of,
        last_bar=last,
        last_close=float(tail["close"].iloc[-1]),
        quantiles=tuple(card.quantiles),
        log_returns=q,
        model_data_end=card.data_end,
        ewma_volatility=ewma,
    )
