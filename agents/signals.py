"""Tool calls to the shipped or trained models, each returned with the honest
out-of-sample figures of its model card, so a tool that has shown no edge is weighed as
such (by the rules reasoner, and by an LLM that reads the same figures)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from agents.models import ForecastSignal, PolicySignal

HORIZON = 5


@dataclass
class ModelCache:
    """Loaded models by folder: an agent backtest asks the same model hundreds of times."""

    loaded: dict[Path, Any] = field(default_factory=dict)

    def get(self, folder: Path, load: Any) -> Any:
        if folder not in self.loaded:
            self.loaded[folder] = load(folder)
        return self.loaded[folder]


def forecast_signal(
    roots: list[Path], symbol: str, timeframe: str, bars: pd.DataFrame, as_of: datetime,
    cache: ModelCache,
) -> ForecastSignal:  # fmt: skip
    from tools.forecaster import forecast_bars, latest_folder, load_model

    folder = latest_folder(roots, symbol, timeframe, as_of=as_of)
    model, card = cache.get(folder, load_model)
    horizon = min(HORIZON, model.horizon)
    result = forecast_bars(model, card, bars, horizon, as_of=as_of)
    row = result.log_returns[-1]
    quantiles = list(result.quantiles)
    median = float(row[quantiles.index(0.5)])
    mase = _mase(card.metrics)
    edge = mase is not None and mase < 1.0
    ewma = None if result.ewma_volatility is None else float(result.ewma_volatility[-1])
    note = (
        f"out of sample the median's MASE vs a random walk was {mase:.3f}"
        if mase is not None
        else "the model card has no out-of-sample score"
    )
    note += (
        "; it beat the random walk" if edge else "; no edge over a random walk: a volatility gauge"
    )
    if result.uses_future_data:
        note += f"; WARNING: trained on bars up to {card.data_end}, after this run's as-of"
    return ForecastSignal(
        symbol=symbol, model_id=card.model_id, horizon=horizon, median_log_return=median,
        q10_log_return=float(row[quantiles.index(0.1)]),
        q90_log_return=float(row[quantiles.index(0.9)]),
        volatility=float(result.volatility[-1]), volatility_ewma=ewma,
        mase_vs_random_walk=mase, has_edge=edge, uses_future_data=result.uses_future_data,
        note=note,
    )  # fmt: skip


def _mase(metrics: dict[str, Any]) -> float | None:
    try:
        return float(metrics["all_horizons"]["patchtst"]["mase"])
    except (KeyError, TypeError, ValueError):
        return None


def policy_signal(
    roots: list[Path], symbol: str, timeframe: str, bars: pd.DataFrame, position: int,
    cache: ModelCache,
) -> PolicySignal:  # fmt: skip
    from tools.policy import decide, latest_policy_folder, load_policy
    from tools.policy._registry import load_forecaster

    folder = latest_policy_folder(roots, symbol, timeframe)

    def load(path: Path) -> tuple[Any, Any, Any]:
        model, card = load_policy(path)
        return model, card, load_forecaster(path, card)

    model, card, forecaster = cache.get(folder, load)
    decision = decide(model, card, bars, position, forecaster=forecaster)
    test = card.metrics.get("test", {}) if isinstance(card.metrics, dict) else {}
    bh = test.get("baselines", {}).get("buy-and-hold", {})
    diff = bh.get("sharpe_diff")
    dsr = (test.get("deflated_sharpe") or {}).get("dsr")
    edge = bool(diff) and diff.get("verdict") == "better"
    future = card.data_end > decision.as_of.isoformat()
    sharpe = test.get("policy", {}).get("sharpe")
    note = (
        f"test-window Sharpe {_f(sharpe)} vs buy-and-hold {_f(bh.get('metrics', {}).get('sharpe'))}"
        f" ({diff.get('verdict') if diff else 'no comparison'}), deflated Sharpe {_f(dsr)}"
    )
    note += "" if edge else "; no demonstrated edge over buy-and-hold"
    if future:
        note += f"; WARNING: trained on bars up to {card.data_end}, after this decision"
    return PolicySignal(
        symbol=symbol, policy_id=card.policy_id, target_position=decision.target_position,
        confidence=float(decision.confidence), test_sharpe=sharpe,
        buy_hold_sharpe=bh.get("metrics", {}).get("sharpe"),
        sharpe_diff_vs_buy_hold=diff, deflated_sharpe=dsr, has_edge=edge,
        uses_future_data=future, note=note,
    )  # fmt: skip


def _f(value: Any) -> str:
    return "n/a" if value is None else f"{float(value):.2f}"
