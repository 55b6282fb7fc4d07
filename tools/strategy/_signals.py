"""Turn a spec into arrays: indicator values, then boolean signals per bar (at the close)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from tools import indicators as ind
from tools.strategy._spec import (
    ATR,
    EMA,
    MACD,
    ROC,
    RSI,
    SMA,
    AllOf,
    AnyOf,
    Bollinger,
    Compare,
    Condition,
    Indicator,
    Not,
    StrategySpec,
)

Arrays = Mapping[str, np.ndarray]


IndicatorCache = dict[Indicator, dict[str, np.ndarray]]


def indicator_outputs(spec_ind: Indicator, bars: Arrays) -> dict[str, np.ndarray]:
    """One indicator's outputs keyed by suffix ("" is the main output)."""
    if isinstance(spec_ind, SMA):
        return {"": ind.sma(bars[spec_ind.source], spec_ind.window)}
    if isinstance(spec_ind, EMA):
        return {"": ind.ema(bars[spec_ind.source], spec_ind.window)}
    if isinstance(spec_ind, RSI):
        return {"": ind.rsi(bars["close"], spec_ind.window)}
    if isinstance(spec_ind, ROC):
        return {"": ind.roc(bars[spec_ind.source], spec_ind.window)}
    if isinstance(spec_ind, ATR):
        return {"": ind.atr(bars["high"], bars["low"], bars["close"], spec_ind.window)}
    if isinstance(spec_ind, MACD):
        line = ind.ema(bars["close"], spec_ind.fast) - ind.ema(bars["close"], spec_ind.slow)
        signal = ind.ema(line, spec_ind.signal)
        return {"": line, ".macd": line, ".signal": signal, ".hist": line - signal}
    assert isinstance(spec_ind, Bollinger)
    mid = ind.sma(bars["close"], spec_ind.window)
    width = spec_ind.k * ind.rolling_std(bars["close"], spec_ind.window)
    return {"": mid, ".middle": mid, ".upper": mid + width, ".lower": mid - width}


def compute_indicators(
    spec: StrategySpec, bars: Arrays, cache: IndicatorCache | None = None
) -> dict[str, np.ndarray]:
    """Every operand a condition can name: price fields plus each indicator output.

    ``cache`` (shared across specs on the same bars, e.g. in a parameter sweep) keeps
    each distinct indicator from being computed twice.
    """
    values: dict[str, np.ndarray] = {k: bars[k] for k in ("open", "high", "low", "close", "volume")}
    for name, spec_ind in spec.indicators.items():
        if cache is None:
            outputs = indicator_outputs(spec_ind, bars)
        else:
            outputs = cache.get(spec_ind) or cache.setdefault(
                spec_ind, indicator_outputs(spec_ind, bars)
            )
        for suffix, array in outputs.items():
            values[name + suffix] = array
    return values


def _operand(values: dict[str, np.ndarray], operand: str | float, n: int) -> np.ndarray:
    if isinstance(operand, str):
        return values[operand]
    return np.full(n, float(operand))


def evaluate(cond: Condition, values: dict[str, np.ndarray], n: int) -> np.ndarray:
    """Boolean array, True where the condition holds at the bar's close. Comparisons
    with an undefined (warm-up) value are False."""
    if isinstance(cond, Compare):
        left = _operand(values, cond.left, n)
        right = _operand(values, cond.right, n)
        if cond.op == "crosses_above":
            return ind.crosses_above(left, right)
        if cond.op == "crosses_below":
            return ind.crosses_below(left, right)
        with np.errstate(invalid="ignore"):
            return np.greater(left, right) if cond.op == "gt" else np.less(left, right)
    if isinstance(cond, AllOf):
        out = evaluate(cond.all[0], values, n)
        for sub in cond.all[1:]:
            out &= evaluate(sub, values, n)
        return out
    if isinstance(cond, AnyOf):
        out = evaluate(cond.any[0], values, n)
        for sub in cond.any[1:]:
            out |= evaluate(sub, values, n)
        return out
    assert isinstance(cond, Not)
    return ~evaluate(cond.cond, values, n)


def signals(
    spec: StrategySpec, bars: Arrays, cache: IndicatorCache | None = None
) -> dict[str, np.ndarray]:
    """``entry``, ``exit``, ``short_entry``, ``short_exit`` boolean arrays (all four
    present; unused ones are all False and share one array)."""
    n = bars["close"].shape[0]
    values = compute_indicators(spec, bars, cache)
    none = np.zeros(n, dtype=np.bool_)
    entry = evaluate(spec.entry, values, n)
    exit_ = evaluate(spec.exit, values, n) if spec.exit is not None else none
    short_entry = short_exit = none
    if spec.direction != "long_only":
        short_cond = spec.short_entry or spec.exit
        short_entry = evaluate(short_cond, values, n) if short_cond is not None else none
        short_exit = evaluate(spec.short_exit or spec.entry, values, n)
    if spec.direction == "short_only":
        entry, exit_ = none, none
    return {"entry": entry, "exit": exit_, "short_entry": short_entry, "short_exit": short_exit}
