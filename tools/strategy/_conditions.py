"""Conditions: comparisons ("RSI crosses above 30", "the price is above the 200-day EMA"),
combined with and / or / not and parentheses, plus pronouns and ellipsis across clauses
("sell when it crosses back below")."""

from __future__ import annotations

from typing import Any

from tools.strategy._naming import label
from tools.strategy._operands import operand, register
from tools.strategy._outcome import VOCABULARY_HINT
from tools.strategy._tokens import ClarifyError, Reader, RefusalError

Cond = dict[str, Any]

_CROSS = frozenset({"cross", "crosses", "crossed", "crossing"})
# fmt: off
_MOTION = frozenset({
    "rises", "rise", "climbs", "climb", "jumps", "jump", "recovers", "recover", "bounces",
    "bounce", "pops", "moves", "move", "goes", "go", "gets", "get", "breaks", "break",
    "comes", "come", "pushes", "turns", "turn", "becomes", "falls", "fall", "drops", "drop",
    "dips", "dip", "sinks", "sink", "slips", "declines", "decline", "tumbles", "plunges",
})
_AUX = frozenset({
    "is", "are", "was", "be", "stays", "stay", "remains", "remain", "sits", "holds",
    "trades", "closes", "does", "do", "has", "have",
})
# fmt: on
_ABOVE = frozenset({"above", "over"})
_BELOW = frozenset({"below", "under", "beneath", "underneath"})
_MORE = frozenset({"greater", "higher", "more", "bigger", "larger"})
_LESS = frozenset({"less", "lower", "smaller", "fewer"})
# fmt: off
_AND = (
    ("and", "also"), ("and", "if"), ("and", "when"), ("and", "while"), ("but", "only", "if"),
    ("but", "only", "when"), ("only", "if"), ("provided", "that"), ("provided",),
    ("as", "long", "as"), ("and",), ("while",), ("but",), ("&",),
)
# fmt: on
_OR = (("or", "if"), ("or", "when"), ("or",))
_VAGUE = {
    "oversold": "Oversold by which measure? e.g. 'RSI(14) drops below 30'.",
    "overbought": "Overbought by which measure? e.g. 'RSI(14) rises above 70'.",
    "dip": "How is a dip measured? e.g. 'RSI(14) drops below 30' or 'the price crosses below "
    "the lower Bollinger band'.",
    "trend": "Which trend measure? e.g. 'the price is above the 200-day moving average'.",
    "uptrend": "Which trend measure? e.g. 'the price is above the 200-day moving average'.",
    "downtrend": "Which trend measure? e.g. 'the price is below the 200-day moving average'.",
    "bullish": "Bullish by which measure? e.g. 'the MACD crosses above its signal line'.",
    "bearish": "Bearish by which measure? e.g. 'the MACD crosses below its signal line'.",
    "breakout": "A breakout above what? e.g. 'the price crosses above the upper Bollinger band'.",
    "low": "Below which level, by which measure? e.g. 'RSI(14) is below 30'.",
    "high": "Above which level, by which measure? e.g. 'RSI(14) is above 70'.",
    "cheap": "Cheap by which measure? e.g. 'the price is below the lower Bollinger band'.",
    "up": "Up by how much, over what window? e.g. 'the 10-day rate of change is above 5'.",
    "down": "Down by how much, over what window? e.g. 'the 10-day rate of change is below -5'.",
}


def condition(r: Reader) -> Cond:
    return _or(r)


def _or(r: Reader) -> Cond:
    items = [_and(r)]
    while _connector(r, _OR):
        items.append(_and(r))
    return items[0] if len(items) == 1 else {"op": "or", "any": items}


def _and(r: Reader) -> Cond:
    items = [_unary(r)]
    while _connector(r, _AND):
        items.append(_unary(r))
    return items[0] if len(items) == 1 else {"op": "and", "all": items}


def _connector(r: Reader, options: tuple[tuple[str, ...], ...]) -> bool:
    start = r.i
    r.take(",")
    for words in options:
        n = r.seq_at(r.i, words)
        if n and continues(r, r.i + n):
            r.i += n
            return True
    r.i = start
    return False


def continues(r: Reader, j: int) -> bool:
    """Whether a condition (rather than a new clause) starts at token ``j``."""
    tok = r.toks[j] if j < len(r.toks) else None
    if tok is None or tok.text in (".", ";", ",", "then", "let", "define"):
        return False
    if tok.kind == "word" and tok.text not in r.ctx.explicit and r.lead_at(j) is not None:
        return False
    return not (r.trigger_at(j) and condition_first(r, j))


def condition_first(r: Reader, j: int) -> bool:
    """ "when X, sell": a trigger, a condition, a comma, then a bare lead verb."""
    depth = 0
    for k in range(j, len(r.toks)):
        text = r.toks[k].text if r.toks[k].kind == "punct" else None
        depth += {"(": 1, ")": -1}.get(text or "", 0)
        if text in (".", ";"):
            return False
        if text == "," and depth == 0:
            k2 = k + 1 + r.seq_at(k + 1, ("then",))
            lead = r.lead_at(k2)
            return lead is not None and not lead[2]
    return False


def _unary(r: Reader) -> Cond:
    r.take_any({"either"})
    if r.take("it", "is", "not", "the", "case", "that") or r.take("not"):
        return {"op": "not", "cond": _group(r) if r.word() == "(" else _unary(r)}
    if r.take("all", "of"):
        return {"op": "and", "all": [_group(r)]}
    if r.take("any", "of"):
        return {"op": "or", "any": [_group(r)]}
    if r.word() == "(":
        return _group(r)
    return _event(r) or comparison(r)


def _group(r: Reader) -> Cond:
    if not r.take("("):
        raise RefusalError(f"expected '(' at '{r.text_from(r.i, r.i + 4)}'", VOCABULARY_HINT)
    inner = _or(r)
    if not r.take(")"):
        raise RefusalError(
            f"a '(' is not closed before '{r.text_from(r.i, r.i + 4)}'", VOCABULARY_HINT
        )
    return inner


def _event(r: Reader) -> Cond | None:
    """Named crossings: golden and death crosses, and "the reverse cross"."""
    start = r.i
    r.take_any({"a", "the"})
    for word, op in (("golden", "crosses_above"), ("death", "crosses_below")):
        if r.take(word, "cross") or r.take(word, "crossover"):
            r.ctx.note(
                f"'{word} cross' read as the 50-day SMA crossing {op.split('_')[1]} the 200-day SMA"
            )
            fast = register(r, {"kind": "sma", "window": 50})
            return _record(r, op, fast, register(r, {"kind": "sma", "window": 200}))
    if r.take_any({"reverse", "opposite"}) and r.take_any(
        {"cross", "crossover", "crossing", "signal"}
    ):
        ref = _referent(r, crosses_only=True, pronoun=False)
        if ref is None:
            raise ClarifyError(
                "The reverse of which cross? e.g. 'sell when the 10-day SMA crosses "
                "below the 50-day SMA'."
            )
        return _record(r, _flip(ref["op"]), ref["left"], ref["right"])
    r.i = start
    return None


def comparison(r: Reader) -> Cond:
    start = r.i
    left = operand(r, None)
    verb = _verb(r)
    if verb is None:
        raise _unreadable(r, start)
    # "back" points at an earlier crossing; any other pronoun at any earlier comparison.
    op, implied, back, negate = verb
    ref: Cond | None = None
    right: str | float | None = implied
    if left in (None, "@it"):
        ref, right = _pronoun(r, back, right)
        left = ref["left"]
    if right is None:
        right = operand(r, left)
    if right == "@it":
        # "it falls below it": the other side of the comparison the subject came from.
        if ref is None or ref["left"] != left:
            raise ClarifyError(f"What does 'it' refer to after '{r.text_from(start, r.i - 1)}'?")
        right = ref["right"]
    if right is None or op is None:
        ref = ref or _referent(r, crosses_only=back, pronoun=False, left=left)
        if ref is None:
            said = r.text_from(start, r.i)
            raise ClarifyError(
                f"'{said}' what? e.g. '{said} the 50-day moving average' or '{said} 70'."
            )
        right = ref["right"] if right is None else right
        op = op or _flip(ref["op"])
    assert left is not None
    made = _record(r, op, left, right)
    return {"op": "not", "cond": made} if negate else made


def _pronoun(r: Reader, back: bool, right: str | float | None) -> tuple[Cond, str | float | None]:
    """Resolve "it" (or a missing subject) to an earlier comparison; when that is
    ambiguous, the operand after the verb may single one out."""
    try:
        ref = _referent(r, crosses_only=back, pronoun=True)
    except ClarifyError as ambiguous:
        if right is None:
            right = operand(r, None)
        narrowed = None
        if right is not None:
            narrowed = _referent(r, crosses_only=back, pronoun=True, right=right)
        if narrowed is None:
            raise ambiguous from None
        return narrowed, right
    return _need(r, ref), right


def _need(r: Reader, ref: Cond | None) -> Cond:
    if ref is None:
        raise ClarifyError("What does 'it' refer to? Name the indicator or price, e.g. 'RSI(14)'.")
    return ref


def _referent(
    r: Reader,
    *,
    crosses_only: bool,
    pronoun: bool,
    left: str | float | None = None,
    right: str | float | None = None,
) -> Cond | None:
    """The earlier comparison a pronoun or an ellipsis points back to: the current
    clause's if it has one, else the latest clause's. Ambiguity is a question."""
    for clause in reversed(r.ctx.clauses):
        found = [c for c in clause if not crosses_only or c["op"].startswith("crosses")]
        found = [c for c in found if left is None or c["left"] == left]
        found = [c for c in found if right is None or c["right"] == right]
        if not found:
            continue
        lefts = list(dict.fromkeys(repr(c["left"]) for c in found))
        rights = list(dict.fromkeys(repr(c["right"]) for c in found))
        if pronoun and len(lefts) > 1:
            options = " or ".join(label(r.ctx, c["left"]) for c in _unique(found, "left"))
            raise ClarifyError(f"Does 'it' mean {options}?")
        if not pronoun and len(rights) > 1:
            options = " or ".join(label(r.ctx, c["right"]) for c in _unique(found, "right"))
            raise ClarifyError(f"Compared with what: {options}?")
        return found[-1]
    return None


def _unique(found: list[Cond], side: str) -> list[Cond]:
    return list({repr(c[side]): c for c in found}.values())


def _record(r: Reader, op: str, left: str | float, right: str | float) -> Cond:
    made = {"op": op, "left": left, "right": right}
    if not r.ctx.clauses:
        r.ctx.clauses.append([])
    r.ctx.clauses[-1].append(made)
    return made


def _flip(op: str) -> str:
    flips = {"crosses_above": "crosses_below", "crosses_below": "crosses_above"}
    if op not in flips:
        raise ClarifyError("Crosses back above or below? The earlier rule is not a crossing.")
    return flips[op]


def _verb(r: Reader) -> tuple[str | None, float | None, bool, bool] | None:
    """(op, implied right operand, "back", negated) or None when no verb is here.
    An op of None with "back" means the reverse of the crossing it refers to."""
    start = r.i
    negate = False
    while True:
        if r.take_any(_AUX):
            continue
        if r.take("not"):
            negate = not negate
            continue
        break
    if r.take_any(_CROSS) or r.take_any(_MOTION):
        back = r.take("back")
        r.take_any({"out"})
        if r.take_any({"positive"}):
            return "crosses_above", 0.0, back, negate
        if r.take_any({"negative"}):
            return "crosses_below", 0.0, back, negate
        updown = r.take_any({"up", "down"})
        direction = r.take_any(_ABOVE | _BELOW | {"through"})
        if direction in _ABOVE or (direction == "through" and updown == "up"):
            return "crosses_above", None, back, negate
        if direction in _BELOW or (direction == "through" and updown == "down"):
            return "crosses_below", None, back, negate
        if back and direction is None:
            return None, None, True, negate
        raise ClarifyError(
            f"'{r.text_from(start, r.i)}' above or below what? e.g. 'crosses above the 50-day "
            "moving average' or 'rises above 70'."
        )
    return _state(r, start, negate)


def _state(r: Reader, start: int, negate: bool) -> tuple[str, float | None, bool, bool] | None:
    if (r.take_any(_MORE) and r.take("than")) or r.take_any(_ABOVE | {"exceeds", "exceed", ">"}):
        return "gt", None, False, negate
    if (r.take_any(_LESS) and r.take("than")) or r.take_any(_BELOW | {"<"}):
        return "lt", None, False, negate
    for sign, op in ((">=", "gt"), ("<=", "lt")):
        if r.take(sign):
            r.ctx.note(
                f"'{sign}' read as strictly {'above' if op == 'gt' else 'below'} "
                "(rules compare strictly)"
            )
            return op, None, False, negate
    if r.take_any({"positive"}):
        return "gt", 0.0, False, negate
    if r.take_any({"negative"}):
        return "lt", 0.0, False, negate
    r.i = start
    return None


def _unreadable(r: Reader, start: int) -> Exception:
    end = start
    while end < len(r.toks) and r.toks[end].text not in (".", ";", ",") and end - start < 12:
        end += 1
    for tok in r.toks[start:end]:
        if tok.text in _VAGUE:
            return ClarifyError(_VAGUE[tok.text])
    said = r.text_from(start, end) or "(nothing)"
    return RefusalError(f"could not read '{said}' as a condition", VOCABULARY_HINT)
