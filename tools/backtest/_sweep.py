"""Parameter sweeps: one strategy, many parameter sets, the same bars.

Each distinct indicator is computed once and shared; the numba kernels release the GIL,
so ``workers`` > 1 runs parameter sets on several cores with threads (no pickling of
the bars).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

from core.errors import ConfigError
from core.types import Timeframe
from tools.backtest._result import compute_metrics
from tools.backtest._runner import periods_per_year, run_arrays
from tools.strategy import StrategySpec, parse_spec, signals
from tools.strategy._signals import IndicatorCache


def with_overrides(spec: StrategySpec, overrides: Mapping[str, Any]) -> StrategySpec:
    """A copy of ``spec`` with dotted paths replaced (``indicators.fast.window``),
    validated like any spec."""
    data = spec.model_dump(mode="json")
    for path, value in overrides.items():
        node: Any = data
        *parents, leaf = path.split(".")
        for key in parents:
            if not isinstance(node, dict) or key not in node:
                raise ConfigError(f"sweep parameter {path!r}: no {key!r} in the spec")
            node = node[key]
        if not isinstance(node, dict) or leaf not in node:
            raise ConfigError(f"sweep parameter {path!r}: no {leaf!r} in the spec")
        node[leaf] = copy.deepcopy(value)
    return parse_spec(data)


def sweep(
    spec: StrategySpec,
    frame: pd.DataFrame,
    grid: Sequence[Mapping[str, Any]],
    *,
    symbol: str,
    timeframe: str,
    workers: int = 1,
) -> pd.DataFrame:
    """One row per parameter set: the overrides, then every metric and final equity."""
    specs = [with_overrides(spec, params) for params in grid]
    bars = {c: np.ascontiguousarray(frame[c].to_numpy(dtype="float64")) for c in frame.columns}
    ppy = periods_per_year(symbol, timeframe)
    bar_days = Timeframe(timeframe).seconds / 86400
    open_times = pd.DatetimeIndex(frame.index).as_unit("ns").asi8
    cache: IndicatorCache = {}
    for one in specs:  # fill the cache up front so threads only read it
        signals(one, bars, cache)

    def run_one(one: StrategySpec) -> dict[str, Any]:
        sig = signals(one, bars, cache)
        sim = run_arrays(one, bars, sig, ppy)
        metrics = compute_metrics(
            sim, init_cash=float(one.initial_cash), periods_per_year=ppy, bar_days=bar_days,
            open_times=open_times,
        )  # fmt: skip
        return {**metrics, "final_equity": float(sim.equity[-1])}

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        rows = list(pool.map(run_one, specs))
    return pd.concat([pd.DataFrame(list(grid)), pd.DataFrame(rows)], axis=1)
