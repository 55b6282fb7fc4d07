"""Names and words for indicators: the canonical name an indicator described in words
goes by (``sma50``, ``rsi``, ``macd``, ``bb``, ``ema200_volume``), and the words the
canonical rendering uses for each indicator and number."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from tools.strategy._tokens import Context

_CANONICAL = re.compile(
    r"^(?:(?P<ma>sma|ema|roc)(?P<w>\d+)(?:_(?P<src>open|high|low|close|volume))?"
    r"|(?P<rs>rsi|atr)(?P<rw>\d+)|macd(?P<f>\d+)_(?P<s>\d+)_(?P<g>\d+)"
    r"|bb(?P<bw>\d+)?(?:_(?P<bk>\d+(?:p\d+)?))?)$"
)


BARE: dict[str, dict[str, Any]] = {"macd": {"kind": "macd"}, "bb": {"kind": "bbands"}}


def canonical_name(ind: dict[str, Any]) -> str:
    kind = ind["kind"]
    if kind in ("sma", "ema", "roc"):
        source = ind.get("source", "close")
        return f"{kind}{ind['window']}" + ("" if source == "close" else f"_{source}")
    if kind in ("rsi", "atr"):
        return kind if ind["window"] == 14 else f"{kind}{ind['window']}"
    if kind == "macd":
        if (ind["fast"], ind["slow"], ind["signal"]) == (12, 26, 9):
            return "macd"
        return f"macd{ind['fast']}_{ind['slow']}_{ind['signal']}"
    k = f"{Decimal(repr(float(ind['k']))).normalize():f}".replace(".", "p")
    base = "bb" if ind["window"] == 20 else f"bb{ind['window']}"
    return base if k == "2" else f"{base}_{k}"


def from_canonical(word: str) -> dict[str, Any] | None:
    m = _CANONICAL.match(word)
    if m is None:
        return None
    if m["ma"]:
        return {"kind": m["ma"], "window": int(m["w"]), "source": m["src"] or "close"}
    if m["rs"]:
        return {"kind": m["rs"], "window": int(m["rw"])}
    if m["f"]:
        return {"kind": "macd", "fast": int(m["f"]), "slow": int(m["s"]), "signal": int(m["g"])}
    k = float(m["bk"].replace("p", ".")) if m["bk"] else 2.0
    return {"kind": "bbands", "window": int(m["bw"] or 20), "k": k}


def describe(ind: dict[str, Any]) -> str:
    """Words for an indicator, as the canonical rendering writes them."""
    kind = ind["kind"]
    if kind == "macd":
        return f"the MACD({ind['fast']}, {ind['slow']}, {ind['signal']})"
    if kind == "bbands":
        return f"the Bollinger Bands({ind['window']}, {number_text(float(ind['k']))})"
    source = ind.get("source", "close")
    of = "" if source == "close" else f" of {source}"
    return f"the {ind['window']}-bar {kind.upper()}{of}"


def number_text(value: float) -> str:
    """The shortest plain decimal that reads back as exactly ``value``."""
    return f"{Decimal(repr(value)).normalize():f}"


_FIELD_LABELS = {
    "close": "the closing price",
    "open": "the opening price",
    "high": "the high",
    "low": "the low",
    "volume": "the volume",
}
_OUTPUT_LABELS = {
    "signal": "signal line",
    "hist": "histogram",
    "macd": "line",
    "upper": "upper band",
    "middle": "middle band",
    "lower": "lower band",
}


def label(ctx: Context, op: str | float) -> str:
    """An operand in words, for questions."""
    if isinstance(op, float):
        return number_text(op)
    if op in _FIELD_LABELS:
        return _FIELD_LABELS[op]
    name, _, out = op.partition(".")
    ind = ctx.indicators.get(name)
    if ind is None:
        return repr(op)
    words = name if name in ctx.explicit else describe(ind)
    return f"{words} {_OUTPUT_LABELS[out]}" if out else words
