"""Features and scalers use the past only (the look-ahead guarded against: a feature or
a scaler statistic at bar t that moves when bars after t change)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from _synthetic import ar1_returns, bars_from_returns

from tools.forecaster import FEATURES, WARMUP, LinearAR, Scaler, prepare
from tools.forecaster._features import compute_features


def _with_future_changed(frame: pd.DataFrame, after: int) -> pd.DataFrame:
    changed = frame.copy()
    changed.iloc[after:, :4] *= 3.0  # a crash-free tripling: prices stay valid
    changed.iloc[after:, 4] *= 50.0
    return changed


def test_features_at_t_ignore_bars_after_t() -> None:
    frame = bars_from_returns(ar1_returns(400, 0.2))
    t = 250
    base = compute_features(frame)
    changed = compute_features(_with_future_changed(frame, t + 1))
    np.testing.assert_array_equal(base[: t + 1], changed[: t + 1])
    assert not np.allclose(base[t + 1 : t + 5], changed[t + 1 : t + 5])


def test_features_on_a_truncated_series_equal_the_full_series_rows() -> None:
    frame = bars_from_returns(ar1_returns(300, 0.2))
    full = compute_features(frame)
    for t in (WARMUP, 150, 299):
        np.testing.assert_allclose(compute_features(frame.iloc[: t + 1]), full[: t + 1])


def test_features_are_nan_only_during_warmup() -> None:
    feats = compute_features(bars_from_returns(ar1_returns(200, 0.0)))
    assert feats.shape == (200, len(FEATURES))
    assert np.isnan(feats[:WARMUP]).all() and np.isfinite(feats[WARMUP:]).all()


def test_targets_are_future_log_returns_and_unknown_past_the_end() -> None:
    data = prepare(bars_from_returns(ar1_returns(100, 0.0)), horizon=3)
    logc = np.log(data.close)
    assert data.targets[10, 2] == logc[13] - logc[10]
    assert np.isnan(data.targets[-3:, 2]).all() and np.isfinite(data.targets[:-3, 2]).all()


def test_scaler_fitted_on_training_window_ignores_later_bars() -> None:
    frame = bars_from_returns(ar1_returns(400, 0.2))
    train_end = 300
    base = Scaler.fit(compute_features(frame), end=train_end)
    changed = Scaler.fit(compute_features(_with_future_changed(frame, train_end)), end=train_end)
    assert base == changed
    everything = Scaler.fit(compute_features(_with_future_changed(frame, train_end)), end=400)
    assert everything != base  # the test can fail: the scaler does see what it is given


def test_linear_ar_fit_ignores_bars_after_the_training_window() -> None:
    frame = bars_from_returns(ar1_returns(500, 0.3))
    train_end = 350
    origins = np.arange(100, 340)
    preds = []
    for f in (frame, _with_future_changed(frame, train_end)):
        data = prepare(f, horizon=5)
        model = LinearAR(5)
        model.fit(data, train_end)
        preds.append(model.predict(data, origins))
    np.testing.assert_array_equal(preds[0], preds[1])
