"""Fitness evaluations as Ray tasks give the process pool's results for the same seeds
(skips, saying why, when Ray is not installed: it is the optional `ray` extra)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from _policy_bars import tiny_forecast

from core.errors import ConfigError
from tools.policy import EnvConfig, EnvFactory, EvolveConfig, Windows, evolve
from tools.policy._evolve import load_checkpoint

TINY = EvolveConfig(
    population=3, generations=2, seeds=(0,), workers=2, total_timesteps=300,
    n_steps_choices=(32, 64), window_range=(3, 6), net_arch=(8,), forecast=tiny_forecast(),
)  # fmt: skip


@pytest.fixture
def factory(bars: pd.DataFrame) -> EnvFactory:
    return EnvFactory(bars, Windows.split(len(bars), max_window=6), EnvConfig())


@pytest.mark.slow
def test_evolve_on_local_ray_then_same_generations_as_the_process_pool_and_a_checkpoint_each(
    factory: EnvFactory, tmp_path: Path
) -> None:
    pytest.importorskip("ray", reason="Ray is the optional `ray` extra: pip install -e '.[ray]'")
    ckpt = tmp_path / "ray.json"
    seen: list[int] = []
    on_ray = evolve(factory, replace(TINY, backend="ray"), checkpoint=ckpt,
                    progress=lambda r: seen.append(r.generation))  # fmt: skip
    pooled = evolve(factory, TINY)
    assert on_ray.history == pooled.history
    assert on_ray.best_genes == pooled.best_genes
    assert seen == [1, 2] and load_checkpoint(ckpt).generation == 2
    # The checkpoint of a Ray search resumes on the process pool (where fitness runs is
    # not part of the search).
    again = evolve(factory, replace(TINY, generations=3), checkpoint=ckpt)
    assert again.history[:2] == on_ray.history


def test_evolve_with_an_unknown_backend_is_refused_naming_the_two() -> None:
    with pytest.raises(ConfigError, match="'process' or 'ray'"):
        replace(TINY, backend="dask")  # type: ignore[arg-type]
