"""The transformer: deterministic given a seed, coherent quantiles, no look-ahead in fit."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _synthetic import ar1_returns, bars_from_returns

from tools.forecaster import EpochReport, PatchConfig, PatchTSTForecaster, SeriesData, prepare

TINY = PatchConfig(
    horizon=3, window=16, patch_len=4, stride=4, d_model=8, n_heads=2, n_layers=1, d_ff=16,
    epochs=2, batch_size=64,
)  # fmt: skip


@pytest.fixture(scope="module")
def data() -> SeriesData:
    return prepare(bars_from_returns(ar1_returns(400, 0.3)), horizon=3)


def _fit_predict(data: SeriesData, seed: int, train_end: int = 300) -> np.ndarray:
    model = PatchTSTForecaster(TINY, seed=seed)
    model.fit(data, train_end)
    return model.predict(data, np.arange(300, 390))


def test_two_trainings_with_the_same_seed_give_identical_predictions(data: SeriesData) -> None:
    first, second = _fit_predict(data, seed=7), _fit_predict(data, seed=7)
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, _fit_predict(data, seed=8))


def test_training_restores_global_torch_settings(data: SeriesData) -> None:
    torch.set_num_threads(1)
    _fit_predict(data, seed=0)
    assert not torch.are_deterministic_algorithms_enabled()
    assert torch.get_num_threads() == 1


def test_quantiles_are_ordered_and_have_the_requested_shape(data: SeriesData) -> None:
    q = _fit_predict(data, seed=1)
    assert q.shape == (90, 3, 3)
    assert (np.diff(q, axis=-1) >= 0).all()


def test_fit_ignores_bars_after_the_training_window(data: SeriesData) -> None:
    changed_frame = bars_from_returns(ar1_returns(400, 0.3))
    changed_frame.iloc[300:, :4] *= 2.0
    changed = prepare(changed_frame, horizon=3)
    a, b = PatchTSTForecaster(TINY, seed=3), PatchTSTForecaster(TINY, seed=3)
    a.fit(data, 300)
    b.fit(changed, 300)
    origins = np.arange(100, 290)
    np.testing.assert_array_equal(a.predict(data, origins), b.predict(changed, origins))


def test_config_rejects_inconsistent_shapes() -> None:
    with pytest.raises(ValueError, match="multiple of n_heads"):
        PatchConfig(d_model=10, n_heads=4)


def test_on_epoch_when_set_then_sees_every_epoch_and_changes_nothing(data: SeriesData) -> None:
    config = PatchConfig(**{**TINY.to_json(), "epochs": 30, "patience": 2})
    watched, plain = PatchTSTForecaster(config, seed=2), PatchTSTForecaster(config, seed=2)
    reports: list[EpochReport] = []
    watched.on_epoch = reports.append
    watched.fit(data, 300)
    plain.fit(data, 300)
    assert [r.epoch for r in reports] == list(range(1, len(reports) + 1))
    assert [r.stopped for r in reports] == [False] * (len(reports) - 1) + [True]
    assert reports[-1].best_epoch == watched.best_epoch == plain.best_epoch
    assert reports[-1].epochs == 30 and reports[-1].epoch - watched.best_epoch <= 2
    origins = np.arange(300, 390)
    np.testing.assert_array_equal(watched.predict(data, origins), plain.predict(data, origins))
