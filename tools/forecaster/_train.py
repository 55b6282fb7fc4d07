"""Train a forecaster on one series, score it on a hold-out against the baselines,
refit on all the data, and describe it in a model card."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import torch

from tools.forecaster._base import QuantileForecaster
from tools.forecaster._baselines import HistoricalMean, LinearAR, RandomWalk
from tools.forecaster._features import FEATURES, prepare
from tools.forecaster._metrics import QUANTILES
from tools.forecaster._model import EpochReport, PatchConfig, PatchTSTForecaster
from tools.forecaster._registry import ModelCard, code_version, model_id_for, state_digest
from tools.forecaster._walkforward import walk_forward

VOLATILITY_METHOD = (
    "sigma of the h-step log return = (q90 - q10) / 2.563 (normal approximation), and "
    "sqrt(h) x trailing 20-bar / EWMA(0.94) volatility, scored on the same hold-out: "
    "QLIKE (lower is better), var_ratio = mean(y^2) / mean(sigma^2) (1 = unbiased)"
)


@dataclass(frozen=True)
class TrainResult:
    model: PatchTSTForecaster
    card: ModelCard


def baselines(horizon: int) -> list[QuantileForecaster]:
    return [RandomWalk(horizon), HistoricalMean(horizon), LinearAR(horizon)]


OnEpoch = Callable[[str, EpochReport], None]
"""Progress of a fit: the stage (``"hold-out fit"`` or ``"final fit"``) and the epoch."""


def _model(
    config: PatchConfig, seed: int, stage: str, on_epoch: OnEpoch | None
) -> PatchTSTForecaster:
    model = PatchTSTForecaster(config, seed)
    if on_epoch is not None:
        model.on_epoch = lambda report: on_epoch(stage, report)
    return model


def holdout_metrics(
    frame: pd.DataFrame,
    config: PatchConfig,
    seed: int,
    holdout: float,
    on_epoch: OnEpoch | None = None,
) -> dict[str, Any]:
    """Fit everything on the first ``1 - holdout`` of the bars, score on the rest."""
    data = prepare(frame, config.horizon)
    split = int(data.n * (1.0 - holdout))
    models = [_model(config, seed, "hold-out fit", on_epoch), *baselines(config.horizon)]
    result = walk_forward(data, models, initial_train=split, test_size=data.n)
    return {
        "method": (
            f"fit on the first {1 - holdout:.0%} of bars, scored on the last {holdout:.0%} "
            f"({len(result.origins)} origins, from {data.index[split]:%Y-%m-%d}); the saved "
            "model is then refitted on all bars with the same hyperparameters and seed"
        ),
        "all_horizons": _no_nan(result.metrics()),
        "step_1": _no_nan(result.metrics(horizon_step=1)),
        "volatility": {
            "method": VOLATILITY_METHOD,
            "all_horizons": _no_nan(result.volatility(data)),
            "step_1": _no_nan(result.volatility(data, horizon_step=1)),
        },
    }


def _no_nan(metrics: dict[str, dict[str, float]]) -> dict[str, dict[str, float | None]]:
    """JSON has no NaN: an undefined score (the random walk's direction) becomes null."""
    return {
        name: {k: (None if math.isnan(v) else round(v, 6)) for k, v in m.items()}
        for name, m in metrics.items()
    }


def train_forecaster(
    frame: pd.DataFrame,
    symbol: str,
    timeframe: str,
    config: PatchConfig | None = None,
    seed: int = 0,
    holdout: float = 0.2,
    data_source: str = "",
    on_epoch: OnEpoch | None = None,
) -> TrainResult:
    """The whole recipe; a pure function of (bars, config, seed) up to timings.
    ``on_epoch`` sees every epoch of the hold-out fit and of the final fit."""
    config = config or PatchConfig()
    metrics = holdout_metrics(frame, config, seed, holdout, on_epoch) if holdout > 0 else {}
    data = prepare(frame, config.horizon)
    model = _model(config, seed, "final fit", on_epoch)
    model.fit(data, train_end=data.n)
    model.on_epoch = None
    assert model.net is not None and model.scaler is not None
    data_end = pd.Timestamp(data.index[-1]).to_pydatetime()
    card = ModelCard(
        model_id=model_id_for(symbol, timeframe, data_end, state_digest(model.net)),
        kind="patchtst",
        symbol=str(symbol),
        timeframe=str(timeframe),
        data_start=data.index[0].isoformat(),
        data_end=data.index[-1].isoformat(),
        n_bars=data.n,
        features=list(FEATURES),
        quantiles=list(QUANTILES),
        hyperparameters=config.to_json(),
        seed=seed,
        code_version=code_version(),
        torch_version=torch.__version__,
        trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
        train_seconds=round(model.train_seconds, 3),
        scaler=model.scaler.to_json(),
        target_scale=model.target_scale,
        metrics=metrics,
        data_source=data_source,
        best_epoch=model.best_epoch,
    )
    return TrainResult(model, card)
