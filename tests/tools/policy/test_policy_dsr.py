"""The deflated Sharpe ratio against hand-computed values and the paper's example."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from tools.policy import (
    deflated_sharpe,
    expected_max_sharpe,
    probabilistic_sharpe_ratio,
)
from tools.policy._dsr import return_moments


def test_psr_when_normal_returns_then_matches_hand_computed_value() -> None:
    # z = 0.1 * sqrt(252) / sqrt(1 - 0 + (3 - 1) / 4 * 0.1^2) = 1.5874508 / 1.0024969
    #   = 1.5834970; Phi(1.5834970) = 0.9433459
    assert probabilistic_sharpe_ratio(0.1, 0.0, 253, 0.0, 3.0) == pytest.approx(0.9433459, abs=1e-7)


def test_psr_when_negative_skew_and_fat_tails_then_lower() -> None:
    # variance term 1 - (-1)(0.1) + (6 - 1) / 4 * 0.01 = 1.1125; z = 1.5874508 / 1.0547512
    #   = 1.5050477; Phi = 0.9338441
    assert probabilistic_sharpe_ratio(0.1, 0.0, 253, -1.0, 6.0) == pytest.approx(
        0.9338441, abs=1e-7
    )


def test_psr_when_sharpe_equals_benchmark_then_one_half() -> None:
    assert probabilistic_sharpe_ratio(0.05, 0.05, 100, 0.5, 9.0) == 0.5


def test_expected_max_sharpe_then_euler_mascheroni_approximation() -> None:
    # (1 - g) Phi^-1(1 - 1/100) + g Phi^-1(1 - 1/(100 e)), g = 0.5772157:
    # 0.4227843 * 2.3263479 + 0.5772157 * 2.6802... = 2.5306029 (unit variance)
    assert expected_max_sharpe(100, 1.0) == pytest.approx(2.5306029, abs=1e-7)
    # scales with the standard deviation of the trials: sqrt(0.04) = 0.2
    assert expected_max_sharpe(10, 0.04) == pytest.approx(0.3149197, abs=1e-7)
    assert expected_max_sharpe(1000, 1.0) > expected_max_sharpe(100, 1.0)


def test_dsr_when_paper_example_then_0_9004() -> None:
    # Bailey & Lopez de Prado (2014), numerical example: annualised SR 2.5 over 1,250
    # daily returns, 100 trials with annualised Sharpe variance 1/2, skew -3, kurtosis 10.
    sharpe, benchmark = 2.5 / math.sqrt(250), expected_max_sharpe(100, 0.5 / 250)
    assert benchmark * math.sqrt(250) == pytest.approx(1.7894, abs=1e-4)
    assert probabilistic_sharpe_ratio(sharpe, benchmark, 1250, -3.0, 10.0) == pytest.approx(
        0.9004, abs=1e-4
    )


def test_deflated_sharpe_when_one_trial_then_dsr_equals_psr_against_zero() -> None:
    r = np.random.default_rng(0).normal(0.001, 0.01, 250)
    result = deflated_sharpe(r, [1.3], periods_per_year=252.0)
    assert result.expected_max_sharpe == 0.0
    assert result.dsr == result.psr
    sharpe, skew, kurt = return_moments(r)
    assert result.psr == probabilistic_sharpe_ratio(sharpe, 0.0, 250, skew, kurt)


def test_deflated_sharpe_when_trials_all_equal_then_no_deflation() -> None:
    r = np.random.default_rng(1).normal(0.001, 0.01, 250)
    result = deflated_sharpe(r, [0.7] * 12, periods_per_year=252.0)
    assert (result.trial_sharpe_std, result.expected_max_sharpe) == (0.0, 0.0)
    assert result.dsr == result.psr


def test_deflated_sharpe_when_more_dispersed_trials_then_lower_dsr() -> None:
    r = np.random.default_rng(2).normal(0.002, 0.01, 500)
    narrow = deflated_sharpe(r, [0.0, 0.2, 0.4, 0.6], periods_per_year=252.0)
    wide = deflated_sharpe(r, [-2.0, 0.0, 2.0, 4.0], periods_per_year=252.0)
    many = deflated_sharpe(r, list(np.linspace(0.0, 0.6, 40)), periods_per_year=252.0)
    assert wide.dsr < narrow.dsr < narrow.psr
    assert many.expected_max_sharpe > narrow.expected_max_sharpe
    # the benchmark is in annualised units: sqrt(var per bar * 252) = the trials' std
    assert narrow.trial_sharpe_std == pytest.approx(np.std([0.0, 0.2, 0.4, 0.6], ddof=1))


def test_return_moments_then_population_moments_as_scipy() -> None:
    r = np.random.default_rng(3).standard_t(4, 300) * 0.01
    sharpe, skew, kurt = return_moments(r)
    assert sharpe == pytest.approx(r.mean() / r.std(ddof=1))
    assert skew == pytest.approx(stats.skew(r))
    assert kurt == pytest.approx(stats.kurtosis(r, fisher=False))


def test_deflated_sharpe_when_flat_returns_then_sharpe_zero_and_psr_one_half() -> None:
    result = deflated_sharpe(np.zeros(60), [0.5, 1.0], periods_per_year=252.0)
    assert (result.sharpe, result.psr) == (0.0, 0.5)
    assert result.dsr < 0.5


def test_deflated_sharpe_when_short_series_then_error_says_how_many() -> None:
    with pytest.raises(ValueError, match="at least 30 returns"):
        deflated_sharpe(np.full(29, 0.001), [0.5], periods_per_year=252.0)


def test_deflated_sharpe_when_no_trials_then_error() -> None:
    with pytest.raises(ValueError, match="at least one trial"):
        deflated_sharpe(np.full(60, 0.001), [], periods_per_year=252.0)
