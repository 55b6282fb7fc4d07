"""Volatility forecasts: the standard deviation of the h-step log return.

From a quantile forecast, under a normal approximation: ``sigma_h = (q90 - q10) /
(Phi^-1(0.9) - Phi^-1(0.1))`` = (q90 - q10) / 2.563. With fat tails this is the
*normal-equivalent* scale of the central 80 % (it under-states the standard deviation of
a fat-tailed law; the walk-forward score below says how much that matters).

Two baselines from past returns only (bars ``<= t``), scaled to h steps by ``sqrt(h)``:
the trailing 20-bar standard deviation and a RiskMetrics EWMA (lambda 0.94).

Scores, against the realised h-step log return ``y`` (``y^2`` is a noisy but unbiased
proxy of the variance):
- ``qlike``: mean of ``y^2 / s^2 - log(y^2 / s^2) - 1`` over outcomes ``y != 0`` (Patton,
  2011: the loss that ranks variance forecasts correctly with a noisy proxy; lower is
  better). Its expectation is smallest at the true variance, where, for normal returns
  and this one-draw proxy, it is 1.27 rather than 0.
- ``var_ratio``: ``mean(y^2) / mean(s^2)``; 1 is unbiased, above 1 the forecasts are
  too low on average.
- ``log_var_mse``: mean squared error of ``log s^2 + E[log chi2_1]`` against ``log y^2``
  (``E[log chi2_1] = -1.2704``, so a correct normal forecast is unbiased).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist

import numpy as np

from tools.forecaster._features import FEATURES, ROLL, SeriesData

EWMA_LAMBDA = 0.94
# E[log X] for X ~ chi-squared with 1 degree of freedom: -(Euler-Mascheroni + log 2).
E_LOG_CHI2_1 = -(0.5772156649015329 + math.log(2.0))


def sigma_from_quantiles(
    q: np.ndarray, levels: Sequence[float], low: float = 0.1, high: float = 0.9
) -> np.ndarray:
    """``(..., Q)`` quantiles → ``(...)`` normal-equivalent standard deviations."""
    normal = NormalDist()
    spread = normal.inv_cdf(high) - normal.inv_cdf(low)
    lo, hi = list(levels).index(low), list(levels).index(high)
    return np.asarray((q[..., hi] - q[..., lo]) / spread)


def trailing_sigma(data: SeriesData, origins: np.ndarray, horizon: int) -> np.ndarray:
    """``(n, horizon)``: ``sqrt(h)`` times the std of the last ``ROLL`` one-bar returns
    (the ``vol_20`` feature, defined from bar ``WARMUP`` on)."""
    rows = data.features[origins, FEATURES.index("vol_20")]
    return rows[:, None] * np.sqrt(np.arange(1, horizon + 1))[None, :]


def ewma_sigma(
    data: SeriesData, origins: np.ndarray, horizon: int, lam: float = EWMA_LAMBDA
) -> np.ndarray:
    """``(n, horizon)``: RiskMetrics ``s2[t] = lam s2[t-1] + (1 - lam) r[t]^2``, started
    at the variance of the first ``ROLL`` returns; ``sqrt(h)`` scaling."""
    r = np.nan_to_num(data.returns, nan=0.0)
    var = np.empty(len(r))
    var[: ROLL + 1] = np.var(r[1 : ROLL + 1]) if len(r) > ROLL else np.var(r)
    for t in range(ROLL + 1, len(r)):
        var[t] = lam * var[t - 1] + (1.0 - lam) * r[t] ** 2
    return np.sqrt(var[origins])[:, None] * np.sqrt(np.arange(1, horizon + 1))[None, :]


def score_volatility(y: np.ndarray, sigma: np.ndarray) -> dict[str, float]:
    """Scores of ``sigma`` (n, H) against realised h-step log returns ``y`` (n, H)."""
    if y.shape != sigma.shape:
        raise ValueError(f"shapes disagree: y {y.shape}, sigma {sigma.shape}")
    var = np.maximum(sigma, 1e-12) ** 2
    y2 = y**2
    nonzero = y2 > 0
    ratio = y2[nonzero] / var[nonzero]
    log_err = np.log(y2[nonzero]) - (np.log(var[nonzero]) + E_LOG_CHI2_1)
    return {
        "n": float(nonzero.sum()),
        "qlike": float(np.mean(ratio - np.log(ratio) - 1.0)),
        "var_ratio": float(y2.mean() / var.mean()),
        "log_var_mse": float(np.mean(log_err**2)),
    }


def volatility_metrics(
    data: SeriesData,
    origins: np.ndarray,
    outcomes: np.ndarray,
    forecasts: dict[str, np.ndarray],
    levels: Sequence[float],
    horizon_step: int | None = None,
) -> dict[str, dict[str, float]]:
    """Scores of every model's quantile-derived sigma and of the two past-return
    baselines on the same origins; one step (1-based) or all steps pooled."""
    horizon = outcomes.shape[1]
    sigmas = {name: sigma_from_quantiles(q, levels) for name, q in forecasts.items()}
    sigmas["trailing_20"] = trailing_sigma(data, origins, horizon)
    sigmas["ewma_0.94"] = ewma_sigma(data, origins, horizon)
    cols = slice(None) if horizon_step is None else slice(horizon_step - 1, horizon_step)
    return {name: score_volatility(outcomes[:, cols], s[:, cols]) for name, s in sigmas.items()}
