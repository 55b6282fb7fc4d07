"""The whole training job behind ``tiller train policy``: evolve on the validation
window, train the winner, score it once on the untouched test window against the
baselines, and describe all of it in the model card."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from stable_baselines3 import PPO

from tools.backtest import periods_per_year
from tools.policy._env import EnvConfig, EnvFactory, Windows
from tools.policy._evaluate import run_episode
from tools.policy._evolve import EvolveConfig, EvolveResult, GenerationReport, evolve
from tools.policy._ppo import PPOConfig, model_act, train_ppo
from tools.policy._registry import PolicyCard, card_for
from tools.policy._report import PolicyReport, baseline_episodes, compare


@dataclass(frozen=True)
class TrainedPolicy:
    model: PPO
    card: PolicyCard
    report: PolicyReport
    search: EvolveResult


def train_policy(
    frame: pd.DataFrame,
    *,
    symbol: str,
    timeframe: str,
    evolve_config: EvolveConfig,
    base_env: EnvConfig | None = None,
    checkpoint: Path | None = None,
    progress: Callable[[GenerationReport], None] | None = None,
    data_source: str = "",
) -> TrainedPolicy:
    """Deterministic given ``evolve_config.seed`` (and its seeds)."""
    ppy = periods_per_year(symbol, timeframe)
    windows = Windows.split(len(frame), max_window=evolve_config.window_range[1])
    factory = EnvFactory(frame, windows, base_env or EnvConfig())
    search = evolve(factory, evolve_config, checkpoint=checkpoint, progress=progress)
    best = search.best
    chosen = factory.with_config(best.env)
    model, _ = train_ppo(best.ppo, chosen, evolve_config.seed, periods_per_year=ppy)
    episode = run_episode(model_act(model), chosen("test"), periods_per_year=ppy)
    plain = PPOConfig(total_timesteps=best.ppo.total_timesteps, net_arch=best.ppo.net_arch)
    baselines = baseline_episodes(chosen, plain_ppo=plain, seed=evolve_config.seed,
                                  periods_per_year=ppy)  # fmt: skip
    report = compare(episode, baselines, periods_per_year=ppy)
    metrics = {
        "validation_fitness": search.best_fitness,
        "fitness_metric": evolve_config.metric,
        "search": {"population": evolve_config.population,
                   "generations": evolve_config.generations,
                   "seeds": list(evolve_config.seeds),
                   "total_timesteps": evolve_config.total_timesteps},
        "test": report.to_json(),
    }  # fmt: skip
    card = card_for(
        model, chosen, best.ppo, symbol=symbol, timeframe=timeframe,
        seed=evolve_config.seed, metrics=metrics, data_source=data_source,
    )  # fmt: skip
    return TrainedPolicy(model, card, report, search)
