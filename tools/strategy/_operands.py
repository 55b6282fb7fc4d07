"""Operands of a rule: numbers, price fields, named indicators and indicators described
in words ("the 50-day moving average", "RSI(14)", "the upper Bollinger band").

An indicator described in words gets a canonical name (``sma50``, ``rsi``, ``macd``,
``bb``, ``ema200_volume``); the same description always gets the same name, so two
mentions share one indicator.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tools.strategy._naming import BARE, canonical_name, describe, from_canonical, number_text
from tools.strategy._tokens import ClarifyError, Reader, RefusalError

PRONOUNS = frozenset({"it", "they", "this", "that", "both"})
_DETERMINERS = frozenset({"the", "a", "an", "its", "their"})
_UNITS = frozenset({"day", "days", "bar", "bars", "period", "periods", "session", "sessions"})
_UNITS_BARS = frozenset({"candle", "candles", "d"})
_BAD_UNITS = frozenset({"week", "weeks", "month", "months", "hour", "hours", "minute", "minutes"})
_FIELDS: dict[tuple[str, ...], str] = {
    ("closing", "price"): "close",
    ("closing", "prices"): "close",
    ("opening", "price"): "open",
    ("stock", "price"): "close",
    ("share", "price"): "close",
    ("stock",): "close",
    ("price",): "close",
    ("prices",): "close",
    ("close",): "close",
    ("open",): "open",
    ("high",): "high",
    ("highs",): "high",
    ("low",): "low",
    ("lows",): "low",
    ("volume",): "volume",
}
_FIELD_NOTE = "'{}' read as the closing price"
# Kind phrases, longest first. Values: (kind, output or None, note when the reading is
# a default rather than what was written).
_KINDS: tuple[tuple[tuple[str, ...], tuple[str, str | None, str | None]], ...] = (
    (("simple", "moving", "average"), ("sma", None, None)),
    (("exponential", "moving", "average"), ("ema", None, None)),
    (("moving", "average"), ("sma", None, "'moving average' read as a simple moving average")),
    (("moving", "averages"), ("sma", None, "'moving average' read as a simple moving average")),
    (("relative", "strength", "index"), ("rsi", None, None)),
    (("relative", "strength"), ("rsi", None, None)),
    (("average", "true", "range"), ("atr", None, None)),
    (("rate", "of", "change"), ("roc", None, None)),
    (("bollinger", "bands"), ("bbands", None, None)),
    (("bollinger", "band"), ("bbands", None, None)),
    (("signal", "line"), ("macd", ".signal", None)),
    (("sma",), ("sma", None, None)),
    (("ema",), ("ema", None, None)),
    (("ma",), ("sma", None, "'MA' read as a simple moving average")),
    (("average",), ("sma", None, "'average' read as a simple moving average")),
    (("rsi",), ("rsi", None, None)),
    (("macd",), ("macd", None, None)),
    (("histogram",), ("macd", ".hist", None)),
    (("bollinger",), ("bbands", None, None)),
    (("bands",), ("bbands", None, None)),
    (("bb",), ("bbands", None, None)),
    (("band",), ("bbands", None, None)),
    (("atr",), ("atr", None, None)),
    (("roc",), ("roc", None, None)),
    (("momentum",), ("roc", None, "'momentum' read as the rate of change (percent)")),
)
_ADJECTIVES = {"simple": "sma", "exponential": "ema", "exp": "ema"}
_VAGUE = frozenset({"fast", "slow", "short", "long", "shorter", "longer", "faster", "slower"})
_DEFAULTS: dict[str, dict[str, Any]] = {
    "rsi": {"window": 14},
    "atr": {"window": 14},
    "macd": {"fast": 12, "slow": 26, "signal": 9},
    "bbands": {"window": 20, "k": 2.0},
}
_KIND_WORDS = {"rsi": "RSI", "atr": "ATR", "macd": "MACD", "bbands": "Bollinger bands"}
_PARAMS = {
    "sma": ("window",),
    "ema": ("window",),
    "roc": ("window",),
    "rsi": ("window",),
    "atr": ("window",),
    "macd": ("fast", "slow", "signal"),
    "bbands": ("window", "k"),
}


def register(r: Reader, ind: dict[str, Any]) -> str:
    """The name an indicator described in words goes by (added on first mention)."""
    ind = {**_DEFAULTS.get(ind["kind"], {}), **ind}
    if ind["kind"] in ("sma", "ema", "roc"):
        ind.setdefault("source", "close")
    name = canonical_name(ind)
    known = r.ctx.indicators.get(name)
    if known is not None and known != ind:
        raise RefusalError(
            f"{name!r} is defined as something else, so it cannot also name {describe(ind)}",
            "rename your own indicator",
        )
    r.ctx.indicators[name] = ind
    return name


def operand(r: Reader, hint: str | float | None) -> str | float | None:
    """The operand at the cursor: a number, a price field, an indicator (by name or in
    words), the marker ``"@it"`` for a pronoun, or None when there is none here."""
    tok = r.peek()
    if tok is None:
        return None
    if tok.kind == "name":
        r.i += 1
        return tok.text
    if tok.kind == "num" and not _window_follows(r):
        r.i += 1
        if tok.unit == "bps":
            raise RefusalError(f"a threshold in basis points ({tok.text} bps) is not supported")
        return float(Decimal(tok.text))
    if tok.kind != "word":
        return None
    word = tok.text
    if word in r.ctx.explicit and r.word(1) != "(":
        r.i += 1
        return word
    head, _, _ = word.partition(".")
    if head in r.ctx.explicit and head != word:
        r.i += 1
        return word
    if word in PRONOUNS:
        r.i += 1
        return "@it"
    canonical = from_canonical(head) or BARE.get(head)
    if canonical is not None and (head != word or head not in BARE):
        r.i += 1
        name = register(r, canonical)
        return name if head == word else f"{name}.{word.partition('.')[2]}"
    found = descriptor(r, hint)
    if found is not None:
        return found
    return _field(r)


def _field(r: Reader) -> str | None:
    start = r.i
    r.take_any({"the", "its"})
    for words, name in _FIELDS.items():
        if r.take(*words):
            if name == "close" and words[0] not in ("close", "closing"):
                r.ctx.note(_FIELD_NOTE.format(" ".join(words)))
            return name
    r.i = start
    return None


def _window_follows(r: Reader) -> bool:
    """A number is a window, not a threshold, when a unit or an indicator follows it."""
    nxt = r.peek(1)
    if nxt is None or nxt.kind != "word":
        return False
    w = nxt.text
    return (
        w in _UNITS | _UNITS_BARS | _BAD_UNITS
        or w in _ADJECTIVES
        or w in _VAGUE
        or any(words[0] == w for words, _ in _KINDS)
        or (w in ("upper", "lower", "middle"))
    )


def descriptor(r: Reader, hint: str | float | None, whole: bool = False) -> str | None:
    """An indicator described in words, registered; None (cursor unmoved) if there is none.
    ``whole``: the indicator itself (a definition), not one of its outputs."""
    start = r.i
    det = r.take_any(_DETERMINERS)
    window, position, source, vague = _before_kind(r)
    found = _kind(r)
    if found is None:
        return _elided(r, start, window, hint)
    kind, output, note = found
    params = _params(r)
    if params is None and window is None and kind in _PARAMS and len(_PARAMS[kind]) == 1:
        window = _window_after(r)
    source = _source_after(r) or source
    if det == "its" and source is None and isinstance(hint, str) and hint in _FIELD_NAMES:
        source = hint
    output = _output_after(r, kind) or output
    if note:
        r.ctx.note(note)
    plain_macd = kind == "macd" and params is None and window is None and not whole
    ind = (_macd_in_context(r, hint) if plain_macd else None) or _build(
        r, kind, window, params, source, vague
    )
    if whole:
        if output is not None or position is not None:
            raise RefusalError(
                "define the indicator itself, then refer to its outputs by name, "
                "e.g. 'let m be the MACD(12, 26, 9). buy when m crosses above m.signal'"
            )
        return register(r, ind)
    if kind == "bbands":
        if position is None and output is None:
            raise ClarifyError("Which Bollinger band: the upper, the middle or the lower one?")
        output = output or f".{position}"
    return register(r, ind) + (output or "")


_FIELD_NAMES = frozenset(_FIELDS.values())
_WINDOWED = frozenset({"sma", "ema", "roc", "rsi", "atr"})


def _before_kind(r: Reader) -> tuple[int | None, str | None, str | None, bool]:
    window: int | None = None
    position = source = None
    vague = False
    while (tok := r.peek()) is not None:
        if tok.kind == "num" and window is None and not tok.unit and tok.text.isdigit():
            r.i += 1
            window = int(tok.text)
            _unit(r, window)
            continue
        w = tok.text if tok.kind == "word" else None
        if w in ("upper", "lower", "middle") and position is None:
            position = w
        elif w in _VAGUE:
            vague = True
        elif w in ("volume", "price", "high", "low", "open", "close") and _kind_at(r, r.i + 1):
            source = "close" if w == "price" else w
        else:
            break
        r.i += 1
    return window, position, source, vague


def _unit(r: Reader, window: int) -> None:
    unit = r.take_any(_UNITS | _UNITS_BARS | _BAD_UNITS)
    if unit in _BAD_UNITS:
        days = {"week": 5, "month": 21}.get(unit.rstrip("s"))
        example = f" e.g. '{window * days}-day' on daily bars" if days else ""
        raise ClarifyError(
            f"Windows count bars: how many bars is a {window}-{unit.rstrip('s')} window on your "
            f"timeframe? Write it in bars or days,{example or ' e.g. 50-bar'}."
        )
    if unit is not None and unit.startswith(("day", "session")):
        r.ctx.note("windows count bars: an N-day window is N bars (exact on daily bars)")


def _kind_at(r: Reader, j: int) -> bool:
    return any(r.seq_at(j, words) for words, _ in _KINDS)


def _kind(r: Reader) -> tuple[str, str | None, str | None] | None:
    for words, found in _KINDS:
        if r.take(*words):
            return found
    return None


def _elided(r: Reader, start: int, window: int | None, hint: str | float | None) -> str | None:
    """ "the 50-day" after "the 10-day moving average": the same kind of indicator."""
    if window is None:
        r.i = start
        return None
    base = r.ctx.indicators.get(hint.partition(".")[0]) if isinstance(hint, str) else None
    if base is not None and base["kind"] in _WINDOWED:
        ind = {k: v for k, v in base.items() if k in ("kind", "source")}
        return register(r, {**ind, "window": window})
    if r.word() in _FIELD_NAMES:
        raise RefusalError(
            f"a rolling {window}-bar {r.word()} is not in the strategy vocabulary",
            "compare prices with indicators (SMA, EMA, RSI, MACD, Bollinger bands, ATR, ROC) "
            "or numbers",
        )
    said = r.text_from(start, r.i)
    raise ClarifyError(
        f"What is '{said}'? Name the indicator, e.g. 'the {window}-day moving average'."
    )


def _params(r: Reader) -> list[str] | None:
    if r.word() != "(":
        return None
    r.i += 1
    values: list[str] = []
    while (tok := r.peek()) is not None and tok.kind == "num" and not tok.unit:
        values.append(tok.text)
        r.i += 1
        if not r.take_any({",", "/"}):
            break
    if not r.take(")"):
        raise RefusalError(f"could not read the parameters near '{r.text_from(r.i, r.i + 4)}'")
    return values


def _window_after(r: Reader) -> int | None:
    tok = r.peek()
    if tok is not None and tok.kind == "num" and tok.text.isdigit() and not tok.unit:
        r.i += 1
        _unit(r, int(tok.text))
        return int(tok.text)
    for lead in (("of",), ("over",), ("over", "the", "last"), ("of", "the", "last"), ("with",)):
        n = r.seq_at(r.i, lead)
        tok = r.peek(n) if n else None
        if tok is not None and tok.kind == "num" and tok.text.isdigit() and not tok.unit:
            r.i += n + 1
            _unit(r, int(tok.text))
            return int(tok.text)
    return None


def _source_after(r: Reader) -> str | None:
    start = r.i
    if r.take_any({"of", "on"}):
        r.take_any({"the"})
        for words, name in _FIELDS.items():
            if r.take(*words):
                return name
    r.i = start
    return None


def _output_after(r: Reader, kind: str) -> str | None:
    if kind == "macd":
        if r.take("signal", "line") or r.take("signal"):
            return ".signal"
        if r.take("histogram") or r.take("hist"):
            return ".hist"
        r.take("line")
    if kind == "bbands":
        position = r.take_any({"upper", "lower", "middle"})
        if position:
            r.take_any({"band", "line"})
            return f".{position}"
    return None


def _build(
    r: Reader,
    kind: str,
    window: int | None,
    params: list[str] | None,
    source: str | None,
    vague: bool,
) -> dict[str, Any]:
    ind: dict[str, Any] = {"kind": kind}
    names = _PARAMS[kind]
    if params is not None:
        if (window is not None and kind != "bbands") or len(params) > len(names) or not params:
            raise RefusalError(
                f"{kind.upper()} takes {', '.join(names)}: got {len(params)} value(s)"
            )
        if window is not None:
            params = [str(window), *params]
        for name, value in zip(names, params, strict=False):
            ind[name] = float(Decimal(value)) if name == "k" else _int(value, kind)
    elif window is not None:
        if kind == "macd":
            raise ClarifyError("Which MACD windows? e.g. 'MACD(12, 26, 9)' (fast, slow, signal).")
        ind[names[0]] = window
    if source not in (None, "close"):
        if kind not in ("sma", "ema", "roc"):
            raise RefusalError(
                f"{kind.upper()} is computed from prices as defined; it has no 'of {source}' form"
            )
        ind["source"] = source
    missing = [n for n in names if n not in ind and n not in _DEFAULTS.get(kind, {})]
    if missing:
        if kind == "roc":
            raise ClarifyError(
                "Rate of change over how many bars? e.g. 'the 10-day rate of change'."
            )
        example = "the 10-day moving average crosses above the 50-day"
        raise ClarifyError(
            f"Which moving average: over how many bars? e.g. '{example}'."
            if not vague
            else f"Which windows for the fast and slow averages? e.g. '{example}'."
        )
    assumed = {n: v for n, v in _DEFAULTS.get(kind, {}).items() if n not in ind}
    if len(assumed) == len(_DEFAULTS.get(kind, {1: 1})):
        shown = ", ".join(number_text(float(v)) for v in assumed.values())
        r.ctx.note(f"{_KIND_WORDS[kind]} with the usual settings ({shown}) assumed")
    elif assumed:
        shown = ", ".join(f"{n} {number_text(float(v))}" for n, v in assumed.items())
        r.ctx.note(f"{_KIND_WORDS[kind]} {shown} assumed (the usual setting)")
    return ind


def _int(value: str, kind: str) -> int:
    if not value.isdigit():
        raise RefusalError(f"{kind.upper()} windows are whole numbers of bars, not {value}")
    return int(value)


def _macd_in_context(r: Reader, hint: str | float | None) -> dict[str, Any] | None:
    """ "its signal line" is the signal of the MACD just mentioned (or the only one)."""
    if isinstance(hint, str):
        base = r.ctx.indicators.get(hint.partition(".")[0])
        if base is not None and base["kind"] == "macd":
            return base
    macds = [ind for ind in r.ctx.indicators.values() if ind["kind"] == "macd"]
    if len(macds) > 1:
        raise ClarifyError("Which MACD's signal line? Name it, e.g. 'MACD(12, 26, 9) signal line'.")
    return macds[0] if macds else None
