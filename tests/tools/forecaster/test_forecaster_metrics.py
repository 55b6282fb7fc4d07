"""Scores and baselines: known values, and baselines that behave as their names say."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _synthetic import bars_from_returns

from tools.forecaster import (
    HistoricalMean,
    LinearAR,
    RandomWalk,
    binomial_two_sided_p,
    pinball,
    prepare,
    score,
)


def test_pinball_of_a_perfect_median_is_the_tail_quantiles_loss_only() -> None:
    y = np.array([[1.0]])
    q = np.array([[[0.0, 1.0, 2.0]]])
    # q10 below by 1 → 0.1; q50 exact → 0; q90 above by 1 → 0.1; mean over 3 levels.
    assert pinball(y, q) == pytest.approx(0.2 / 3)


@pytest.mark.parametrize(("k", "n"), [(0, 0), (5, 10), (60, 100), (7, 10), (530, 1000), (3, 40)])
def test_binomial_p_value_matches_the_exact_test(k: int, n: int) -> None:
    stats = pytest.importorskip("scipy.stats")
    expected = 1.0 if n == 0 else stats.binomtest(k, n, 0.5).pvalue
    assert binomial_two_sided_p(k, n) == pytest.approx(expected, rel=1e-9)


def test_binomial_p_value_known_case() -> None:
    # 9 heads of 10: P(X<=1 or X>=9) = 22/1024.
    assert binomial_two_sided_p(9, 10) == pytest.approx(22 / 1024)


def test_score_of_the_random_walk_is_mase_one_and_has_no_direction() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(0, 0.01, (500, 2))
    q = np.zeros((500, 2, 3)) + np.array([-0.0128, 0.0, 0.0128])
    m = score(y, q)
    assert m["mase"] == 1.0 and m["direction_n"] == 0 and math.isnan(m["direction_p"])
    assert 0.75 < m["coverage_80"] < 0.85  # ±1.28σ covers 80%
    assert m["crps"] == 2 * m["pinball"]


def test_baselines_on_noise_cover_about_80_percent_out_of_sample() -> None:
    rng = np.random.default_rng(1)
    data = prepare(bars_from_returns(rng.normal(0.0005, 0.01, 3000)), horizon=5)
    test = np.arange(2000, 2990)
    for model in (RandomWalk(5), HistoricalMean(5), LinearAR(5)):
        model.fit(data, 2000)
        q = model.predict(data, test)
        assert (np.diff(q, axis=-1) >= 0).all()
        coverage = score(data.targets[test], q)["coverage_80"]
        assert 0.72 < coverage < 0.88, (model.name, coverage)


def test_random_walk_median_is_zero_and_historical_mean_follows_the_drift() -> None:
    rng = np.random.default_rng(2)
    data = prepare(bars_from_returns(rng.normal(0.002, 0.005, 800)), horizon=3)
    rw, hm = RandomWalk(3), HistoricalMean(3)
    rw.fit(data, 600)
    hm.fit(data, 600)
    origins = np.arange(600, 700)
    assert (rw.predict(data, origins)[..., 1] == 0).all()
    drift = hm.predict(data, origins)[0, :, 1]
    assert drift[0] == pytest.approx(0.002, abs=5e-4) and drift[2] == pytest.approx(3 * drift[0])
