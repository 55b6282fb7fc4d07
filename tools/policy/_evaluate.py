"""Running a policy over one window and scoring its equity curve.

Every number is in units of the initial equity (1.0), so windows of different lengths
and price levels compare; Sharpe is annualised with ``periods_per_year`` and a zero
risk-free rate, the backtester's convention.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from tools.policy._env import TradingEnv

Act = Callable[[np.ndarray], int]
"""A policy as a function of one observation; deterministic when evaluating."""


@dataclass(frozen=True)
class EvalMetrics:
    """Scores of one pass over a window. ``sharpe`` is 0.0 when returns do not vary (a
    policy that stays flat), so a search can rank it; ``turnover`` and ``fees`` are
    summed over the window."""

    total_return: float
    sharpe: float
    max_drawdown: float
    turnover: float
    fees: float
    bars: int

    def to_json(self) -> dict[str, float | int]:
        return asdict(self)


@dataclass(frozen=True)
class Episode:
    """The equity curve (starting at 1.0 before the first fill) and the chosen positions."""

    equity: np.ndarray
    positions: np.ndarray
    metrics: EvalMetrics

    @property
    def returns(self) -> np.ndarray:
        """Simple per-bar returns of the equity curve."""
        return np.asarray(self.equity[1:] / self.equity[:-1] - 1.0)


def run_episode(act: Act, env: TradingEnv, *, periods_per_year: float = 252.0) -> Episode:
    """One full episode with ``act`` choosing every action."""
    return _run(lambda obs, _bar: act(obs), env, periods_per_year)


def replay_positions(
    targets: np.ndarray, env: TradingEnv, *, periods_per_year: float = 252.0
) -> Episode:
    """One episode holding ``targets[t]`` (-1, 0 or 1, indexed like the env's bars) after
    each decision bar ``t``: how a rule-based baseline goes through the same fills."""
    positions = env.config.positions
    for value in np.unique(targets):
        if int(value) not in positions:
            raise ValueError(f"target {value} is not one of the env's positions {positions}")
    return _run(lambda _obs, bar: positions.index(int(targets[bar])), env, periods_per_year)


def _run(
    choose: Callable[[np.ndarray, int], int], env: TradingEnv, periods_per_year: float
) -> Episode:
    obs, info = env.reset(seed=0)
    equity, positions = [info["equity"]], []
    done = truncated = False
    while not (done or truncated):
        obs, _, done, truncated, info = env.step(choose(obs, info["bar"]))
        equity.append(info["equity"])
        positions.append(info["position"])
    curve = np.asarray(equity)
    metrics = score_curve(
        curve, turnover=info["turnover"], fees=info["fees"], periods_per_year=periods_per_year
    )
    return Episode(curve, np.asarray(positions), metrics)


def score_curve(
    equity: np.ndarray, *, turnover: float, fees: float, periods_per_year: float
) -> EvalMetrics:
    """Metrics of an equity curve whose first point is the starting equity."""
    returns = equity[1:] / equity[:-1] - 1.0
    std = float(returns.std(ddof=1)) if len(returns) > 1 else 0.0
    sharpe = float(returns.mean()) / std * math.sqrt(periods_per_year) if std > 1e-15 else 0.0
    peak = np.maximum.accumulate(equity)
    return EvalMetrics(
        total_return=float(equity[-1] / equity[0] - 1.0),
        sharpe=sharpe,
        max_drawdown=float(np.max(1.0 - equity / peak)),
        turnover=float(turnover),
        fees=float(fees),
        bars=len(returns),
    )
