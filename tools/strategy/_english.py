"""Plain English → strategy spec, offline and deterministic.

The text is checked for attempts to set limits or trading settings (refused whole,
never partly applied), settings phrases are cut out (``_settings``), and what remains
is read clause by clause: "buy when …", "sell when …", "short when …", "cover when …",
"let NAME be …", or a preset's name ("buy and hold", "MACD trend following"). Every
word must be understood; anything else is a refusal, and anything left open (which
window? what stop?) is a question. The result goes through ``finish``, the validator
a language model's answer goes through too.
"""

from __future__ import annotations

import json
import re
from typing import Any

from tools.strategy._conditions import Cond, condition, condition_first
from tools.strategy._operands import descriptor
from tools.strategy._outcome import (
    OFFLINE,
    VOCABULARY_HINT,
    ParseOutcome,
    finish,
    limits_refusal,
    question,
    refusal,
)
from tools.strategy._presets import preset
from tools.strategy._settings import Settings, extract_settings
from tools.strategy._tokens import (
    LEADS,
    ClarifyError,
    Context,
    Reader,
    RefusalError,
    extract_names,
    normalise,
    tokenize,
)

_HEADER = re.compile(
    r'^\s*strategy\s+("(?:[^"\\]|\\.)*")(?:\s*,\s*described\s+as\s+("(?:[^"\\]|\\.)*"))?\s*[.:]?',
    re.IGNORECASE | re.DOTALL,
)
MAX_TEXT = 20_000
_SEPARATORS = frozenset({".", ";", ",", ":", "and", "then", "but", "also", "so", "&"})
# fmt: off
_FILLERS = frozenset({
    "please", "i", "we", "you", "us", "want", "would", "like", "to", "should", "strategy",
    "a", "an", "the", "that", "which", "my", "simply", "just", "it", "can", "could",
    "create", "build", "write", "backtest", "test", "run", "use", "rules", "rule", "here",
    "is", "are", "following", "preset", "system", "me", "always", "do", "will", "with",
    "using", "plus", "add", "set", "put", "place", "apply",
})
# fmt: on
_PRESETS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("buy", "and", "hold"), "buy-hold"),
    (("buy", "&", "hold"), "buy-hold"),
    (("buy", "hold"), "buy-hold"),
    (("hold",), "buy-hold"),
    (("sma", "crossover"), "sma-cross"),
    (("sma", "cross"), "sma-cross"),
    (("rsi", "mean", "reversion"), "rsi-reversion"),
    (("rsi", "reversion"), "rsi-reversion"),
    (("macd", "trend", "following"), "macd-trend"),
    (("macd", "trend", "follower"), "macd-trend"),
    (("macd", "trend"), "macd-trend"),
)
# fmt: off
_INTENT = frozenset({words[0] for words, _ in LEADS} | {
    "hold", "sma", "ema", "rsi", "macd", "bollinger", "atr", "roc", "moving", "average",
    "crossover", "cross", "crosses", "golden", "death", "momentum", "strategy", "trade",
    "trading", "oversold", "overbought", "dip", "trend",
})
# fmt: on
_ROLE_WORDS = {"entry": "buy", "exit": "sell", "short_entry": "short", "short_exit": "cover"}
_DEFAULTS = (
    ("direction", "long only"),
    ("sizing", "100% of equity per position"),
    ("fee_rate", "fee 0.1% per fill"),
    ("slippage", "no slippage"),
    ("initial_cash", "10000 starting cash"),
)


def parse_strategy_text(text: str) -> ParseOutcome:
    """Read a strategy written in English into a validated spec, a clarifying question,
    or a refusal with its reason. Offline, deterministic, labelled "offline rules"."""
    if not text.strip():
        return refusal("the text is empty", VOCABULARY_HINT)
    if len(text) > MAX_TEXT:
        return refusal(
            f"{len(text):,} characters is too long for a strategy (at most {MAX_TEXT:,})",
            "describe the rules in a few sentences",
        )
    guarded = limits_refusal(text)
    if guarded is not None:
        return guarded
    notes: list[str] = []
    try:
        header, rest = _header(text)
        body, names = extract_names(rest)
        settings = extract_settings(normalise(body))
        notes.extend(settings.notes)
        data = _rules(settings, names, notes)
    except RefusalError as exc:
        return refusal(str(exc), exc.hint)
    except ClarifyError as exc:
        return question(str(exc), notes)
    return finish({**header, **data}, notes, OFFLINE)


def _header(text: str) -> tuple[dict[str, Any], str]:
    """``Strategy "NAME", described as "DESCRIPTION".`` (JSON strings) opens a text that
    names its strategy; the canonical rendering writes it for any spec that has one."""
    m = _HEADER.match(text)
    if m is None:
        return {}, text
    try:
        header = {"name": json.loads(m.group(1))}
        if m.group(2):
            header["description"] = json.loads(m.group(2))
    except json.JSONDecodeError as exc:
        raise RefusalError(
            f"the strategy's name or description is not a valid quoted string: {exc}"
        ) from None
    return header, text[m.end() :]


def _rules(s: Settings, names: list[str], notes: list[str]) -> dict[str, Any]:
    ctx = Context(notes=notes)
    r = Reader(tokenize(s.text, names), ctx)
    roles: dict[str, Cond] = {}
    chosen: str | None = None
    if not s.fields and not s.questions and not any(t.text in _INTENT for t in r.toks):
        raise RefusalError(
            "this does not describe a trading strategy: nothing says when to buy or sell",
            VOCABULARY_HINT,
        )
    try:
        chosen = _clauses(r, roles)
    except ClarifyError as exc:
        raise ClarifyError(" ".join([str(exc), *s.questions])) from None
    if s.questions:
        raise ClarifyError(" ".join(s.questions))
    if chosen is not None:
        return _with_preset(chosen, roles, s, notes)
    if not roles:
        if s.fields or any(t.text in _INTENT for t in r.toks):
            raise ClarifyError(
                "When should it buy, and when sell? e.g. 'buy when the 10-day moving "
                "average crosses above the 50-day, sell when it crosses back below'."
            )
        raise RefusalError(
            "this does not describe a trading strategy: no rule says when to buy or sell",
            VOCABULARY_HINT,
        )
    return _assemble(roles, ctx, s, notes)


def _clauses(r: Reader, roles: dict[str, Cond]) -> str | None:
    """Read every clause; return the preset named, if one was."""
    chosen: str | None = None
    while r.i < len(r.toks):
        if r.take_any(_SEPARATORS) or r.take_any(_FILLERS):
            continue
        r.ctx.clauses.append([])
        if r.take("let") or r.take("define"):
            _definition(r)
            continue
        named = _preset_at(r)
        if named is not None:
            chosen = named
            continue
        lead = r.lead_at(r.i)
        if lead is not None and lead[2]:
            r.i += lead[1]
            _assign(roles, lead[0], condition(r))
        elif r.trigger_at(r.i) and condition_first(r, r.i):
            r.i += r.trigger_at(r.i)
            cond = condition(r)
            r.take(",")
            r.take("then")
            lead = r.lead_at(r.i)
            if lead is None:
                raise _stray(r, False)
            r.i += lead[1]
            _assign(roles, lead[0], cond)
        else:
            raise _stray(r, lead is not None)
    return chosen


def _stray(r: Reader, is_lead: bool) -> Exception:
    end = r.i
    while end < len(r.toks) and r.toks[end].text not in (".", ";", ",") and end - r.i < 12:
        end += 1
    said = r.text_from(r.i, end)
    words = {t.text for t in r.toks[r.i : end]}
    if is_lead and words & {"low", "high", "dip", "cheap", "expensive"}:
        return ClarifyError(
            f"'{said}' by which measure and level? e.g. 'buy when RSI(14) drops below 30, "
            "sell when it rises above 70'."
        )
    if is_lead:
        return RefusalError(
            f"'{said}' is not a rule: say when, e.g. '{said.split()[0]} when ...'", VOCABULARY_HINT
        )
    return RefusalError(f"could not understand '{said}'", VOCABULARY_HINT)


def _assign(roles: dict[str, Cond], role: str, cond: Cond) -> None:
    if role in roles:
        word = _ROLE_WORDS[role]
        raise ClarifyError(
            f"Two '{word}' rules were given: should either one trigger (say 'or'), or "
            "only both together (say 'and')?"
        )
    roles[role] = cond


def _definition(r: Reader) -> None:
    tok = r.peek()
    if tok is None or tok.kind not in ("word", "name") or "." in tok.text:
        raise RefusalError("'let' needs a name, e.g. 'let fast be the 10-day SMA'", VOCABULARY_HINT)
    name = tok.text
    r.i += 1
    if not (r.take("be") or r.take("as") or r.take("=")):
        raise RefusalError(f"'let {name}' needs 'be', e.g. 'let {name} be the 10-day SMA'")
    before = set(r.ctx.indicators)
    canonical = descriptor(r, None, whole=True)
    if canonical is None:
        raise RefusalError(
            f"could not read what {name!r} is: '{r.text_from(r.i, r.i + 6)}'", VOCABULARY_HINT
        )
    ind = r.ctx.indicators[canonical]
    if canonical not in before and canonical != name:
        del r.ctx.indicators[canonical]  # only the definition mentioned it
    if name in r.ctx.explicit or (name in r.ctx.indicators and r.ctx.indicators[name] != ind):
        raise RefusalError(f"{name!r} is defined twice", "give each indicator its own name")
    r.ctx.indicators[name] = ind
    r.ctx.explicit.add(name)


def _preset_at(r: Reader) -> str | None:
    for words, name in _PRESETS:
        n = r.seq_at(r.i, words)
        if n and r.trigger_at(r.i + n) == 0:
            r.ctx.note(
                f"'{r.text_from(r.i, r.i + n)}' read as the {name} preset: "
                f"{preset(name).description}"
            )
            r.i += n
            return name
    return None


def _with_preset(
    name: str, roles: dict[str, Cond], s: Settings, notes: list[str]
) -> dict[str, Any]:
    if roles:
        raise ClarifyError(
            f"That names the {name} preset and also gives rules: use the preset, or "
            "only your own rules?"
        )
    base = preset(name).model_dump(exclude_none=True)
    _note_defaults(s, notes, base)
    return {**base, **s.fields}


def _assemble(
    roles: dict[str, Cond], ctx: Context, s: Settings, notes: list[str]
) -> dict[str, Any]:
    fields = dict(s.fields)
    shorts = "short_entry" in roles or "short_exit" in roles
    if "entry" not in roles:
        _short_only(roles, fields, notes)
    elif shorts and "direction" not in fields:
        fields["direction"] = "long_short"
        notes.append("long and short: short rules were given")
    elif shorts and fields["direction"] == "long_only":
        notes.append("long only: the short rules are kept but never used")
    if "exit" not in roles:
        notes.append("no sell rule: a position closes only at a stop, a target or the end")
    _note_defaults(s, notes, fields)
    return {"indicators": ctx.indicators, **roles, **fields}


def _short_only(roles: dict[str, Cond], fields: dict[str, Any], notes: list[str]) -> None:
    """Only short and cover rules: a short-only strategy, whose short side the spec
    expresses as the reverse of its long rules (short entry = long exit)."""
    if "exit" in roles or ("short_entry" not in roles and "short_exit" not in roles):
        raise ClarifyError("When should it buy? e.g. 'buy when RSI(14) crosses above 30'.")
    if "short_exit" not in roles:
        raise ClarifyError(
            "When should it cover the short (buy back)? e.g. 'cover when RSI(14) drops below 30'."
        )
    if fields.get("direction", "short_only") != "short_only":
        raise ClarifyError(
            f"Only short rules were given but the direction is {fields['direction']}: "
            "should it only go short?"
        )
    if "direction" not in fields:
        notes.append("short only: only short rules were given")
    fields["direction"] = "short_only"
    roles["entry"] = roles.pop("short_exit")
    if "short_entry" in roles:
        roles["exit"] = roles.pop("short_entry")


def _note_defaults(s: Settings, notes: list[str], given: dict[str, Any]) -> None:
    assumed = [text for key, text in _DEFAULTS if key not in given and key not in s.fields]
    stops = [k for k in ("stop_loss", "take_profit", "trailing_stop") if k in given]
    if not stops and not any(k in s.fields for k in ("stop_loss", "trailing_stop")):
        assumed.append("no stops")
    if assumed:
        notes.append("defaults: " + ", ".join(assumed))
