"""Volatility from quantiles, the past-only baselines, and the QLIKE score."""

from __future__ import annotations

import numpy as np
import pytest
from _synthetic import bars_from_returns

from tools.forecaster import (
    QUANTILES,
    ewma_sigma,
    prepare,
    score_volatility,
    sigma_from_quantiles,
    trailing_sigma,
)


def _regime_returns(n: int = 1200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Returns whose volatility switches between 0.5 % and 3 % every 100 bars."""
    sigma = np.where((np.arange(n) // 100) % 2 == 0, 0.005, 0.03)
    return np.random.default_rng(seed).normal(0.0, sigma), sigma


def test_sigma_from_normal_quantiles_then_recovers_the_standard_deviation() -> None:
    # Phi^-1(0.9) = 1.2815516: the 10/50/90 % quantiles of N(0.001, 0.02^2)
    q = np.array([0.001 - 0.02 * 1.2815516, 0.001, 0.001 + 0.02 * 1.2815516])
    assert sigma_from_quantiles(q, QUANTILES) == pytest.approx(0.02, rel=1e-6)
    spread = np.array([[[-0.05, 0.0, 0.05]]])  # (n, H, Q)
    assert sigma_from_quantiles(spread, QUANTILES)[0, 0] == pytest.approx(0.1 / 2.5631031)


def test_qlike_when_true_volatility_then_lower_than_constant_or_biased() -> None:
    returns, sigma = _regime_returns()
    y, true = returns[:, None], sigma[:, None]
    scores = {
        "true": score_volatility(y, true),
        "constant": score_volatility(y, np.full_like(true, returns.std())),
        "half": score_volatility(y, true / 2),
    }
    assert scores["true"]["qlike"] < scores["constant"]["qlike"]
    assert scores["true"]["qlike"] < scores["half"]["qlike"]
    assert scores["true"]["var_ratio"] == pytest.approx(1.0, abs=0.1)
    assert scores["half"]["var_ratio"] == pytest.approx(4.0, rel=0.1)
    # with y^2 as the proxy, the true variance scores E[z^2 - log z^2 - 1] = 1.2704
    # (z standard normal; -E[log chi2_1] = Euler-Mascheroni + log 2), not 0
    assert scores["true"]["qlike"] == pytest.approx(1.2704, abs=0.1)
    assert scores["true"]["log_var_mse"] < scores["half"]["log_var_mse"]


def test_baselines_at_t_when_later_bars_change_then_unchanged() -> None:
    returns, _ = _regime_returns(400)
    data = prepare(bars_from_returns(returns), horizon=3)
    changed_returns = returns.copy()
    changed_returns[251:] *= 5.0
    changed = prepare(bars_from_returns(changed_returns), horizon=3)
    origins = np.arange(30, 251)
    for sigma in (trailing_sigma, ewma_sigma):
        np.testing.assert_array_equal(sigma(data, origins, 3), sigma(changed, origins, 3))


def test_trailing_sigma_then_std_of_last_20_returns_times_sqrt_h() -> None:
    returns, _ = _regime_returns(300)
    data = prepare(bars_from_returns(returns), horizon=4)
    t = 150
    expected = np.std(np.diff(np.log(data.close))[t - 20 : t])
    np.testing.assert_allclose(
        trailing_sigma(data, np.array([t]), 4)[0], expected * np.sqrt([1, 2, 3, 4]), rtol=1e-9
    )


def test_ewma_then_tracks_a_volatility_regime_change() -> None:
    returns, _ = _regime_returns()
    data = prepare(bars_from_returns(returns), horizon=1)
    loud, quiet = np.array([195]), np.array([295])  # the ends of a 3 % and a 0.5 % regime
    assert ewma_sigma(data, quiet, 1)[0, 0] == pytest.approx(0.005, rel=0.35)
    assert ewma_sigma(data, loud, 1)[0, 0] == pytest.approx(0.03, rel=0.35)


def test_score_volatility_when_shapes_differ_then_value_error() -> None:
    with pytest.raises(ValueError, match="shapes disagree"):
        score_volatility(np.zeros((5, 2)), np.ones((5, 3)))
