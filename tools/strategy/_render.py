"""Spec → canonical English that ``parse_strategy_text`` reads back into the same spec.

Every field is written out, defaults included, so the text is the whole strategy;
indicator names are written in backticks, so any name reads back exactly.
"""

from __future__ import annotations

import json
from decimal import Decimal

from tools.strategy._naming import describe, number_text
from tools.strategy._spec import (
    AllOf,
    AnyOf,
    Compare,
    Condition,
    FixedFraction,
    Not,
    Operand,
    StrategySpec,
)

_VERBS = {
    "crosses_above": "crosses above",
    "crosses_below": "crosses below",
    "gt": "is above",
    "lt": "is below",
}
_DIRECTIONS = {
    "long_only": "Long only.",
    "long_short": "Long and short.",
    "short_only": "Short only.",
}
_FIELDS = frozenset({"open", "high", "low", "close", "volume"})


def render_strategy(spec: StrategySpec) -> str:
    """One sentence per line: header, definitions, rules, then every setting."""
    lines = _header(spec)
    for name, ind in spec.indicators.items():
        lines.append(f"Let {_name(name)} be {describe(ind.model_dump())}.")
    lines += _rules(spec)
    lines.append(_DIRECTIONS[spec.direction])
    lines.append(_sizing(spec))
    for label, value in (
        ("Stop loss", spec.stop_loss),
        ("Take profit", spec.take_profit),
        ("Trailing stop", spec.trailing_stop),
    ):
        lines.append(f"No {label.lower()}." if value is None else f"{label} {_pct(value)}.")
    lines.append(f"Fees {_pct(spec.fee_rate)} per fill. Slippage {_pct(spec.slippage)} per fill.")
    lines.append(f"Start with {spec.initial_cash.normalize():f} in cash.")
    return "\n".join(lines)


def _header(spec: StrategySpec) -> list[str]:
    if spec.name == "custom" and not spec.description:
        return []
    text = f"Strategy {json.dumps(spec.name, ensure_ascii=False)}"
    if spec.description:
        text += f", described as {json.dumps(spec.description, ensure_ascii=False)}"
    return [text + "."]


def _rules(spec: StrategySpec) -> list[str]:
    if spec.direction == "short_only" and spec.short_entry is None and spec.short_exit is None:
        # Short only with the default short rules: they are the long rules reversed, and
        # reading them as such is how the parser takes a text with only short rules.
        pairs = [("Short", spec.exit), ("Cover", spec.entry)]
    else:
        pairs = [
            ("Buy", spec.entry),
            ("Sell", spec.exit),
            ("Short", spec.short_entry),
            ("Cover", spec.short_exit),
        ]
    return [f"{verb} when {condition_text(c)}." for verb, c in pairs if c is not None]


def condition_text(cond: Condition, nested: bool = False) -> str:
    if isinstance(cond, Compare):
        return f"{_operand(cond.left)} {_VERBS[cond.op]} {_operand(cond.right)}"
    if isinstance(cond, Not):
        return f"not ({condition_text(cond.cond)})"
    items, word, group = (
        (cond.all, "and", "all of") if isinstance(cond, AllOf) else (cond.any, "or", "any of")
    )
    if len(items) == 1:
        return f"{group} ({condition_text(items[0])})"
    text = f" {word} ".join(
        condition_text(c, nested=isinstance(c, AllOf | AnyOf) and len(_items(c)) > 1) for c in items
    )
    return f"({text})" if nested else text


def _items(cond: AllOf | AnyOf) -> list[Condition]:
    return cond.all if isinstance(cond, AllOf) else cond.any


def _operand(op: Operand) -> str:
    if isinstance(op, float):
        return number_text(op)
    return op if op in _FIELDS else _name(op)


def _name(name: str) -> str:
    if "`" in name:
        raise ValueError(f"indicator name {name!r} contains a backtick; rename it to render it")
    return f"`{name}`"


def _pct(value: float) -> str:
    return f"{(Decimal(repr(value)) * 100).normalize():f}%"


def _sizing(spec: StrategySpec) -> str:
    s = spec.sizing
    if isinstance(s, FixedFraction):
        return f"Invest {_pct(s.fraction)} of equity per position."
    return (
        f"Target {_pct(s.target_vol)} annualised volatility over {s.lookback} bars, "
        f"at most {_pct(s.max_fraction)} of equity."
    )
