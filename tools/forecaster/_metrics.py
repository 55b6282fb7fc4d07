"""Forecast scores computed from quantile forecasts.

- ``mase``: mean absolute error of the median divided by that of the random walk (a
  zero log return) on the *same* out-of-sample points. Below 1 beats the random walk.
- ``pinball``: mean quantile (pinball) loss over the quantile levels; ``crps`` is the
  usual approximation ``2 * mean pinball`` from a few quantiles (coarse with three).
- ``coverage_80``: share of outcomes inside [q10, q90] (nominal 0.80).
- ``direction``: share of one-step forecasts whose median has the sign of the outcome
  (zero medians are excluded); ``direction_p`` is an exact two-sided binomial test
  against a coin flip. Only horizon 1 is tested: multi-step targets overlap, so their
  hits are not independent trials.
"""

from __future__ import annotations

import math

import numpy as np

QUANTILES: tuple[float, ...] = (0.1, 0.5, 0.9)


def pinball(y: np.ndarray, q: np.ndarray, levels: tuple[float, ...] = QUANTILES) -> float:
    """Mean pinball loss; ``y`` has shape (n, H) and ``q`` (n, H, len(levels))."""
    diff = y[..., None] - q
    tau = np.asarray(levels)
    loss = np.maximum(tau * diff, (tau - 1.0) * diff)
    return float(loss.mean())


def binomial_two_sided_p(k: int, n: int, p: float = 0.5) -> float:
    """Exact two-sided binomial test p-value (the method of ``scipy.stats.binomtest``):
    the total probability of outcomes no more likely than ``k``."""
    if n == 0:
        return 1.0
    log_pmf = [
        math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1)
        + i * math.log(p) + (n - i) * math.log1p(-p)
        for i in range(n + 1)
    ]  # fmt: skip
    threshold = log_pmf[k] + 1e-7  # relative tolerance, as scipy uses
    total = sum(math.exp(lp) for lp in log_pmf if lp <= threshold)
    return min(1.0, total)


def score(y: np.ndarray, q: np.ndarray, levels: tuple[float, ...] = QUANTILES) -> dict[str, float]:
    """Every metric for forecasts ``q`` (n, H, Q) of outcomes ``y`` (n, H)."""
    if y.shape != q.shape[:2] or q.shape[2] != len(levels):
        raise ValueError(f"shapes disagree: y {y.shape}, q {q.shape}, levels {levels}")
    mid = levels.index(0.5)
    lo, hi = levels.index(0.1), levels.index(0.9)
    median = q[..., mid]
    mae_rw = float(np.abs(y).mean())
    pin = pinball(y, q, levels)
    hits, trials = _direction(y[:, 0], median[:, 0])
    return {
        "n": float(len(y)),
        "mase": float(np.abs(y - median).mean()) / mae_rw if mae_rw > 0 else math.nan,
        "pinball": pin,
        "crps": 2.0 * pin,
        "coverage_80": float(((y >= q[..., lo]) & (y <= q[..., hi])).mean()),
        "direction": hits / trials if trials else math.nan,
        "direction_n": float(trials),
        "direction_p": binomial_two_sided_p(hits, trials) if trials else math.nan,
    }


def _direction(y: np.ndarray, median: np.ndarray) -> tuple[int, int]:
    called = (median != 0) & (y != 0)
    hits = int((np.sign(median[called]) == np.sign(y[called])).sum())
    return hits, int(called.sum())
