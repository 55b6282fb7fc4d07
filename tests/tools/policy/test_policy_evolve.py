from __future__ import annotations

import json
import math
import os
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from _policy_bars import tiny_forecast

from core.errors import ConfigError
from tools.policy import (
    FEATURE_SETS,
    EnvConfig,
    EnvFactory,
    EvaluationProgress,
    EvolveConfig,
    Windows,
    evolve,
)
from tools.policy._evolve import GENES, load_checkpoint

TINY = EvolveConfig(
    population=3,
    generations=2,
    seeds=(0,),
    workers=1,
    total_timesteps=300,
    n_steps_choices=(32, 64),
    window_range=(3, 6),
    net_arch=(8,),
    forecast=tiny_forecast(),
)


@pytest.fixture
def factory(bars: pd.DataFrame) -> EnvFactory:
    return EnvFactory(bars, Windows.split(len(bars), max_window=6), EnvConfig())


def test_evolve_when_resumed_from_checkpoint_then_continues_at_generation_2(
    factory: EnvFactory, tmp_path: Path
) -> None:
    ckpt = tmp_path / "evolve.json"
    seen: list[int] = []
    first = evolve(factory, replace(TINY, generations=1), checkpoint=ckpt)
    assert load_checkpoint(ckpt).generation == 1
    resumed = evolve(factory, TINY, checkpoint=ckpt, progress=lambda r: seen.append(r.generation))
    assert seen == [2]  # generation 1 was not rerun
    assert resumed.evaluations <= TINY.population
    assert [r.generation for r in resumed.history] == [1, 2]
    assert first.history[0] == resumed.history[0]
    straight = evolve(factory, TINY, checkpoint=tmp_path / "straight.json")
    assert straight.history == resumed.history
    assert straight.best_genes == resumed.best_genes
    saved = json.loads(ckpt.read_text())
    assert saved["generation"] == 2 and len(saved["population"]) == 3


def test_evolve_then_best_candidate_decodes_within_gene_space(factory: EnvFactory) -> None:
    events: list[EvaluationProgress] = []
    result = evolve(factory, replace(TINY, generations=1), on_evaluation=events.append)
    assert 3 <= result.best.env.window <= 6
    assert result.best.ppo.n_steps in (32, 64)
    assert 1e-5 <= result.best.ppo.learning_rate <= 1e-3
    assert result.best.ppo.total_timesteps == 300
    assert result.best.env.feature_set in FEATURE_SETS
    assert result.best_fitness == max(r.best_fitness for r in result.history)
    assert result.forecast is not None  # fitted once for the search, shared by candidates
    assert len(result.trial_fitness) == result.history[-1].evaluated == result.evaluations
    assert max(result.trial_fitness) == result.best_fitness
    # progress: every new candidate, from the initial population on
    starts = [e for e in events if e.done == 0]
    assert [e.generation for e in starts] == [0, 1]  # the initial population, generation 1
    assert math.isnan(starts[0].best_fitness)
    assert [e.done for e in events if e.generation == 0] == [0, 1, 2, 3]
    assert sum(e.total for e in starts) == result.evaluations
    assert events[-1].best_fitness == result.best_fitness


def test_evolve_when_forecast_off_then_gene_stays_off_and_no_forecaster(
    factory: EnvFactory,
) -> None:
    config = replace(TINY, population=2, generations=1, forecast=None, feature_sets=("returns",))
    result = evolve(factory, config)
    assert result.forecast is None
    assert not result.best.env.use_forecast and result.best.env.feature_set == "returns"
    assert config.gene_space()[GENES.index("use_forecast")] == [0]


def test_evolve_when_checkpoint_of_version_1_then_config_error_says_restart(
    factory: EnvFactory, tmp_path: Path
) -> None:
    ckpt = tmp_path / "evolve.json"
    ckpt.write_text(json.dumps({"version": 1, "generation": 3, "population": [], "search": {},
                                "fitness": [], "history": []}))  # fmt: skip
    with pytest.raises(ConfigError, match=r"version 1 cannot be resumed.*--restart"):
        evolve(factory, TINY, checkpoint=ckpt)


def test_evolve_when_checkpoint_from_other_search_then_config_error(
    factory: EnvFactory, tmp_path: Path
) -> None:
    ckpt = tmp_path / "evolve.json"
    evolve(factory, replace(TINY, generations=1), checkpoint=ckpt)
    other = replace(TINY, seeds=(1,))
    with pytest.raises(ConfigError, match="different search"):
        evolve(factory, other, checkpoint=ckpt)


def test_evolve_when_windows_too_early_for_widest_window_then_config_error(
    bars: pd.DataFrame,
) -> None:
    factory = EnvFactory(bars, Windows.split(len(bars), max_window=3), EnvConfig())
    with pytest.raises(ConfigError, match="max_window=6"):
        evolve(factory, TINY)


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs 2 cores")
def test_evolve_when_two_worker_processes_then_same_result_as_one(factory: EnvFactory) -> None:
    one = replace(TINY, population=2, generations=1)
    two = replace(one, workers=2)
    assert evolve(factory, two).history == evolve(factory, one).history
