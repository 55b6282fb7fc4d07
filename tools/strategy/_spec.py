"""The strategy specification: what a user writes as JSON, what plain-English strategies
are parsed into, and what the backtester runs. Validated strictly: unknown fields and
impossible values are refused with a message that says how to fix them."""

from __future__ import annotations

import difflib
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    model_validator,
)

from core.errors import ConfigError

PRICE_FIELDS = ("open", "high", "low", "close", "volume")


class _Strict(BaseModel):
    # NaN compares false with everything: a condition against NaN would silently never
    # fire (a backtest of 0 trades), so non-finite numbers are refused everywhere.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class SMA(_Strict):
    kind: Literal["sma"]
    window: int = Field(ge=1, le=100_000, description="Bars averaged.")
    source: Literal["open", "high", "low", "close", "volume"] = "close"


class EMA(_Strict):
    kind: Literal["ema"]
    window: int = Field(ge=1, le=100_000)
    source: Literal["open", "high", "low", "close", "volume"] = "close"


class RSI(_Strict):
    kind: Literal["rsi"]
    window: int = Field(14, ge=2, le=10_000)


class MACD(_Strict):
    """Outputs ``NAME`` (or ``NAME.macd``), ``NAME.signal`` and ``NAME.hist``."""

    kind: Literal["macd"]
    fast: int = Field(12, ge=1, le=10_000)
    slow: int = Field(26, ge=2, le=10_000)
    signal: int = Field(9, ge=1, le=10_000)

    @model_validator(mode="after")
    def _order(self) -> MACD:
        if self.fast >= self.slow:
            raise ValueError(f"fast ({self.fast}) must be shorter than slow ({self.slow})")
        return self


class Bollinger(_Strict):
    """Outputs ``NAME.upper``, ``NAME.middle`` (or ``NAME``) and ``NAME.lower``."""

    kind: Literal["bbands"]
    window: int = Field(20, ge=2, le=100_000)
    k: float = Field(2.0, gt=0, le=10, description="Band width in standard deviations.")


class ATR(_Strict):
    kind: Literal["atr"]
    window: int = Field(14, ge=1, le=10_000)


class ROC(_Strict):
    kind: Literal["roc"]
    window: int = Field(ge=1, le=100_000)
    source: Literal["open", "high", "low", "close", "volume"] = "close"


Indicator = Annotated[SMA | EMA | RSI | MACD | Bollinger | ATR | ROC, Field(discriminator="kind")]
OUTPUTS: dict[str, tuple[str, ...]] = {
    "macd": ("macd", "signal", "hist"),
    "bbands": ("upper", "middle", "lower"),
}

Operand = str | float


class Compare(_Strict):
    """``left`` OP ``right``; each side is an indicator name (``fast``, ``macd.signal``),
    a price field (``close``) or a number."""

    op: Literal["crosses_above", "crosses_below", "gt", "lt"]
    left: Operand
    right: Operand


class AllOf(_Strict):
    op: Literal["and"]
    all: list[Condition] = Field(min_length=1)


class AnyOf(_Strict):
    op: Literal["or"]
    any: list[Condition] = Field(min_length=1)


class Not(_Strict):
    op: Literal["not"]
    cond: Condition


Condition = Annotated[Compare | AllOf | AnyOf | Not, Field(discriminator="op")]
for _model in (AllOf, AnyOf, Not):
    _model.model_rebuild()


class FixedFraction(_Strict):
    kind: Literal["fixed_fraction"] = "fixed_fraction"
    fraction: float = Field(1.0, gt=0, le=1, description="Share of equity per position.")


class VolatilityTarget(_Strict):
    """Position = target_vol / realised annualised vol, capped at ``max_fraction``."""

    kind: Literal["volatility_target"]
    target_vol: float = Field(gt=0, le=5, description="Annualised, e.g. 0.2 for 20%.")
    lookback: int = Field(20, ge=2, le=10_000)
    max_fraction: float = Field(1.0, gt=0, le=1)


def _sizing_kind(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("kind", "fixed_fraction"))
    return str(getattr(value, "kind", "fixed_fraction"))


Sizing = Annotated[
    Annotated[FixedFraction, Tag("fixed_fraction")]
    | Annotated[VolatilityTarget, Tag("volatility_target")],
    Discriminator(_sizing_kind),
]


class StrategySpec(_Strict):
    """A complete, runnable strategy. Signals are evaluated at each bar's close; orders
    fill at the next bar's open."""

    name: str = Field("custom", min_length=1, max_length=80)
    description: str = ""
    indicators: dict[str, Indicator] = Field(default_factory=dict)
    entry: Condition
    exit: Condition | None = None
    direction: Literal["long_only", "long_short", "short_only"] = "long_only"
    short_entry: Condition | None = Field(None, description="Default: the long exit.")
    short_exit: Condition | None = Field(None, description="Default: the long entry.")
    sizing: Sizing = Field(default_factory=FixedFraction)
    stop_loss: float | None = Field(None, gt=0, lt=1, description="Fraction below entry.")
    take_profit: float | None = Field(None, gt=0, le=100)
    trailing_stop: float | None = Field(None, gt=0, lt=1)
    fee_rate: float = Field(0.001, ge=0, lt=0.1, description="Per fill, fraction of notional.")
    slippage: float = Field(0.0, ge=0, lt=0.1, description="Adverse price move per fill.")
    initial_cash: Decimal = Field(Decimal(10_000), gt=0, le=Decimal("1e300"), allow_inf_nan=False)

    @model_validator(mode="after")
    def _references_exist(self) -> StrategySpec:
        known = self.operand_names()
        for cond in self.conditions():
            for operand in _operands(cond):
                if isinstance(operand, str) and operand not in known:
                    hint = difflib.get_close_matches(operand, sorted(known), n=1)
                    did = f"; did you mean {hint[0]!r}?" if hint else ""
                    raise ValueError(
                        f"condition refers to {operand!r}, which is neither an indicator nor a "
                        f"price field (known: {', '.join(sorted(known))}){did}"
                    )
        bad = [n for n in self.indicators if n in PRICE_FIELDS or "." in n or not n]
        if bad:
            raise ValueError(f"indicator name {bad[0]!r} is reserved or contains '.'; rename it")
        return self

    def operand_names(self) -> set[str]:
        names = set(PRICE_FIELDS)
        for name, ind in self.indicators.items():
            names.add(name)
            names.update(f"{name}.{o}" for o in OUTPUTS.get(ind.kind, ()))
        return names

    def conditions(self) -> list[Condition]:
        found = [self.entry, self.exit, self.short_entry, self.short_exit]
        return [c for c in found if c is not None]

    def warmup(self) -> int:
        """Bars before every indicator is defined."""
        lengths = [0]
        for ind in self.indicators.values():
            if isinstance(ind, MACD):
                lengths.append(ind.slow + ind.signal)
            elif hasattr(ind, "window"):
                lengths.append(int(ind.window) + 1)
        if isinstance(self.sizing, VolatilityTarget):
            lengths.append(self.sizing.lookback + 1)
        return max(lengths)


def _operands(cond: Condition) -> list[Operand]:
    if isinstance(cond, Compare):
        return [cond.left, cond.right]
    if isinstance(cond, AllOf):
        return [o for c in cond.all for o in _operands(c)]
    if isinstance(cond, AnyOf):
        return [o for c in cond.any for o in _operands(c)]
    return _operands(cond.cond)


def _loc(loc: tuple[int | str, ...]) -> str:
    parts = [str(p) for p in loc if not str(p).startswith(("function-", "tagged-union"))]
    return ".".join(p for p in parts if p not in {"Compare", "AllOf", "AnyOf", "Not"}) or "spec"


def _suggest(model_fields: list[str], word: str) -> str:
    hint = difflib.get_close_matches(word, model_fields, n=1)
    return f" (did you mean {hint[0]!r}?)" if hint else ""


MAX_NESTING = 64


def _nesting(data: Any) -> int:
    """How deep JSON-like data nests (iteratively: deep data must not blow the stack)."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_NESTING:
            break
        children = item.values() if isinstance(item, dict) else item
        if isinstance(item, dict | list):
            stack.extend((child, depth + 1) for child in children)
    return deepest


def _siblings(errors: list[Any], loc: tuple[Any, ...]) -> list[Any]:
    return [e for e in errors if tuple(e["loc"][:-1]) == loc[:-1]]


def parse_spec(data: Any) -> StrategySpec:
    """Validate raw JSON-like data into a ``StrategySpec`` or raise ``ConfigError`` listing
    every problem with its path and a fix."""
    if _nesting(data) > MAX_NESTING:
        raise ConfigError(
            f"invalid strategy spec: nested more than {MAX_NESTING} levels deep; "
            "combine conditions with one 'and'/'or' list instead of nesting them"
        )
    try:
        return StrategySpec.model_validate(data)
    except ValidationError as exc:
        problems = []
        all_fields = sorted(
            set(StrategySpec.model_fields)
            | {f for m in (SMA, MACD, Bollinger, VolatilityTarget) for f in m.model_fields}
        )
        errors = exc.errors()
        for err in errors:
            loc = tuple(err["loc"])
            if loc and loc[-1] in ("str", "float"):  # an operand: a name or a number
                if err["type"] == "string_type" and len(_siblings(errors, loc)) > 1:
                    continue  # the number's own complaint says more than "not a string"
                loc = loc[:-1]
            where = _loc(loc)
            if err["type"] == "extra_forbidden":
                field = str(err["loc"][-1])
                problems.append(f"{where}: unknown field{_suggest(all_fields, field)}; remove it")
            elif err["type"] in ("union_tag_invalid", "union_tag_not_found"):
                expected = err.get("ctx", {}).get("expected_tags", "")
                problems.append(
                    f"{where}: missing or unknown 'kind'/'op'"
                    + (f"; use one of {expected}" if expected else "")
                )
            else:
                problems.append(f"{where}: {err['msg']}")
        raise ConfigError("invalid strategy spec:\n  - " + "\n  - ".join(problems)) from None
