"""The registry: a saved model loads back to the same forecasts, its card says what it
is, and the latest model for a series is found (or a clear error says how to train one)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _synthetic import ar1_returns, bars_from_returns

from core.errors import NotFoundError
from tools.forecaster import (
    FEATURES,
    PatchConfig,
    TrainResult,
    latest_folder,
    list_models,
    load_model,
    prepare,
    save_model,
    train_forecaster,
)

TINY = PatchConfig(
    horizon=3, window=16, patch_len=4, stride=4, d_model=8, n_heads=2, n_layers=1, d_ff=16,
    epochs=1,
)  # fmt: skip


@pytest.fixture(scope="module")
def trained() -> tuple[pd.DataFrame, TrainResult]:
    frame = bars_from_returns(ar1_returns(500, 0.3))
    return frame, train_forecaster(frame, "BTC/USDT", "1d", TINY, seed=4, data_source="synthetic")


def test_saved_model_loads_back_to_identical_forecasts(
    tmp_path: Path, trained: tuple[pd.DataFrame, TrainResult]
) -> None:
    frame, result = trained
    folder = save_model(tmp_path, result.model, result.card)
    assert folder == tmp_path / "BTC-USDT" / "1d" / result.card.model_id
    model, card = load_model(folder)
    data = prepare(frame, 3)
    origins = np.arange(450, 497)
    np.testing.assert_array_equal(model.predict(data, origins), result.model.predict(data, origins))
    assert card == result.card


def test_model_card_records_window_features_hyperparameters_seed_version_metrics(
    tmp_path: Path, trained: tuple[pd.DataFrame, TrainResult]
) -> None:
    frame, result = trained
    folder = save_model(tmp_path, result.model, result.card)
    card = json.loads((folder / "card.json").read_text())
    assert card["data_start"].startswith(str(frame.index[0].date()))
    assert card["data_end"].startswith(str(frame.index[-1].date())) and card["n_bars"] == 500
    assert card["features"] == list(FEATURES) and card["seed"] == 4
    assert card["hyperparameters"]["window"] == 16 and card["hyperparameters"]["epochs"] == 1
    assert card["code_version"] and card["torch_version"].startswith("2.")
    assert set(card["metrics"]["all_horizons"]) == {
        "patchtst", "random_walk", "historical_mean", "linear_ar"
    }  # fmt: skip
    assert card["metrics"]["all_horizons"]["random_walk"]["direction"] is None
    vol = card["metrics"]["volatility"]
    assert set(vol["all_horizons"]) == {
        "patchtst", "random_walk", "historical_mean", "linear_ar", "trailing_20", "ewma_0.94"
    }  # fmt: skip
    assert all(m["var_ratio"] > 0 and m["n"] > 0 for m in vol["step_1"].values())
    assert (folder / "model.pt").stat().st_size < 1 << 20


def test_latest_model_prefers_the_newest_data_and_respects_as_of(tmp_path: Path) -> None:
    frame = bars_from_returns(ar1_returns(400, 0.3))
    older = train_forecaster(frame.iloc[:300], "BTC/USDT", "1d", TINY, holdout=0)
    newer = train_forecaster(frame, "BTC/USDT", "1d", TINY, holdout=0)
    for r in (newer, older):
        save_model(tmp_path, r.model, r.card)
    assert [c.model_id for c in list_models(tmp_path, "BTC/USDT", "1d")] == [
        older.card.model_id, newer.card.model_id,
    ]  # fmt: skip
    assert latest_folder([tmp_path], "BTC/USDT", "1d").name == newer.card.model_id
    before_newer = frame.index[320].to_pydatetime()
    assert latest_folder([tmp_path], "btc/usdt", "1d", as_of=before_newer).name == (
        older.card.model_id
    )


def test_missing_model_error_says_how_to_train_one(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="tiller train forecaster --symbol ETH/USDT"):
        latest_folder([tmp_path / "user", tmp_path / "shipped"], "ETH/USDT", "1d")
