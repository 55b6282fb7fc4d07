"""Named, ready-to-run strategies (``tiller backtest --preset NAME``)."""

from __future__ import annotations

import difflib
from typing import Any

from core.errors import ConfigError
from tools.strategy._spec import StrategySpec, parse_spec

_PRESETS: dict[str, dict[str, Any]] = {
    "sma-cross": {
        "name": "sma-cross",
        "description": "Long when the 10-bar SMA crosses above the 50-bar SMA; flat when it "
        "crosses back below.",
        "indicators": {
            "fast": {"kind": "sma", "window": 10},
            "slow": {"kind": "sma", "window": 50},
        },
        "entry": {"op": "crosses_above", "left": "fast", "right": "slow"},
        "exit": {"op": "crosses_below", "left": "fast", "right": "slow"},
    },
    "rsi-reversion": {
        "name": "rsi-reversion",
        "description": "Buy when RSI(14) crosses back above 30 from oversold; sell when it "
        "crosses above 70; 10% stop-loss.",
        "indicators": {"rsi": {"kind": "rsi", "window": 14}},
        "entry": {"op": "crosses_above", "left": "rsi", "right": 30},
        "exit": {"op": "crosses_above", "left": "rsi", "right": 70},
        "stop_loss": 0.10,
    },
    "buy-hold": {
        "name": "buy-hold",
        "description": "Buy at the first bar's close (filled at the next open) and hold.",
        "entry": {"op": "gt", "left": "close", "right": 0},
    },
    "macd-trend": {
        "name": "macd-trend",
        "description": "Long while the MACD line is above its signal line and price is above "
        "the 200-bar EMA.",
        "indicators": {"macd": {"kind": "macd"}, "trend": {"kind": "ema", "window": 200}},
        "entry": {
            "op": "and",
            "all": [
                {"op": "crosses_above", "left": "macd", "right": "macd.signal"},
                {"op": "gt", "left": "close", "right": "trend"},
            ],
        },
        "exit": {"op": "crosses_below", "left": "macd", "right": "macd.signal"},
    },
}


def preset_names() -> list[str]:
    return sorted(_PRESETS)


def preset(name: str, **overrides: Any) -> StrategySpec:
    if name not in _PRESETS:
        hint = difflib.get_close_matches(name, list(_PRESETS), n=1)
        did = f" Did you mean {hint[0]!r}?" if hint else ""
        raise ConfigError(f"no preset {name!r}; choose one of {', '.join(preset_names())}.{did}")
    return parse_spec({**_PRESETS[name], **overrides})
