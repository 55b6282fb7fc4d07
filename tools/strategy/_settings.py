"""The parts of a plain-English strategy that are settings rather than rules: stops,
take-profit, costs, starting cash, position sizing and direction.

Each phrase is found anywhere in the (normalised, lower-case) text, recorded, and cut
out, so what remains is only rules. A setting named without its number ("use a stop")
becomes a question; a setting given twice with different values becomes a question.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

NUM = (
    r"(?<![\d.])(?P<v>\d++(?:\.\d++)?)\s*"
    r"(?P<u>%|percent\b|per\s+cent\b|pct\b|bps\b|bp\b|basis\s+points?\b)?"
)
_PER = (
    r"(?:\s+(?:per|a|each|on\s+each|on\s+every|every|for\s+each)\s+"
    r"(?:fill|trade|side|order|transaction|leg|position|entry))?"
)
_OF_EQUITY = (
    r"\s+of\s+(?:the\s+|my\s+|your\s+)?(?:equity|capital|cash|account|portfolio|money|balance)"
)
_AMOUNT = (
    r"\$?\s*(?<![\d.])(?P<a>\d{1,3}(?:,\d{3})+|\d++)(?:\.(?P<c>\d++))?"
    r"(?:\s*(?P<m>k\b|m\b|mm\b|thousand\b|million\b))?"
    r"(?:\s*(?:\$|usd\b|usdt\b|dollars\b|eur\b|euros?\b))?"
)
_ANCHOR = r"(?:entry|the\s+entry(?:\s+price)?|entry\s+price|(?:the\s+)?(?:purchase|buy)\s+price|"
_ANCHOR += r"(?:the\s+)?(?:peak|high|highest\s+price|best\s+price|highest\s+close))"
_TAIL = rf"(?:\s+(?:below|under|above|from|off|of)\s+{_ANCHOR})?"
_TRAIL = r"(?:trailing\s+stop(?:\s+loss)?|trail(?:ing)?\s+(?:the\s+)?(?:stop\s+)?by)"
_STOP = r"(?:stop\s+loss|stoploss|stop|cut\s+(?:the\s+)?loss(?:es)?|stop\s+out)"
_TP = r"(?:take\s+profits?|takeprofit|profit\s+target|profit\s+taking|target\s+profit)"
_FEE = r"(?:fee\s+rate|fees?|commissions?|transaction\s+costs?|trading\s+costs?)"
_LEAD = r"(?!\s+(?:when|if|whenever|once|on|while|as\s+soon))"


@dataclass
class Settings:
    """What the settings phrases set, the notes they imply, and what is left to parse."""

    text: str
    fields: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)

    def set(self, name: str, value: Any) -> None:
        if name in self.fields and self.fields[name] != value:
            self.questions.append(
                f"{_LABEL[name]} is given twice ({_show(self.fields[name])} and {_show(value)}): "
                "which one?"
            )
        self.fields[name] = value


_LABEL = {
    "stop_loss": "The stop loss",
    "take_profit": "The take profit",
    "trailing_stop": "The trailing stop",
    "fee_rate": "The fee",
    "slippage": "The slippage",
    "initial_cash": "The starting cash",
    "sizing": "The position size",
    "direction": "The direction",
}


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{Decimal(repr(value)) * 100:f}".rstrip("0").rstrip(".") + "%"
    return str(value)


def fraction(value: str, unit: str | None) -> float:
    """``10`` with ``%`` → 0.1, ``5`` with ``bps`` → 0.0005 (exact decimal scaling, so a
    rendered percentage reads back as the same float)."""
    scale = 10_000 if unit and unit.startswith(("bp", "basis")) else 100
    return float(Decimal(value) / scale)


def _needs_unit(m: re.Match[str], what: str, s: Settings) -> bool:
    if m.group("u"):
        return False
    value = m.group("v")
    s.questions.append(
        f"In what unit is {what} {value}? Write it as a percentage: '{value}%', or "
        f"'{(Decimal(value) * 100).normalize():f}%' if {value} is a fraction."
    )
    return True


def _percent_setter(name: str, what: str) -> Callable[[re.Match[str], Settings], None]:
    def handle(m: re.Match[str], s: Settings) -> None:
        if not _needs_unit(m, what, s):
            s.set(name, fraction(m.group("v"), m.group("u")))

    return handle


def _none_setter(name: str) -> Callable[[re.Match[str], Settings], None]:
    return lambda m, s: s.set(name, None)


def _zero_setter(name: str) -> Callable[[re.Match[str], Settings], None]:
    return lambda m, s: s.set(name, 0.0)


def _fee(m: re.Match[str], s: Settings) -> None:
    if _needs_unit(m, "the fee", s):
        return
    rate = fraction(m.group("v"), m.group("u"))
    if "round" in m.group(0):
        rate = float(Decimal(repr(rate)) / 2)
        s.notes.append("a round-trip fee is charged as half on each fill")
    elif re.search(r"\b(trade|order|transaction|position|entry)\b", m.group(0)):
        s.notes.append("fees apply to every fill (each buy and each sell)")
    s.set("fee_rate", rate)


def _cash(m: re.Match[str], s: Settings) -> None:
    amount = Decimal(m.group("a").replace(",", "") + ("." + m.group("c") if m.group("c") else ""))
    scale = {"k": 1_000, "thousand": 1_000, "m": 1_000_000, "mm": 1_000_000, "million": 1_000_000}
    amount *= scale.get(m.group("m") or "", 1)
    s.set("initial_cash", amount)


def _fixed(m: re.Match[str], s: Settings) -> None:
    if not _needs_unit(m, "the position size", s):
        sizing = {"kind": "fixed_fraction", "fraction": fraction(m.group("v"), m.group("u"))}
        s.set("sizing", sizing)


def _all_in(m: re.Match[str], s: Settings) -> None:
    s.set("sizing", {"kind": "fixed_fraction", "fraction": 1.0})


def _direction(value: str) -> Callable[[re.Match[str], Settings], None]:
    return lambda m, s: s.set("direction", value)


_CAP = re.compile(
    r"\s*,?\s*(?:and\s+)?(?:at\s+most|capped\s+at|cap(?:ped)?\s+(?:of|at)|up\s+to|"
    r"no\s+more\s+than|max(?:imum)?(?:\s+of)?)\s+" + NUM + rf"(?:{_OF_EQUITY})?"
)
_LOOKBACK = re.compile(
    r"\s*,?\s*(?:and\s+)?(?:over|with|using|on|measured\s+over)\s+(?:an?\s+|the\s+last\s+)?"
    r"(?P<lb>\d+)\s+(?:day|bar|period|session|candle)s?(?:\s+(?:lookback|window))?"
)


def _vol_target(m: re.Match[str], s: Settings, rest: str) -> int:
    """Volatility target with optional lookback and cap phrases after it; returns how far
    into ``rest`` those phrases reach."""
    if _needs_unit(m, "the volatility target", s):
        return 0
    sizing: dict[str, Any] = {
        "kind": "volatility_target",
        "target_vol": fraction(m.group("v"), m.group("u")),
    }
    used = 0
    for _ in range(2):
        tail = _LOOKBACK.match(rest, used) or _CAP.match(rest, used)
        if tail is None:
            break
        if tail.re is _LOOKBACK:
            sizing["lookback"] = int(tail.group("lb"))
        elif not _needs_unit(tail, "the cap", s):
            sizing["max_fraction"] = fraction(tail.group("v"), tail.group("u"))
        used = tail.end()
    if "lookback" not in sizing:
        s.notes.append("volatility measured over the last 20 bars (the default)")
    if "max_fraction" not in sizing:
        s.notes.append("volatility-targeted positions capped at 100% of equity (the default)")
    s.set("sizing", sizing)
    return used


_Handler = Callable[[re.Match[str], Settings], None]
_PATTERNS: list[tuple[str, _Handler]] = [
    # Trailing stops first: their phrases contain "stop".
    (rf"\b(?:no|without\s+(?:a\s+|any\s+)?)\s*{_TRAIL}", _none_setter("trailing_stop")),
    (rf"\b{NUM}\s+{_TRAIL}{_TAIL}", _percent_setter("trailing_stop", "the trailing stop")),
    (
        rf"\b(?:a\s+|the\s+)?{_TRAIL}\s*(?:of|at|=|:|is|to)?\s*{NUM}{_TAIL}",
        _percent_setter("trailing_stop", "the trailing stop"),
    ),
    (rf"\b(?:no|without\s+(?:a\s+|any\s+)?)\s*{_TP}", _none_setter("take_profit")),
    (rf"\b{NUM}\s+{_TP}{_TAIL}", _percent_setter("take_profit", "the take profit")),
    (
        rf"\b(?:a\s+|the\s+)?{_TP}\s*(?:of|at|=|:|is|to)?\s*{NUM}(?:\s+(?:profit|gain))?{_TAIL}",
        _percent_setter("take_profit", "the take profit"),
    ),
    # A bare "target" is a profit target; volatility targets were read before these.
    (rf"\b{NUM}\s+target\b{_TAIL}", _percent_setter("take_profit", "the take profit")),
    (
        rf"\b(?:a\s+|the\s+)?target\s*(?:of|at|=|:|is)?\s*{NUM}(?:\s+(?:profit|gain))?{_TAIL}",
        _percent_setter("take_profit", "the take profit"),
    ),
    (rf"\b(?:no|without\s+(?:a\s+|any\s+)?)\s*{_STOP}", _none_setter("stop_loss")),
    (rf"\b{NUM}\s+{_STOP}{_TAIL}", _percent_setter("stop_loss", "the stop loss")),
    (
        rf"\b(?:a\s+|the\s+)?{_STOP}\s*(?:of|at|=|:|is|to)?\s*(?:an?\s+)?{NUM}"
        rf"(?:\s+(?:loss|drop|fall|decline))?{_TAIL}",
        _percent_setter("stop_loss", "the stop loss"),
    ),
    (
        r"\b(?:no|zero|without(?:\s+any)?)\s+(?:fees?|commissions?|costs?|trading\s+costs?)"
        r"|\b(?:fee|commission)\s+free\b",
        _zero_setter("fee_rate"),
    ),
    (rf"\b{NUM}\s+(?:in\s+)?{_FEE}{_PER}(?:\s+round\s+trip)?", _fee),
    (rf"\b{_FEE}\s*(?:of|at|=|:|is|are)?\s*{NUM}{_PER}(?:\s+round\s+trip)?", _fee),
    (r"\b(?:no|zero|without(?:\s+any)?)\s+slippage", _zero_setter("slippage")),
    (rf"\b{NUM}\s+(?:of\s+)?slippage{_PER}", _percent_setter("slippage", "the slippage")),
    (
        rf"\bslippage\s*(?:of|at|=|:|is)?\s*{NUM}{_PER}",
        _percent_setter("slippage", "the slippage"),
    ),
    (
        rf"\b(?:start(?:ing)?|begin(?:ning)?)\s+with\s+(?:an?\s+)?(?:account\s+of\s+|capital\s+of\s+)?"
        rf"{_AMOUNT}(?:\s+(?:in\s+|of\s+)?(?:cash|capital|equity))?",
        _cash,
    ),
    (
        rf"\b(?:initial|starting|start)\s+(?:cash|capital|equity|balance|account|money)"
        rf"(?:\s+(?:of|=|:|is))?\s*{_AMOUNT}",
        _cash,
    ),
    (rf"{_AMOUNT}\s+(?:of\s+)?(?:initial|starting)\s+(?:cash|capital|equity|balance)", _cash),
    (rf"\b(?:capital|account\s+size)\s*(?:of|=|:)\s*{_AMOUNT}", _cash),
    (rf"\bwith\s+(?=\$){_AMOUNT}", _cash),
    (
        rf"\b(?:invest|use|allocate|put|deploy|commit|buy\s+with|trade\s+with)\s+{NUM}{_OF_EQUITY}"
        rf"{_PER}",
        _fixed,
    ),
    (
        rf"\b(?:position\s+size|position\s+sizing|fixed\s+fraction)(?:\s+(?:of|=|:|is))?\s+"
        rf"{NUM}(?:{_OF_EQUITY})?{_PER}",
        _fixed,
    ),
    (
        rf"\b{NUM}{_OF_EQUITY}\s+(?:per|each|a|in\s+each|on\s+each)\s+(?:trade|position)",
        _fixed,
    ),
    (r"\b(?:go\s+)?all\s+in\b|\bfully\s+invested\b", _all_in),
    (
        r"\b(?:long\s+only|only\s+(?:go\s+)?long(?:\s+positions)?|no\s+short(?:s|ing|\s+selling|"
        r"\s+positions)?|never\s+(?:go\s+)?short|don'?t\s+short)\b" + _LEAD,
        _direction("long_only"),
    ),
    (
        r"\b(?:short\s+only|only\s+(?:go\s+)?short(?:\s+positions)?|never\s+(?:go\s+)?long)\b"
        + _LEAD,
        _direction("short_only"),
    ),
    (
        r"\b(?:long\s*(?:and|&|/|\+)?\s*short|both\s+(?:long\s+and\s+short|directions|ways|sides)|"
        r"(?:allow|with)\s+short(?:s|ing|\s+selling|\s+positions)?(?:\s+(?:allowed|enabled))?|short(?:s|ing|\s+selling)?\s+"
        r"(?:is\s+|are\s+)?allowed|reverse\s+(?:the\s+)?positions?)\b" + _LEAD,
        _direction("long_short"),
    ),
]
_VOL = (
    re.compile(
        rf"\b(?:target(?:ing)?|aim(?:ing)?\s+for|size\s+(?:positions\s+)?(?:for|to|by))"
        rf"\s+(?:an?\s+)?{NUM}\s+(?:annuali[sz]ed\s+|annual\s+|yearly\s+)?(?:volatility|vol)\b"
        r"(?:\s+target)?"
    ),
    re.compile(
        rf"\b(?:a\s+)?(?:volatility|vol)\s+target(?:ing)?(?:\s+(?:of|at|=|:))?\s+{NUM}"
        r"(?:\s+(?:annuali[sz]ed|annual|a\s+year))?"
    ),
)
_COMPILED = [(re.compile(p), h) for p, h in _PATTERNS]
_UNANSWERED = [
    (r"\btrailing\s+stop", "What trailing-stop distance, e.g. 'a 15% trailing stop'?"),
    (r"\b(?:take\s+profit|profit\s+target)", "What take-profit level, e.g. 'take profit at 20%'?"),
    (r"\bstop(?:\s+loss)?\b", "What stop-loss percentage, e.g. 'a 10% stop loss'?"),
    (r"\b(?:fees?|commissions?)\b", "What fee per fill, e.g. 'fees 0.1%' or '10 bps fees'?"),
    (r"\bslippage\b", "How much slippage per fill, e.g. 'slippage 0.05%'?"),
    (
        r"\b(?:volatility|vol)\s+target|\btarget\s+(?:volatility|vol)\b",
        "What annualised volatility target, e.g. 'target 20% volatility'?",
    ),
    (r"\bposition\s+siz", "What position size, e.g. 'invest 50% of equity per position'?"),
]


def extract_settings(text: str) -> Settings:
    """Find and cut out every settings phrase of normalised ``text``. Filler words around
    a phrase ("with a 10% stop loss") are left to the rules reader, which skips them."""
    s = Settings(text)
    for vol in _VOL:
        while (m := vol.search(s.text)) is not None:
            used = _vol_target(m, s, s.text[m.end() :])
            s.text = s.text[: m.start()] + " ; " + s.text[m.end() + used :]
    for pattern, handle in _COMPILED:

        def cut(m: re.Match[str], handle: _Handler = handle) -> str:
            handle(m, s)
            return " ; "

        s.text = pattern.sub(cut, s.text)
    for pattern_text, ask in _UNANSWERED:
        # The setting's words are cut too: the question is about them, and the rules
        # reader must not trip over them.
        s.text, found = re.subn(pattern_text, " ; ", s.text)
        if found:
            s.questions.append(ask)
    return s
