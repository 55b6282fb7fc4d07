"""Indicators against independent pandas formulations, and a look-ahead guard."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tools import indicators as ind

rng = np.random.default_rng(7)
N = 600
CLOSE = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, N)))
HIGH = CLOSE * (1 + rng.uniform(0, 0.01, N))
LOW = CLOSE * (1 - rng.uniform(0, 0.01, N))
S = pd.Series(CLOSE)


def wilder(values: pd.Series, window: int) -> pd.Series:
    """Wilder smoothing seeded with the simple mean of the first ``window`` values."""
    out = pd.Series(np.nan, index=values.index)
    first = values.first_valid_index()
    assert first is not None
    seed = values.iloc[first : first + window].mean()
    out.iloc[first + window - 1] = seed
    for i in range(first + window, len(values)):
        out.iloc[i] = (out.iloc[i - 1] * (window - 1) + values.iloc[i]) / window
    return out


@pytest.mark.parametrize("window", [1, 5, 50])
def test_sma_matches_pandas_rolling_mean(window: int) -> None:
    np.testing.assert_allclose(ind.sma(CLOSE, window), S.rolling(window).mean(), rtol=1e-12)


def test_sma_does_not_drift_over_a_long_series() -> None:
    long = 1e4 + np.cumsum(rng.normal(0, 1, 300_000))
    got = ind.sma(long, 50)
    ref = pd.Series(long).rolling(50).mean().to_numpy()
    assert np.nanmax(np.abs(got - ref) / ref) < 1e-12


def test_ema_matches_pandas_ewm_seeded_with_sma() -> None:
    window = 12
    seeded = S.copy()
    seeded.iloc[: window - 1] = np.nan
    seeded.iloc[window - 1] = S.iloc[:window].mean()
    ref = seeded.ewm(span=window, adjust=False, ignore_na=True).mean()
    ref.iloc[: window - 1] = np.nan
    np.testing.assert_allclose(ind.ema(CLOSE, window), ref, rtol=1e-12)


def test_rsi_matches_wilder_definition() -> None:
    delta = S.diff()
    gain = wilder(delta.clip(lower=0), 14)
    loss = wilder((-delta).clip(lower=0), 14)
    ref = 100 - 100 / (1 + gain / loss)
    np.testing.assert_allclose(ind.rsi(CLOSE, 14), ref, rtol=1e-10)


def test_atr_matches_wilder_true_range() -> None:
    prev = S.shift(1)
    tr = pd.concat(
        [pd.Series(HIGH - LOW), (pd.Series(HIGH) - prev).abs(), (pd.Series(LOW) - prev).abs()],
        axis=1,
    ).max(axis=1)
    tr.iloc[0] = np.nan
    np.testing.assert_allclose(ind.atr(HIGH, LOW, CLOSE, 14), wilder(tr, 14), rtol=1e-10)


def test_roc_and_bollinger_width() -> None:
    np.testing.assert_allclose(ind.roc(CLOSE, 10), 100 * S.pct_change(10), rtol=1e-10)
    np.testing.assert_allclose(ind.rolling_std(CLOSE, 20), S.rolling(20).std(ddof=0), rtol=1e-9)


def test_crosses_need_a_strict_move_through() -> None:
    a = np.array([1.0, 2.0, 3.0, 3.0, 2.0, 1.0])
    b = np.array([2.0, 2.0, 2.0, 3.0, 3.0, 0.5])
    assert ind.crosses_above(a, b).tolist() == [False, False, True, False, False, True]
    assert ind.crosses_below(a, b).tolist() == [False, False, False, False, True, False]


@pytest.mark.parametrize(
    "fn",
    [
        lambda c: ind.sma(c, 20),
        lambda c: ind.ema(c, 20),
        lambda c: ind.rsi(c, 14),
        lambda c: ind.roc(c, 5),
        lambda c: ind.rolling_std(c, 20),
        lambda c: ind.realised_vol(c, 20),
        lambda c: ind.atr(c * 1.01, c * 0.99, c, 14),
    ],
)
def test_value_at_t_is_unchanged_when_the_future_changes(fn) -> None:  # type: ignore[no-untyped-def]
    cut = 300
    altered = CLOSE.copy()
    altered[cut + 1 :] *= rng.uniform(0.5, 1.5, N - cut - 1)
    np.testing.assert_array_equal(fn(CLOSE)[: cut + 1], fn(altered)[: cut + 1])
