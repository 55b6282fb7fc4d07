"""Quantile forecasts of future log returns (and, from their spread, volatility): a small
PatchTST-style transformer, the baselines it must beat (random walk, historical mean,
linear AR; trailing and EWMA volatility), a walk-forward harness with no look-ahead, and
a file registry of trained models with model cards.

Importing this package imports torch (~2 s); CLI commands import it lazily.
"""

from tools.forecaster._base import QuantileForecaster, train_origins
from tools.forecaster._baselines import HistoricalMean, LinearAR, RandomWalk
from tools.forecaster._features import FEATURES, WARMUP, Scaler, SeriesData, prepare
from tools.forecaster._forecast import Forecast, forecast_bars
from tools.forecaster._metrics import QUANTILES, binomial_two_sided_p, pinball, score
from tools.forecaster._model import EpochReport, PatchConfig, PatchTSTForecaster
from tools.forecaster._registry import (
    SHIPPED_DIR,
    ModelCard,
    latest_folder,
    list_models,
    load_model,
    read_card,
    save_model,
    user_registry,
)
from tools.forecaster._train import TrainResult, baselines, train_forecaster
from tools.forecaster._volatility import (
    ewma_sigma,
    score_volatility,
    sigma_from_quantiles,
    trailing_sigma,
    volatility_metrics,
)
from tools.forecaster._walkforward import Fold, WalkForwardResult, make_folds, walk_forward

__all__ = [
    "FEATURES",
    "QUANTILES",
    "SHIPPED_DIR",
    "WARMUP",
    "EpochReport",
    "Fold",
    "Forecast",
    "HistoricalMean",
    "LinearAR",
    "ModelCard",
    "PatchConfig",
    "PatchTSTForecaster",
    "QuantileForecaster",
    "RandomWalk",
    "Scaler",
    "SeriesData",
    "TrainResult",
    "WalkForwardResult",
    "baselines",
    "binomial_two_sided_p",
    "ewma_sigma",
    "forecast_bars",
    "latest_folder",
    "list_models",
    "load_model",
    "make_folds",
    "pinball",
    "prepare",
    "read_card",
    "save_model",
    "score",
    "score_volatility",
    "sigma_from_quantiles",
    "trailing_sigma",
    "train_forecaster",
    "train_origins",
    "user_registry",
    "volatility_metrics",
    "walk_forward",
]
