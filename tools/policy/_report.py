"""The final, once-only comparison on the test window, with intervals.

Every contender goes through the same environment over the same test bars — the same
fills at the next open, the same fees and slippage — so their equity curves are paired
bar by bar. The Sharpe difference (policy minus baseline) gets a moving-block bootstrap
interval: blocks keep the short-range dependence of returns that an i.i.d. resample
would destroy. An interval containing 0 means "no evidence the policy is better", and
the report says so rather than ranking on point estimates.

The policy's own Sharpe is also deflated (``tools.policy._dsr``): it is the best of the
search's trials, so the report gives the probability that its true Sharpe beats what the
best of that many trials reaches by luck.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tools.policy._dsr import DeflatedSharpe, deflated_sharpe
from tools.policy._env import EnvFactory
from tools.policy._evaluate import Episode, replay_positions, run_episode
from tools.policy._ppo import OnTimesteps, PPOConfig, model_act, train_ppo


@dataclass(frozen=True)
class SharpeDiff:
    """Policy Sharpe minus baseline Sharpe, with a bootstrap interval at ``level``."""

    point: float
    low: float
    high: float
    level: float

    @property
    def verdict(self) -> str:
        if self.low > 0:
            return "better"
        if self.high < 0:
            return "worse"
        return "no significant difference"


def _sharpe(returns: np.ndarray, periods_per_year: float) -> np.ndarray:
    """Sharpe of each row (0 where a row does not vary)."""
    std = returns.std(axis=-1, ddof=1)
    mean = returns.mean(axis=-1)
    safe = np.where(std > 1e-15, std, 1.0)
    return np.asarray(np.where(std > 1e-15, mean / safe, 0.0) * math.sqrt(periods_per_year))


def sharpe_diff_ci(
    policy: np.ndarray,
    baseline: np.ndarray,
    *,
    periods_per_year: float = 252.0,
    n_boot: int = 2000,
    block: int = 10,
    level: float = 0.95,
    seed: int = 0,
) -> SharpeDiff:
    """Paired moving-block bootstrap of the annualised Sharpe difference of two return
    series over the same bars."""
    n = len(policy)
    if n != len(baseline) or n < 3:
        raise ValueError(f"need two paired return series of >= 3 bars, got {n}, {len(baseline)}")
    block = max(1, min(block, n))
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, n - block + 1, size=(n_boot, math.ceil(n / block)))
    idx = (starts[:, :, None] + np.arange(block)).reshape(n_boot, -1)[:, :n]
    diffs = _sharpe(policy[idx], periods_per_year) - _sharpe(baseline[idx], periods_per_year)
    point = float(_sharpe(policy, periods_per_year) - _sharpe(baseline, periods_per_year))
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(diffs, [tail, 1.0 - tail])
    return SharpeDiff(point, float(low), float(high), level)


def sma_cross_targets(factory: EnvFactory) -> np.ndarray:
    """The ``sma-cross`` preset's position after each bar's close (1 long, 0 flat),
    from signals computed over the whole series (its SMAs look only backwards)."""
    from tools.strategy import preset, signals

    bars = factory.bars
    arrays = {c: np.ascontiguousarray(bars[c].to_numpy(dtype="float64")) for c in bars.columns}
    sig = signals(preset("sma-cross"), arrays)
    targets = np.zeros(len(bars), dtype=np.int64)
    state = 0
    for t in range(len(bars)):
        if sig["entry"][t] and not sig["exit"][t]:
            state = 1
        elif sig["exit"][t] and not sig["entry"][t]:
            state = 0
        targets[t] = state
    return targets


def policy_test_episode(
    config: PPOConfig,
    factory: EnvFactory,
    seed: int,
    *,
    periods_per_year: float = 252.0,
    on_timesteps: OnTimesteps | None = None,
) -> Episode:
    """Train on the training window, then run once over the test window."""
    model, _ = train_ppo(
        config, factory, seed, periods_per_year=periods_per_year, on_timesteps=on_timesteps
    )
    return run_episode(model_act(model), factory("test"), periods_per_year=periods_per_year)


def baseline_episodes(
    factory: EnvFactory,
    *,
    plain_ppo: PPOConfig,
    seed: int = 0,
    periods_per_year: float = 252.0,
    on_timesteps: OnTimesteps | None = None,
) -> dict[str, Episode]:
    """Buy-and-hold, the SMA-cross preset, and PPO with ``plain_ppo`` (sb3's default
    hyperparameters, the caller's training budget) on the factory's test window."""
    env = factory("test")
    hold = np.ones(len(factory.bars), dtype=np.int64)
    return {
        "buy-and-hold": replay_positions(hold, env, periods_per_year=periods_per_year),
        "sma-cross": replay_positions(
            sma_cross_targets(factory), env, periods_per_year=periods_per_year
        ),
        "plain-ppo": policy_test_episode(
            plain_ppo, factory, seed, periods_per_year=periods_per_year, on_timesteps=on_timesteps
        ),
    }


TRIALS_SOURCE = (
    "trials = every distinct candidate the genetic search scored; their Sharpe variance "
    "from the validation fitness (annualised Sharpe, mean over training seeds). GA "
    "candidates are correlated, so N overstates the independent trials: conservative"
)


@dataclass(frozen=True)
class PolicyReport:
    """The policy's test-window metrics and, per baseline, its metrics and the Sharpe
    difference interval; the deflated Sharpe ratio, or why there is none."""

    policy: Episode
    baselines: Mapping[str, Episode]
    diffs: Mapping[str, SharpeDiff]
    deflated: DeflatedSharpe | None = None
    deflated_note: str = ""

    def to_json(self) -> dict[str, Any]:
        deflated = None if self.deflated is None else self.deflated.to_json()
        return {
            "policy": self.policy.metrics.to_json(),
            "deflated_sharpe": deflated,
            "deflated_sharpe_note": self.deflated_note,
            "baselines": {
                name: {
                    "metrics": ep.metrics.to_json(),
                    "sharpe_diff": vars(self.diffs[name]) | {"verdict": self.diffs[name].verdict},
                }
                for name, ep in self.baselines.items()
            },
        }


def compare(
    policy: Episode,
    baselines: Mapping[str, Episode],
    *,
    periods_per_year: float = 252.0,
    n_boot: int = 2000,
    seed: int = 0,
    trial_sharpes: Sequence[float] | None = None,
) -> PolicyReport:
    """Pair the policy's test episode with each baseline's; deflate its Sharpe ratio by
    ``trial_sharpes`` (annualised, one per trial of the search) when given."""
    diffs = {
        name: sharpe_diff_ci(
            policy.returns,
            ep.returns,
            periods_per_year=periods_per_year,
            n_boot=n_boot,
            seed=seed,
        )
        for name, ep in baselines.items()
    }
    deflated, note = (
        (None, "") if trial_sharpes is None else _deflate(policy, trial_sharpes, periods_per_year)
    )
    return PolicyReport(policy, dict(baselines), diffs, deflated, note)


def _deflate(
    policy: Episode, trial_sharpes: Sequence[float], periods_per_year: float
) -> tuple[DeflatedSharpe | None, str]:
    if not trial_sharpes:
        return (
            None,
            "no trial Sharpe ratios (the search ranked by total return, or no run finished)",
        )
    try:
        return deflated_sharpe(
            policy.returns, trial_sharpes, periods_per_year=periods_per_year
        ), TRIALS_SOURCE
    except ValueError as exc:  # a test window too short for the moments: say so in the card
        return None, str(exc)
