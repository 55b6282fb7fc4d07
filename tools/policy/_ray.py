"""Fitness evaluations as Ray tasks (``EvolveConfig.backend == "ray"``): on a local Ray
started here with ``workers`` CPUs when no address is given, or on the cluster at
``ray_address`` (every node needs Tiller installed, as the driver has it).

A task is the same ``candidate_fitness`` call a pool process makes, with one torch thread,
so the scores are those of the process pool for the same genes and seeds."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from core.errors import ConfigError, UnavailableError

if TYPE_CHECKING:
    from tools.policy._env import EnvFactory
    from tools.policy._evolve import EvolveConfig

Genes = tuple[float, ...]


def _fitness_task(genes: Genes, factory: EnvFactory, config: EvolveConfig) -> float:
    import torch

    from tools.policy._fitness import candidate_fitness

    torch.set_num_threads(1)  # as the process pool's workers: two threads collapse on 2 cores
    return candidate_fitness(genes, factory, config)


class RayPool:
    """Ray, connected or started for one search; ``close`` stops a Ray it started."""

    def __init__(self, workers: int, address: str | None) -> None:
        try:
            import ray
        except ImportError:
            raise ConfigError(
                "the ray backend needs Ray, which is an optional extra",
                hint="pip install 'tiller[ray]' (or `.venv/bin/pip install -e '.[ray]'`), "
                "or leave out --backend ray to use the process pool",
            ) from None
        self._ray: Any = ray
        self._started = False
        if not ray.is_initialized():
            self._init(workers, address)
        self._remote = ray.remote(num_cpus=1, max_retries=2)(_fitness_task)

    def _init(self, workers: int, address: str | None) -> None:
        ray = self._ray
        common = {"log_to_driver": False, "include_dashboard": False,
                  "configure_logging": False}  # fmt: skip
        try:
            if address is None:
                ray.init(num_cpus=workers, **common)
            else:
                ray.init(address=address, **common)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = f"at {address}" if address else "locally"
            raise UnavailableError(
                f"cannot start or reach Ray {where}: {exc}",
                hint="check the address (ray://HOST:10001 or HOST:6379 of the head node), "
                "or leave out --address to start a local Ray",
            ) from None
        self._started = True

    def map(
        self, genes: Sequence[Genes], factory: EnvFactory, config: EvolveConfig,
        on_done: Callable[[int, float], None],
    ) -> list[float]:  # fmt: skip
        """Every candidate's fitness, in ``genes``' order; ``on_done(index, score)`` as
        each finishes (in whatever order the cluster finishes them)."""
        ray = self._ray
        shared_factory, shared_config = ray.put(factory), ray.put(config)
        refs = [self._remote.remote(g, shared_factory, shared_config) for g in genes]
        index = {ref: i for i, ref in enumerate(refs)}
        results: dict[int, float] = {}
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                results[index[ref]] = float(ray.get(ref))
                on_done(index[ref], results[index[ref]])
        return [results[i] for i in range(len(genes))]

    def close(self) -> None:
        if self._started:
            self._ray.shutdown()
            self._started = False
