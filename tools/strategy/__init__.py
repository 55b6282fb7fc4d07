"""Strategy specifications (validated pydantic models), their signals, presets, and
their plain-English form (parsed offline, rendered canonically)."""

from tools.strategy._english import parse_strategy_text
from tools.strategy._outcome import ParseOutcome, limits_refusal, validate_llm_spec
from tools.strategy._presets import preset, preset_names
from tools.strategy._render import render_strategy
from tools.strategy._signals import compute_indicators, evaluate, signals
from tools.strategy._spec import StrategySpec, parse_spec

__all__ = [
    "ParseOutcome",
    "StrategySpec",
    "compute_indicators",
    "evaluate",
    "limits_refusal",
    "parse_spec",
    "parse_strategy_text",
    "preset",
    "preset_names",
    "render_strategy",
    "signals",
    "validate_llm_spec",
]
