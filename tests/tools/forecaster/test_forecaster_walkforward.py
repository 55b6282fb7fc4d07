"""Walk-forward evaluation: no test origin is seen in training, and the metrics can tell a
model with real signal from one without."""

from __future__ import annotations

import numpy as np
import pytest
from _synthetic import ar1_returns, bars_from_returns

from tools.forecaster import (
    HistoricalMean,
    LinearAR,
    PatchConfig,
    PatchTSTForecaster,
    QuantileForecaster,
    RandomWalk,
    make_folds,
    prepare,
    walk_forward,
)


def test_folds_are_consecutive_and_leave_room_for_the_outcome() -> None:
    folds = make_folds(1000, horizon=5, initial_train=500, test_size=200)
    assert [f.train_end for f in folds] == [500, 700, 900]
    assert folds[-1].test_end == 1000 - 5  # the last origin needs 5 future bars
    rolling = make_folds(1000, horizon=5, initial_train=500, test_size=200, max_train=300)
    assert [f.train_start for f in rolling] == [200, 400, 600]


def test_linear_ar_beats_the_random_walk_on_an_ar_series() -> None:
    data = prepare(bars_from_returns(ar1_returns(2500, phi=0.4)), horizon=3)
    result = walk_forward(
        data, [RandomWalk(3), HistoricalMean(3), LinearAR(3)], initial_train=1000, test_size=500
    )
    m = result.metrics(horizon_step=1)
    assert result.origins.min() >= 1000 and len(result.origins) == 2500 - 1000 - 3
    assert m["linear_ar"]["mase"] < 0.95
    assert m["linear_ar"]["pinball"] < m["random_walk"]["pinball"]
    assert m["linear_ar"]["direction"] > 0.6 and m["linear_ar"]["direction_p"] < 1e-6


def test_linear_ar_does_not_beat_the_random_walk_on_noise() -> None:
    data = prepare(bars_from_returns(ar1_returns(2500, phi=0.0, seed=5)), horizon=3)
    result = walk_forward(data, [RandomWalk(3), LinearAR(3)], initial_train=1000, test_size=500)
    m = result.metrics(horizon_step=1)
    assert m["linear_ar"]["mase"] > 0.98
    assert m["linear_ar"]["direction_p"] > 0.01


def test_walk_forward_is_deterministic_and_refits_the_transformer_less_often() -> None:
    data = prepare(bars_from_returns(ar1_returns(700, phi=0.4)), horizon=2)
    tiny = PatchConfig(
        horizon=2, window=16, patch_len=4, stride=4, d_model=8, n_heads=2, n_layers=1,
        d_ff=16, epochs=2,
    )  # fmt: skip

    def run() -> dict[str, np.ndarray]:
        models: list[QuantileForecaster] = [
            PatchTSTForecaster(tiny, seed=1, refit_every=2),
            RandomWalk(2),
        ]
        return walk_forward(data, models, initial_train=400, test_size=100).forecasts

    first, second = run(), run()
    for name in first:
        np.testing.assert_array_equal(first[name], second[name])
    assert first["patchtst"].shape == (700 - 400 - 2, 2, 3)


def test_walk_forward_refuses_a_series_too_short_to_test() -> None:
    data = prepare(bars_from_returns(ar1_returns(100, phi=0.0)), horizon=5)
    with pytest.raises(ValueError, match="no test origin"):
        walk_forward(data, [RandomWalk(5)], initial_train=100, test_size=10)
