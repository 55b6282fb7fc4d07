"""The final, once-only comparison on the test window, with intervals.

Every contender goes through the same environment over the same test bars — the same
fills at the next open, the same fees and slippage — so their equity curves are paired
bar by bar. The Sharpe difference (policy minus baseline) gets a moving-block bootstrap
interval: blocks keep the short-range dependence of returns that an i.i.d. resample
would destroy. An interval containing 0 means "no evidence the policy is better", and
the report says so rather than ranking on point estimates.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from tools.policy._env import EnvFactory
from tools.policy._evaluate import Episode, replay_positions, run_episode
from tools.policy._ppo import PPOConfig, model_act, train_ppo


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
    config: PPOConfig, factory: EnvFactory, seed: int, *, periods_per_year: float = 252.0
) -> Episode:
    """Train on the training window, then run once over the test window."""
    model, _ = train_ppo(config, factory, seed, periods_per_year=periods_per_year)
    return run_episode(model_act(model), factory("test"), periods_per_year=periods_per_year)


def baseline_episodes(
    factory: EnvFactory,
    *,
    plain_ppo: PPOConfig,
    seed: int = 0,
    periods_per_year: float = 252.0,
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
            plain_ppo, factory, seed, periods_per_year=periods_per_year
        ),
    }


@dataclass(frozen=True)
class PolicyReport:
    """The policy's test-window metrics and, per baseline, its metrics and the Sharpe
    difference interval."""

    policy: Episode
    baselines: Mapping[str, Episode]
    diffs: Mapping[str, SharpeDiff]

    def to_json(self) -> dict[str, Any]:
        return {
            "policy": self.policy.metrics.to_json(),
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
) -> PolicyReport:
    """Pair the policy's test episode with each baseline's."""
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
    return PolicyReport(policy, dict(baselines), diffs)
