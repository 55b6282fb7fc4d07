"""The whole training job behind ``tiller train policy``: evolve on the validation
window, train the winner, score it once on the untouched test window against the
baselines, deflate its Sharpe ratio by the search's trials, and describe all of it in
the model card."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from stable_baselines3 import PPO

from tools.backtest import periods_per_year
from tools.forecaster._model import EpochReport, PatchTSTForecaster
from tools.policy._env import EnvConfig, EnvFactory, Windows
from tools.policy._evaluate import run_episode
from tools.policy._evolve import EvolveConfig, EvolveResult, GenerationReport, evolve
from tools.policy._fitness import OnEvaluation
from tools.policy._ppo import PPOConfig, model_act, train_ppo
from tools.policy._registry import PolicyCard, card_for
from tools.policy._report import PolicyReport, baseline_episodes, compare


@dataclass(frozen=True)
class TrainProgress:
    """Progress callbacks, all optional and all called in this process: the forecast
    channels' fit (per epoch), the search (per scored candidate and per generation), and
    the PPO runs after it (``timesteps(stage, done, total)``)."""

    forecaster_epoch: Callable[[EpochReport], None] | None = None
    evaluation: OnEvaluation | None = None
    generation: Callable[[GenerationReport], None] | None = None
    timesteps: Callable[[str, int, int], None] | None = None

    def stage(self, name: str) -> Callable[[int, int], None] | None:
        report = self.timesteps
        if report is None:
            return None
        return lambda done, total: report(name, done, total)


@dataclass(frozen=True)
class TrainedPolicy:
    model: PPO
    card: PolicyCard
    report: PolicyReport
    search: EvolveResult
    forecaster: PatchTSTForecaster | None  # save it with the policy when not None


def train_policy(
    frame: pd.DataFrame,
    *,
    symbol: str,
    timeframe: str,
    evolve_config: EvolveConfig,
    base_env: EnvConfig | None = None,
    checkpoint: Path | None = None,
    progress: TrainProgress | None = None,
    data_source: str = "",
) -> TrainedPolicy:
    """Deterministic given ``evolve_config.seed`` (and its seeds)."""
    ppy = periods_per_year(symbol, timeframe)
    show = progress or TrainProgress()
    windows = Windows.split(len(frame), max_window=evolve_config.window_range[1])
    factory = EnvFactory(frame, windows, base_env or EnvConfig())
    search = evolve(factory, evolve_config, checkpoint=checkpoint, progress=show.generation,
                    on_evaluation=show.evaluation,
                    on_forecaster_epoch=show.forecaster_epoch)  # fmt: skip
    best = search.best
    chosen = factory.with_forecast(search.forecast).with_config(best.env)
    model, _ = train_ppo(best.ppo, chosen, evolve_config.seed, periods_per_year=ppy,
                         on_timesteps=show.stage("winner"))  # fmt: skip
    episode = run_episode(model_act(model), chosen("test"), periods_per_year=ppy)
    plain = PPOConfig(total_timesteps=best.ppo.total_timesteps, net_arch=best.ppo.net_arch)
    baselines = baseline_episodes(chosen, plain_ppo=plain, seed=evolve_config.seed,
                                  periods_per_year=ppy,
                                  on_timesteps=show.stage("plain-PPO baseline"))  # fmt: skip
    trials = search.trial_sharpes() if evolve_config.metric == "sharpe" else []
    report = compare(episode, baselines, periods_per_year=ppy, trial_sharpes=trials)
    metrics = {
        "validation_fitness": search.best_fitness,
        "fitness_metric": evolve_config.metric,
        "search": {"population": evolve_config.population,
                   "generations": evolve_config.generations,
                   "seeds": list(evolve_config.seeds),
                   "total_timesteps": evolve_config.total_timesteps,
                   "trials": len(search.trial_fitness),
                   "feature_sets": list(evolve_config.feature_sets),
                   "forecast_channels": evolve_config.forecast is not None},
        "test": report.to_json(),
    }  # fmt: skip
    card = card_for(
        model, chosen, best.ppo, symbol=symbol, timeframe=timeframe,
        seed=evolve_config.seed, metrics=metrics, data_source=data_source,
    )  # fmt: skip
    forecaster = search.forecast.model if search.forecast and best.env.use_forecast else None
    return TrainedPolicy(model, card, report, search, forecaster)
