"""What the policy observes per bar: a subset of the forecaster's features and, optionally,
two channels from a small quantile forecaster — its median forecast of the next bar's
log return and the width of its 80 % interval (q90 - q10).

No look-ahead. The forecaster is fitted once, on bars before ``first_bar`` (the first
``fit_fraction`` of the training window, warm-up included), and then forecasts every bar
``t >= first_bar`` from features of bars ``<= t``. Every window that shows the channels
starts at or after ``first_bar``: PPO trains on ``[first_bar, train end)`` when they are
on, so even its training observations are out-of-sample forecasts, as they are in the
validation and test windows and live. The fit does not depend on a genome, so a search
computes it once (about 3 s on 3,000 daily bars with the defaults).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.errors import ConfigError, DataError
from tools.forecaster._base import first_origin
from tools.forecaster._features import FEATURES, Scaler, compute_features, prepare
from tools.forecaster._metrics import QUANTILES
from tools.forecaster._model import EpochReport, PatchConfig, PatchTSTForecaster, PatchTSTNet

FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "returns": ("ret_1", "ret_5", "ret_20"),
    "returns_vol": ("ret_1", "ret_5", "ret_20", "range", "vol_20"),
    "all": FEATURES,
}
FORECAST_CHANNELS = ("forecast_median", "forecast_width")


def channel_names(feature_set: str, use_forecast: bool) -> tuple[str, ...]:
    return FEATURE_SETS[feature_set] + (FORECAST_CHANNELS if use_forecast else ())


@dataclass(frozen=True)
class ForecastConfig:
    """The small forecaster behind the forecast channels (one-step horizon)."""

    fit_fraction: float = 0.5  # of the training window, for the forecaster's fit
    window: int = 32
    d_model: int = 16
    n_layers: int = 1
    epochs: int = 20
    patience: int = 3
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.1 <= self.fit_fraction <= 0.9:
            raise ConfigError(f"fit_fraction must be in [0.1, 0.9], got {self.fit_fraction}")

    def patch_config(self) -> PatchConfig:
        return PatchConfig(
            horizon=1, window=self.window, patch_len=8, stride=8, d_model=self.d_model,
            n_heads=2, n_layers=self.n_layers, d_ff=2 * self.d_model, epochs=self.epochs,
            patience=self.patience,
        )  # fmt: skip


@dataclass(frozen=True)
class ForecastChannels:
    """Raw channel values (T, 2), NaN before ``first_bar``; ``scaler`` standardises them
    with their mean and spread over ``[first_bar, training window end)``."""

    values: np.ndarray = field(compare=False, repr=False)
    first_bar: int
    scaler: Scaler
    config: ForecastConfig
    model: PatchTSTForecaster = field(compare=False, repr=False)

    def scaled(self) -> np.ndarray:
        return self.scaler.transform(self.values)

    def card(self, index: pd.DatetimeIndex) -> dict[str, Any]:
        """What ``decide`` needs besides the weights to rebuild the channels live."""
        model = self.model
        assert model.scaler is not None
        return {
            "channels": list(FORECAST_CHANNELS),
            "config": asdict(self.config),
            "hyperparameters": model.config.to_json(),
            "scaler": model.scaler.to_json(),
            "target_scale": model.target_scale,
            "best_epoch": model.best_epoch,
            "fitted_before": index[self.first_bar].isoformat(),
            "channel_scaler": self.scaler.to_json(),
        }


def forecast_values(
    model: PatchTSTForecaster, bars: pd.DataFrame, origins: np.ndarray
) -> np.ndarray:
    """(len(origins), 2): median and q90 - q10 of the next bar's log return forecast at
    each origin from bars ``<= origin``."""
    q = model.predict(prepare(bars, 1), origins)[:, 0, :]
    lo, mid, hi = (QUANTILES.index(x) for x in (0.1, 0.5, 0.9))
    return np.column_stack([q[:, mid], q[:, hi] - q[:, lo]])


def fit_forecast_channels(
    bars: pd.DataFrame,
    train: tuple[int, int],
    config: ForecastConfig,
    on_epoch: Callable[[EpochReport], None] | None = None,
) -> ForecastChannels:
    """Fit the forecaster on bars before ``first_bar`` and forecast every later bar."""
    start, end = train
    first_bar = start + int((end - start) * config.fit_fraction)
    model = PatchTSTForecaster(config.patch_config(), seed=config.seed)
    model.on_epoch = on_epoch
    try:
        model.fit(prepare(bars, 1), train_end=first_bar)
    except ValueError as exc:
        raise ConfigError(
            f"too little history before bar {first_bar} for the forecast channels ({exc}); "
            "use a longer history or turn the forecast channels off (--no-forecast)"
        ) from None
    finally:
        model.on_epoch = None  # the model travels to worker processes; a display must not
    values = np.full((len(bars), len(FORECAST_CHANNELS)), np.nan)
    values[first_bar:] = forecast_values(model, bars, np.arange(first_bar, len(bars)))
    scaler = Scaler.fit(values, end=end, start=first_bar)
    return ForecastChannels(values, first_bar, scaler, config, model)


def rebuild_forecaster(card: dict[str, Any], weights: dict[str, Any]) -> PatchTSTForecaster:
    """The forecaster described by ``ForecastChannels.card`` with its saved weights."""
    config = PatchConfig(**card["hyperparameters"])
    model = PatchTSTForecaster(config, seed=card["config"]["seed"])
    net = PatchTSTNet(config, len(FEATURES))
    net.load_state_dict(weights)
    net.eval()
    model.net, model.scaler = net, Scaler.from_json(card["scaler"])
    model.target_scale, model.best_epoch = card["target_scale"], card["best_epoch"]
    return model


def tail_forecast(
    model: PatchTSTForecaster, card: dict[str, Any], bars: pd.DataFrame, rows: int
) -> np.ndarray:
    """Scaled channels (T, 2) of ``bars`` with only the last ``rows`` filled (NaN before):
    what an observation window ending at the last bar needs."""
    n = len(bars)
    need = first_origin(model.lookback) + rows
    if n < need:
        raise DataError(f"need at least {need} bars for the forecast channels, got {n}")
    values = np.full((n, len(FORECAST_CHANNELS)), np.nan)
    values[n - rows :] = forecast_values(model, bars, np.arange(n - rows, n))
    return Scaler.from_json(card["channel_scaler"]).transform(values)


def observation_channels(
    bars: pd.DataFrame, scaler: Scaler, feature_set: str, forecast: np.ndarray | None
) -> np.ndarray:
    """(T, C) float32: the feature subset scaled with the training-window ``scaler``
    (fitted on all ``FEATURES``), then the already scaled forecast channels if given."""
    cols = [FEATURES.index(name) for name in FEATURE_SETS[feature_set]]
    scaled = scaler.transform(compute_features(bars))[:, cols]
    if forecast is not None:
        scaled = np.hstack([scaled, forecast])
    return scaled.astype(np.float32)
