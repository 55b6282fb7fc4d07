"""What parsing a strategy can end in, and the one validator both parsing paths share.

The offline English parser and a language model's structured output both produce the
same spec JSON; ``finish`` is the single gate that JSON passes: the limits guard, then
the pydantic spec, then the checks the spec's own types cannot express. A language
model's answer therefore reaches a backtest only through exactly the checks the
offline parser's output goes through (``validate_llm_spec``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.errors import ConfigError
from tools.strategy._spec import Compare, StrategySpec, parse_spec

OFFLINE: Final = "offline rules"
Source = Literal["offline rules", "llm"]

VOCABULARY_HINT = (
    "describe when to buy and sell with indicators (SMA, EMA, RSI, MACD, Bollinger bands, "
    "ATR, rate of change), prices and numbers, e.g. 'buy when the 10-day moving average "
    "crosses above the 50-day, sell when it crosses back below, 8% stop loss'"
)
LIMITS_HINT = (
    "risk limits are set by the operator in the limits file and can only be tightened "
    "(see docs/risk.md and `tiller risk status`); describe only the strategy's own rules"
)


class ParseOutcome(BaseModel):
    """A validated spec, a clarifying question, or a refusal with its reason."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["spec", "question", "refusal"]
    spec: StrategySpec | None = None
    question: str | None = Field(None, description="What to clarify before a spec exists.")
    reason: str | None = Field(None, description="Why the text cannot become a strategy.")
    hint: str | None = Field(None, description="How to rephrase after a refusal.")
    notes: list[str] = Field(default_factory=list, description="Defaults that were assumed.")
    source: Source = OFFLINE

    @model_validator(mode="after")
    def _consistent(self) -> ParseOutcome:
        needed = {"spec": self.spec, "question": self.question, "refusal": self.reason}
        if needed[self.kind] is None:
            raise ValueError(f"a {self.kind!r} outcome needs its {self.kind} field")
        if self.kind != "spec" and self.spec is not None:
            raise ValueError("only a 'spec' outcome carries a spec")
        return self


def spec_outcome(spec: StrategySpec, notes: list[str], source: Source) -> ParseOutcome:
    return ParseOutcome(kind="spec", spec=spec, notes=notes, source=source)


def question(text: str, notes: list[str] | None = None, source: Source = OFFLINE) -> ParseOutcome:
    return ParseOutcome(kind="question", question=text, notes=notes or [], source=source)


def refusal(reason: str, hint: str | None = None, source: Source = OFFLINE) -> ParseOutcome:
    return ParseOutcome(kind="refusal", reason=reason, hint=hint, source=source)


# Each pattern names something a strategy must not touch: the risk officer's limits, its
# trading states, approvals, leverage, the venue or the money at stake. Matching is
# deliberately broad: refusing a harmless sentence costs a rephrase, applying a limit
# change smuggled into a strategy would cost far more.
_LIMIT_PATTERNS: tuple[tuple[str, str], ...] = (
    (
        r"\b(ignore|bypass|override|overrule|disable|skip|turn\s+off|switch\s+off|remove|lift|"
        r"raise|increase|relax|loosen|circumvent|get\s+around|deactivate|suspend)\b"
        r"[^.;]{0,40}\b(limits?|risk|checks?|kill\s*-?switch|safety|safeguards?|approvals?|"
        r"guards?|guardrails?|breakers?|officer|gate|controls?|rules)\b",
        "overriding the risk controls",
    ),
    (
        r"\b(risk|position|exposure|loss|order|notional|drawdown|trading|size|sizing)\s+limits?\b",
        "a risk limit",
    ),
    (r"\blimits?\s+(file|settings?|config)", "the limits file"),
    (r"\bkill\s*-?\s*switch", "the kill switch"),
    (r"\bleverag|\bmargin\b|\bborrow|(?<![\d.])\d++(\.\d++)?\s*x\b", "leverage"),
    (
        r"\bmax(imum)?[\s_-]*(order|orders|position|gross|net|daily|drawdown|exposure|notional|"
        r"loss|quote)",
        "a risk limit",
    ),
    (r"\bnotional\b|\b(gross|net)\s+exposure|\bdaily\s+loss|\bdrawdown", "a risk limit"),
    (
        r"\bcollar\b|\bquote\s+age|\bcool\s*-?\s*down|\bcircuit\s+breaker|\bduplicate\s+window",
        "a risk limit",
    ),
    (r"\bapprov|\bsign\s*-?\s*off", "approvals"),
    (
        r"\btrading\s+state|\bhalt|\bresume\s+trading|\breducing\s+mode|\bstop\s+trading",
        "the trading state",
    ),
    (r"\ballowed[\s_]+(symbols|venues|order)|\bvenues?\b|\border\s+types?", "a trading setting"),
    (r"\borders?\s+per\s+(second|minute|hour|day)|\brate\s+limit", "a risk limit"),
    (
        r"\blive\s+(trading|mode|account|money)|\btrade\s+live|\bgo\s+live|\breal\s+money|"
        r"\bpaper\s+(mode|trading|account)",
        "a trading setting",
    ),
    (
        r"\brisk\s+(officer|gate|manager|management|checks?|controls?|settings?|engine)",
        "the risk officer",
    ),
    (r"\blosing\s+(trades|streak)|\bconsecutive\s+losses", "a risk limit"),
)
_LIMITS = [(re.compile(p, re.IGNORECASE), what) for p, what in _LIMIT_PATTERNS]


def limits_refusal(text: str, source: Source = OFFLINE) -> ParseOutcome | None:
    """A refusal when ``text`` tries to set or lift a risk limit or trading setting."""
    flat = text.replace("_", " ")
    for pattern, what in _LIMITS:
        found = pattern.search(flat)
        if found:
            return refusal(
                f"{found.group(0).strip()!r} concerns {what}: limits and trading settings are "
                "not part of a strategy, so nothing was applied",
                LIMITS_HINT,
                source,
            )
    return None


def _words(data: Any) -> Iterator[str]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield str(key)
            yield from _words(value)
    elif isinstance(data, list | tuple):
        for item in data:
            yield from _words(item)
    elif isinstance(data, str):
        yield data


def _non_finite(spec: StrategySpec) -> list[float]:
    found: list[float] = []

    def walk(cond: Any) -> None:
        if isinstance(cond, Compare):
            found.extend(o for o in (cond.left, cond.right) if isinstance(o, float))
        else:
            for child in getattr(cond, "all", None) or getattr(cond, "any", None) or []:
                walk(child)
            if hasattr(cond, "cond"):
                walk(cond.cond)

    for cond in spec.conditions():
        walk(cond)
    return [x for x in found if not math.isfinite(x)]


def finish(data: Any, notes: list[str], source: Source) -> ParseOutcome:
    """The one validator: limits guard, the pydantic spec, then the spec-level checks."""
    if not isinstance(data, dict):
        return refusal("a strategy spec is a JSON object", VOCABULARY_HINT, source)
    guarded = limits_refusal(" ".join(_words(data)), source)
    if guarded is not None:
        return guarded
    try:
        spec = parse_spec(data)
    except ConfigError as exc:
        return refusal(str(exc), "fix the values named above and try again", source)
    if _non_finite(spec):
        return refusal("a condition compares against a number that is not finite", None, source)
    return spec_outcome(spec, notes, source)


def validate_llm_spec(data: dict[str, Any], *, source_text: str | None = None) -> ParseOutcome:
    """Validate a language model's structured output (spec JSON) with exactly the checks
    the offline parser's output passes. Pass the user's ``source_text`` to apply the same
    limits guard to it that the offline parser applies to its input."""
    if source_text is not None:
        guarded = limits_refusal(source_text, "llm")
        if guarded is not None:
            return guarded
    return finish(data, [], "llm")
