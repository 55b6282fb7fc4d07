"""Fitness evaluation for the genetic search: one candidate's score, and a cached,
optionally multi-process evaluator that reports progress from the parent process as
evaluations complete (workers print nothing)."""

from __future__ import annotations

import math
import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from tools.policy._env import EnvFactory
from tools.policy._ppo import train_ppo

if TYPE_CHECKING:
    from tools.policy._evolve import EvolveConfig
    from tools.policy._ray import RayPool

Genes = tuple[float, ...]
FAILED = -1e9  # the score of a non-finite metric, so the search can still rank it


@dataclass(frozen=True)
class EvaluationProgress:
    """Progress within one batch of new candidates. ``generation`` 0 is the initial
    population; ``best_fitness`` is the best of every candidate scored so far (NaN
    before the first)."""

    generation: int
    done: int
    total: int
    best_fitness: float


OnEvaluation = Callable[[EvaluationProgress], None]


def candidate_fitness(genes: Genes, factory: EnvFactory, config: EvolveConfig) -> float:
    """Mean validation score over ``config.seeds``; a module-level function so worker
    processes can run it."""
    from tools.policy._evolve import Candidate

    cand = Candidate.decode(genes, config, factory.config)
    env_factory = factory.with_config(cand.env)
    scores = []
    for seed in config.seeds:
        _, result = train_ppo(
            cand.ppo,
            env_factory,
            seed,
            eval_split="validation",
            periods_per_year=config.periods_per_year,
        )
        score = getattr(result.metrics, config.metric)
        scores.append(score if math.isfinite(score) else FAILED)
    return float(np.mean(scores))


class Evaluator:
    """Fitness with a cache shared with the checkpoint; a process pool when
    ``workers > 1`` (spawned, not forked: forking after torch has started its threads
    can deadlock). New scores enter the cache in the population's order whatever order
    the workers finish in, so one worker and two give the same checkpoint."""

    def __init__(
        self,
        factory: EnvFactory,
        config: EvolveConfig,
        cache: dict[Genes, float],
        on_evaluation: OnEvaluation | None = None,
    ) -> None:
        self._factory, self._config, self._cache = factory, config, cache
        self._on_evaluation = on_evaluation
        self._pool: ProcessPoolExecutor | None = None
        self._ray: RayPool | None = None
        self.count = 0

    def __enter__(self) -> Evaluator:
        if self._config.backend == "ray":
            from tools.policy._ray import RayPool

            self._ray = RayPool(self._config.workers, self._config.ray_address)
        elif self._config.workers > 1:
            self._pool = ProcessPoolExecutor(
                self._config.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
            )
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
        if self._ray is not None:
            self._ray.close()

    def __call__(self, population: Sequence[Genes], generation: int) -> list[float]:
        missing = list(dict.fromkeys(g for g in population if g not in self._cache))
        scores = self._score(missing, generation)
        self._cache.update(zip(missing, scores, strict=True))
        self.count += len(missing)
        return [self._cache[g] for g in population]

    def _score(self, missing: list[Genes], generation: int) -> list[float]:
        if not missing:
            return []
        best = max(self._cache.values(), default=math.nan)
        n, results = len(missing), {}
        self._report(generation, 0, n, best)
        if self._ray is not None:

            def finished(i: int, score: float) -> None:
                nonlocal best
                results[i] = score
                best = _best(best, score)
                self._report(generation, len(results), n, best)

            self._ray.map(missing, self._factory, self._config, finished)
        elif self._pool is None:
            for i, genes in enumerate(missing):
                results[i] = candidate_fitness(genes, self._factory, self._config)
                best = _best(best, results[i])
                self._report(generation, i + 1, n, best)
        else:
            pool = self._pool
            futures: dict[Future[float], int] = {
                pool.submit(candidate_fitness, genes, self._factory, self._config): i
                for i, genes in enumerate(missing)
            }
            for done, future in enumerate(as_completed(futures), start=1):
                results[futures[future]] = future.result()
                best = _best(best, results[futures[future]])
                self._report(generation, done, n, best)
        return [results[i] for i in range(n)]

    def _report(self, generation: int, done: int, total: int, best: float) -> None:
        if self._on_evaluation is not None:
            self._on_evaluation(EvaluationProgress(generation, done, total, best))


def _best(best: float, score: float) -> float:
    return score if math.isnan(best) else max(best, score)


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)  # two busy threads per process collapse on 2 cores
