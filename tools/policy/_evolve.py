"""A genetic search (pygad) over PPO hyperparameters, the observation (window, feature
set, the forecast channels on or off) and the reward's penalties.

Fitness of a candidate = the mean, over ``seeds``, of the validation-window score of a
PPO policy trained on the training window: the validation window is never trained on,
and averaging seeds rewards settings that work, not one lucky initialisation. The test
window is never touched here.

Each generation runs as its own one-generation ``pygad.GA`` seeded with ``seed +
generation``, and the state after it (population, every fitness computed so far) goes to
a JSON checkpoint. Resuming from the checkpoint therefore continues exactly as an
uninterrupted run would, and candidates seen before (elites, duplicates) are not
retrained. Fitness evaluations of a generation run in ``workers`` processes.

The forecast channels do not depend on a genome: the search fits their forecaster once
(on resumption too, deterministically) and every candidate that turns them on shares it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from core.errors import ConfigError
from tools.forecaster._model import EpochReport
from tools.policy._channels import (
    FEATURE_SETS,
    ForecastChannels,
    ForecastConfig,
    fit_forecast_channels,
)
from tools.policy._env import EnvConfig, EnvFactory
from tools.policy._fitness import (
    FAILED,
    Evaluator,
    Genes,
    OnEvaluation,
)
from tools.policy._ppo import PPOConfig

GENES = (
    "log10_learning_rate",
    "n_steps",
    "gamma",
    "ent_coef",
    "window",
    "drawdown_penalty",
    "turnover_penalty",
    "use_forecast",  # 0/1
    "feature_set",  # index into EvolveConfig.feature_sets
)
# 2: the use_forecast and feature_set genes. A version-1 checkpoint's genomes lack them.
CHECKPOINT_VERSION = 2
GENE_TYPES: list[Any] = [
    [float, 6], int, [float, 6], [float, 6], int, [float, 6], [float, 6], int, int,
]  # fmt: skip


@dataclass(frozen=True)
class EvolveConfig:
    """The search. ``total_timesteps`` is the PPO budget of one training run; one fitness
    costs ``len(seeds)`` runs. ``workers`` processes evaluate a generation (1 runs them
    in this process; they are spawned, so a script that calls ``evolve`` with
    ``workers > 1`` needs the ``if __name__ == "__main__":`` guard). ``backend="ray"``
    makes each evaluation a Ray task instead: on a local Ray of ``workers`` CPUs, or on
    the cluster at ``ray_address``; the scores are the same.

    ``feature_sets`` are the observed-feature subsets the search may pick from
    (``FEATURE_SETS``); ``forecast`` configures the forecaster of the forecast channels,
    or ``None`` to keep them off (no forecaster is fitted)."""

    population: int = 8
    generations: int = 5
    seeds: tuple[int, ...] = (0, 1, 2)
    workers: int = 1
    backend: Literal["process", "ray"] = "process"
    ray_address: str | None = None  # None: a local Ray with ``workers`` CPUs
    total_timesteps: int = 5_000
    n_steps_choices: tuple[int, ...] = (64, 128, 256, 512)
    window_range: tuple[int, int] = (5, 30)
    net_arch: tuple[int, ...] = (32, 32)
    metric: Literal["sharpe", "total_return"] = "sharpe"
    periods_per_year: float = 252.0
    seed: int = 0
    feature_sets: tuple[str, ...] = tuple(FEATURE_SETS)
    forecast: ForecastConfig | None = field(default_factory=ForecastConfig)

    def __post_init__(self) -> None:
        if self.population < 2 or self.generations < 1:
            raise ConfigError(
                f"population must be >= 2 and generations >= 1, got "
                f"{self.population} and {self.generations}"
            )
        if not self.seeds:
            raise ConfigError("seeds must name at least one training seed, e.g. (0, 1, 2)")
        if self.backend not in ("process", "ray"):
            raise ConfigError(f"backend must be 'process' or 'ray', not {self.backend!r}")
        cores = os.cpu_count() or 1
        if not 1 <= self.workers <= cores:
            raise ConfigError(f"workers must be between 1 and {cores} (cores), got {self.workers}")
        low, high = self.window_range
        if not 1 <= low <= high:
            raise ConfigError(
                f"window_range must be (low, high) with 1 <= low <= high: {low, high}"
            )
        unknown = [f for f in self.feature_sets if f not in FEATURE_SETS]
        if not self.feature_sets or unknown:
            raise ConfigError(
                f"feature_sets must name some of {', '.join(FEATURE_SETS)}; got "
                f"{list(self.feature_sets)}"
            )

    def gene_space(self) -> list[Any]:
        low, high = self.window_range
        return [
            {"low": -5.0, "high": -3.0},
            list(self.n_steps_choices),
            {"low": 0.9, "high": 0.999},
            {"low": 0.0, "high": 0.05},
            list(range(low, high + 1)),
            {"low": 0.0, "high": 0.2},
            {"low": 0.0, "high": 0.005},
            [0, 1] if self.forecast is not None else [0],
            list(range(len(self.feature_sets))),
        ]


@dataclass(frozen=True)
class Candidate:
    """One decoded genome: what it trains with and what its environment charges."""

    ppo: PPOConfig
    env: EnvConfig

    @classmethod
    def decode(cls, genes: Sequence[float], config: EvolveConfig, base: EnvConfig) -> Candidate:
        values = dict(zip(GENES, (float(g) for g in genes), strict=True))
        n_steps = round(values["n_steps"])
        ppo = PPOConfig(
            learning_rate=10.0 ** values["log10_learning_rate"],
            n_steps=n_steps,
            batch_size=min(64, n_steps),
            gamma=values["gamma"],
            ent_coef=values["ent_coef"],
            net_arch=config.net_arch,
            total_timesteps=config.total_timesteps,
        )
        env = replace(
            base,
            window=round(values["window"]),
            drawdown_penalty=values["drawdown_penalty"],
            turnover_penalty=values["turnover_penalty"],
            use_forecast=bool(round(values["use_forecast"])),
            feature_set=config.feature_sets[round(values["feature_set"])],
        )
        return cls(ppo, env)

    def to_json(self) -> dict[str, Any]:
        return {"ppo": self.ppo.to_json(), "env": asdict(self.env)}


@dataclass(frozen=True)
class GenerationReport:
    """Progress after one generation: the best candidate so far and how the population
    scored."""

    generation: int
    best_fitness: float
    mean_fitness: float
    best_genes: Genes
    evaluated: int  # distinct candidates scored since the search began


@dataclass
class EvolveState:
    """Everything a checkpoint holds. ``generation`` counts completed generations;
    ``population`` is the one the next generation starts from."""

    generation: int
    population: list[Genes]
    search: dict[str, Any] = field(default_factory=dict)
    fitness: dict[Genes, float] = field(default_factory=dict)
    history: list[GenerationReport] = field(default_factory=list)

    def best(self) -> tuple[Genes, float]:
        genes = max(self.fitness, key=lambda g: self.fitness[g])
        return genes, self.fitness[genes]

    def to_json(self) -> dict[str, Any]:
        return {
            "version": CHECKPOINT_VERSION,
            "generation": self.generation,
            "search": self.search,
            "population": [list(g) for g in self.population],
            "fitness": [[list(g), f] for g, f in self.fitness.items()],
            "history": [asdict(r) for r in self.history],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EvolveState:
        version = data.get("version")
        if version != CHECKPOINT_VERSION:
            why = (
                "its genomes lack the use_forecast and feature_set genes this version searches"
                if version == 1
                else f"this version reads version {CHECKPOINT_VERSION}"
            )
            raise ConfigError(
                f"checkpoint version {version} cannot be resumed: {why}; delete the "
                "checkpoint (or pass --restart) to start the search afresh"
            )
        history = [
            GenerationReport(**{**r, "best_genes": tuple(r["best_genes"])}) for r in data["history"]
        ]
        return cls(
            generation=int(data["generation"]),
            population=[tuple(g) for g in data["population"]],
            search=data["search"],
            fitness={tuple(g): float(f) for g, f in data["fitness"]},
            history=history,
        )


def save_checkpoint(state: EvolveState, path: Path) -> None:
    """Write atomically, so an interrupted write leaves the previous checkpoint intact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(state.to_json(), indent=1))
    tmp.replace(path)


def load_checkpoint(path: Path) -> EvolveState:
    return EvolveState.from_json(json.loads(path.read_text()))


@dataclass(frozen=True)
class EvolveResult:
    """The best candidate found (by validation fitness) and the search's history.
    ``evaluations`` counts the fitness evaluations this call ran; checkpointed ones and
    repeats are not rerun. ``trial_fitness`` holds the fitness of every distinct
    candidate scored since the search began (the trials a deflated Sharpe ratio counts);
    ``forecast`` the forecast channels the candidates saw (None when off)."""

    best: Candidate
    best_genes: Genes
    best_fitness: float
    history: tuple[GenerationReport, ...]
    evaluations: int
    trial_fitness: tuple[float, ...] = ()
    forecast: ForecastChannels | None = None

    def trial_sharpes(self) -> list[float]:
        """Trial fitnesses that are Sharpe ratios: a mean that took in the failed-run
        sentinel is not (no real Sharpe is near it); the caller checks the metric."""
        return [f for f in self.trial_fitness if f > FAILED / 1000]


def evolve(
    factory: EnvFactory,
    config: EvolveConfig,
    *,
    checkpoint: Path | None = None,
    progress: Callable[[GenerationReport], None] | None = None,
    on_evaluation: OnEvaluation | None = None,
    on_forecaster_epoch: Callable[[EpochReport], None] | None = None,
) -> EvolveResult:
    """Run (or resume from ``checkpoint``) the search up to ``config.generations``.
    ``progress`` sees each finished generation, ``on_evaluation`` each scored candidate,
    ``on_forecaster_epoch`` the forecast channels' fit; all run in this process."""
    _check_windows(factory, config)
    factory = _with_forecast(factory, config, on_forecaster_epoch)
    search = _search_key(factory, config)
    if checkpoint is not None and checkpoint.exists():
        state = load_checkpoint(checkpoint)
        if state.search != search:
            raise ConfigError(
                f"checkpoint {checkpoint} was written by a different search "
                f"({state.search}); delete it or restore that search's settings"
            )
    else:
        state = EvolveState(0, _initial_population(config), search=search)
    with Evaluator(factory, config, state.fitness, on_evaluation) as evaluate:
        while state.generation < config.generations:
            _run_generation(state, config, evaluate)
            if checkpoint is not None:
                save_checkpoint(state, checkpoint)
            if progress is not None:
                progress(state.history[-1])
        evaluations = evaluate.count
    genes, fitness = state.best()
    best = Candidate.decode(genes, config, factory.config)
    trials = tuple(state.fitness.values())
    return EvolveResult(
        best, genes, fitness, tuple(state.history), evaluations, trials, factory.forecast
    )


def _check_windows(factory: EnvFactory, config: EvolveConfig) -> None:
    widest = replace(factory.config, window=config.window_range[1])
    first = widest.first_decision_bar()
    start, end = factory.windows.train
    if start < first:
        raise ConfigError(
            f"the training window starts at bar {start}, too early for "
            f"an observation window of {config.window_range[1]} bars; build the windows "
            f"with Windows.split(n, max_window={config.window_range[1]})"
        )
    if config.forecast is not None:
        ppo_start = start + int((end - start) * config.forecast.fit_fraction)
        if ppo_start + config.window_range[1] + 1 > end:
            raise ConfigError(
                f"the training window [{start}, {end}) is too short to fit the forecast "
                f"channels' forecaster on its first {config.forecast.fit_fraction:.0%} and "
                "train PPO on the rest; use a longer history or turn them off (forecast=None)"
            )


def _with_forecast(
    factory: EnvFactory, config: EvolveConfig, on_epoch: Callable[[EpochReport], None] | None
) -> EnvFactory:
    """The factory with the forecast channels ``config`` asks for (fitted here unless the
    factory already holds them), or without any."""
    if config.forecast is None:
        return factory.with_forecast(None)
    if factory.forecast is not None and factory.forecast.config == config.forecast:
        return factory
    channels = fit_forecast_channels(factory.bars, factory.windows.train, config.forecast, on_epoch)
    return factory.with_forecast(channels)


def _search_key(factory: EnvFactory, config: EvolveConfig) -> dict[str, Any]:
    """What must not change between a checkpoint and its resumption (fitness values
    depend on all of it); ``generations``, ``workers`` and where fitness is evaluated
    (``backend``, ``ray_address``) may."""
    key = asdict(replace(config, generations=1, workers=1))
    for name in ("generations", "workers", "backend", "ray_address"):
        del key[name]
    key["env"] = asdict(factory.config)
    key["windows"] = asdict(factory.windows)
    # Through JSON so a fresh key compares equal to one read back from a checkpoint.
    loaded: dict[str, Any] = json.loads(json.dumps(key))
    return loaded


def _initial_population(config: EvolveConfig) -> list[Genes]:
    rng = np.random.default_rng(config.seed)
    population = []
    for _ in range(config.population):
        genes = []
        for space in config.gene_space():
            if isinstance(space, dict):
                genes.append(round(float(rng.uniform(space["low"], space["high"])), 6))
            else:
                genes.append(float(space[int(rng.integers(len(space)))]))
        population.append(tuple(genes))
    return population


def _as_genes(solution: Sequence[Any]) -> Genes:
    return tuple(round(float(x), 6) for x in solution)


def _run_generation(state: EvolveState, config: EvolveConfig, evaluate: Evaluator) -> None:
    """One pygad generation from ``state.population``; updates ``state`` in place."""
    import pygad

    generation = state.generation + 1
    if state.generation == 0:
        evaluate(state.population, 0)  # reported as the initial population; pygad reuses it

    def fitness(_ga: Any, solutions: Any, _indices: Any) -> list[float]:
        return evaluate([_as_genes(s) for s in solutions], generation)

    ga = pygad.GA(
        num_generations=1,
        num_parents_mating=max(2, config.population // 2),
        fitness_func=fitness,
        fitness_batch_size=config.population,
        initial_population=[list(g) for g in state.population],
        gene_space=config.gene_space(),
        gene_type=GENE_TYPES,
        parent_selection_type="tournament",
        K_tournament=2,
        keep_elitism=1,
        crossover_type="uniform",
        mutation_type="random",
        mutation_num_genes=1,
        mutation_by_replacement=True,
        random_seed=config.seed + state.generation + 1,
        suppress_warnings=True,
    )
    ga.run()
    state.population = [_as_genes(s) for s in ga.population]
    scores = evaluate(state.population, generation)
    state.generation += 1
    best_genes, best = state.best()
    report = GenerationReport(
        state.generation, best, float(np.mean(scores)), best_genes, len(state.fitness)
    )
    state.history.append(report)
