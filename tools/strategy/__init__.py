"""Strategy specifications (validated pydantic models), their signals, and presets."""

from tools.strategy._presets import preset, preset_names
from tools.strategy._signals import compute_indicators, evaluate, signals
from tools.strategy._spec import StrategySpec, parse_spec

__all__ = [
    "StrategySpec",
    "compute_indicators",
    "evaluate",
    "parse_spec",
    "preset",
    "preset_names",
    "signals",
]
