"""The deflated Sharpe ratio (Bailey & López de Prado, 2014): how likely the policy's true
Sharpe ratio is above zero, given that it is the best of many trials.

- ``probabilistic_sharpe_ratio``: P(true SR > benchmark) for an estimate from ``n``
  returns with skewness ``skew`` and (non-excess) kurtosis ``kurtosis``:
  ``Phi((SR - SR*) sqrt(n - 1) / sqrt(1 - skew SR + (kurtosis - 1) / 4 SR^2))``.
- ``expected_max_sharpe``: the Sharpe ratio the best of ``trials`` independent trials
  reaches by luck alone, when trial Sharpe ratios vary with ``variance`` around zero:
  ``sqrt(V) ((1 - g) Phi^-1(1 - 1/N) + g Phi^-1(1 - 1/(N e)))``, g = Euler-Mascheroni.
- the DSR is the PSR against that benchmark.

Sharpe ratios here are per bar (not annualised), as the formulas need; the caller
converts. The moments are the sample's population moments (as ``scipy.stats.skew`` and
``scipy.stats.kurtosis(fisher=False)`` give them).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

EULER_GAMMA = 0.5772156649015329
MIN_RETURNS = 30  # fewer returns give skewness and kurtosis too noisy to correct with
_NORMAL = NormalDist()


def probabilistic_sharpe_ratio(
    sharpe: float, benchmark: float, n: int, skew: float = 0.0, kurtosis: float = 3.0
) -> float:
    """P(true per-bar Sharpe > ``benchmark``) for an estimate ``sharpe`` from ``n`` returns."""
    if n < 2:
        raise ValueError(f"need at least 2 returns for a probabilistic Sharpe ratio, got {n}")
    # >= (1 - skew SR / 2)^2 >= 0 because kurtosis >= skew^2 + 1 for any sample; the floor
    # only guards the degenerate two-point case.
    var = 1.0 - skew * sharpe + (kurtosis - 1.0) / 4.0 * sharpe**2
    z = (sharpe - benchmark) * math.sqrt(n - 1) / math.sqrt(max(var, 1e-12))
    return _NORMAL.cdf(z)


def expected_max_sharpe(trials: int, variance: float) -> float:
    """Expected best per-bar Sharpe of ``trials`` independent trials whose Sharpe ratios
    have ``variance`` (per bar squared) and a true value of zero. One trial, or trials
    that all scored the same, give 0: there was nothing to select from."""
    if trials < 1:
        raise ValueError(f"trials must be >= 1, got {trials}")
    if variance < 0.0:
        raise ValueError(f"variance of trial Sharpe ratios must be >= 0, got {variance}")
    if trials == 1 or variance == 0.0:
        return 0.0
    tail = (1.0 - EULER_GAMMA) * _NORMAL.inv_cdf(1.0 - 1.0 / trials)
    tail += EULER_GAMMA * _NORMAL.inv_cdf(1.0 - 1.0 / (trials * math.e))
    return math.sqrt(variance) * tail


def return_moments(returns: np.ndarray) -> tuple[float, float, float]:
    """Per-bar Sharpe (mean / sample std, 0 when returns do not vary, as the policy's own
    metrics), skewness and non-excess kurtosis (0 and 3, the normal's, when flat)."""
    r = np.asarray(returns, dtype="float64")
    if len(r) < MIN_RETURNS:
        raise ValueError(
            f"need at least {MIN_RETURNS} returns for a deflated Sharpe ratio (skewness and "
            f"kurtosis), got {len(r)}; use a longer test window"
        )
    if not np.isfinite(r).all():
        raise ValueError("returns must be finite")
    centred = r - r.mean()
    m2 = float(np.mean(centred**2))
    if m2 <= 1e-30:
        return 0.0, 0.0, 3.0
    sharpe = float(r.mean() / r.std(ddof=1))
    return sharpe, float(np.mean(centred**3) / m2**1.5), float(np.mean(centred**4) / m2**2)


@dataclass(frozen=True)
class DeflatedSharpe:
    """The DSR of one test-window return series. Sharpe figures are annualised with
    ``periods_per_year`` for display; the probabilities do not depend on it."""

    dsr: float  # P(true Sharpe > expected best of `trials` lucky trials)
    psr: float  # P(true Sharpe > 0), as if this were the only trial
    sharpe: float
    expected_max_sharpe: float
    trials: int
    trial_sharpe_std: float
    skew: float
    kurtosis: float
    n_returns: int
    periods_per_year: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def deflated_sharpe(
    returns: np.ndarray, trial_sharpes: Sequence[float], *, periods_per_year: float
) -> DeflatedSharpe:
    """DSR of ``returns`` after ``len(trial_sharpes)`` trials, from annualised trial Sharpe
    ratios (their sample variance, converted to per bar, sets the luck benchmark)."""
    if not trial_sharpes:
        raise ValueError("need the Sharpe ratio of at least one trial")
    sharpe, skew, kurt = return_moments(returns)
    trials = np.asarray(trial_sharpes, dtype="float64")
    if not np.isfinite(trials).all():
        raise ValueError("trial Sharpe ratios must be finite")
    # identical trials have no spread (np.var would give rounding noise instead of 0)
    var_annual = float(trials.var(ddof=1)) if np.ptp(trials) > 0 else 0.0
    benchmark = expected_max_sharpe(len(trials), var_annual / periods_per_year)
    n = len(returns)
    scale = math.sqrt(periods_per_year)
    return DeflatedSharpe(
        dsr=probabilistic_sharpe_ratio(sharpe, benchmark, n, skew, kurt),
        psr=probabilistic_sharpe_ratio(sharpe, 0.0, n, skew, kurt),
        sharpe=sharpe * scale,
        expected_max_sharpe=benchmark * scale,
        trials=len(trials),
        trial_sharpe_std=math.sqrt(var_annual),
        skew=skew,
        kurtosis=kurt,
        n_returns=n,
        periods_per_year=periods_per_year,
    )
