"""Tokens of a plain-English strategy and the reader the rule grammar walks them with.

Text is normalised once (Unicode forms, dashes, contractions, thousands separators,
lower case); names written in backticks keep their exact spelling and are carried
through as placeholders so no normalisation step can alter them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

# Private-use code points mark where a backtick name stood; lower-casing leaves them be.
_OPEN, _CLOSE = "\ue000", "\ue001"
OUTPUT_WORDS = frozenset({"macd", "signal", "hist", "upper", "middle", "lower"})
TRIGGERS: tuple[tuple[str, ...], ...] = (
    ("as", "soon", "as"),
    ("each", "time"),
    ("every", "time"),
    ("whenever",),
    ("when",),
    ("if",),
    ("once",),
    ("after",),
    ("on",),
    ("while",),
)
# Longest first within each role, so "sell short" is a short entry and not a sale.
LEADS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("buy", "to", "cover"), "short_exit"),
    (("buy", "back"), "short_exit"),
    (("exit", "the", "short"), "short_exit"),
    (("exit", "shorts"), "short_exit"),
    (("exit", "short"), "short_exit"),
    (("close", "the", "short"), "short_exit"),
    (("cover",), "short_exit"),
    (("covers",), "short_exit"),
    (("sell", "short"), "short_entry"),
    (("sells", "short"), "short_entry"),
    (("go", "short"), "short_entry"),
    (("goes", "short"), "short_entry"),
    (("enter", "short"), "short_entry"),
    (("open", "a", "short"), "short_entry"),
    (("short",), "short_entry"),
    (("shorts",), "short_entry"),
    (("exit", "the", "long"), "exit"),
    (("exit", "long"), "exit"),
    (("close", "the", "long"), "exit"),
    (("close", "the", "position"), "exit"),
    (("close", "out"), "exit"),
    (("get", "out"), "exit"),
    (("go", "flat"), "exit"),
    (("sell",), "exit"),
    (("sells",), "exit"),
    (("exit",), "exit"),
    (("exits",), "exit"),
    (("go", "long"), "entry"),
    (("goes", "long"), "entry"),
    (("enter", "long"), "entry"),
    (("open", "a", "long"), "entry"),
    (("get", "in"), "entry"),
    (("buy",), "entry"),
    (("buys",), "entry"),
    (("enter",), "entry"),
    (("enters",), "entry"),
    (("long",), "entry"),
)
_OBJECTS = frozenset({"it", "shares", "stock", "the", "everything", "all", "position", "positions"})


class ClarifyError(Exception):
    """The text is a strategy but leaves something open; the message is the question."""


class RefusalError(Exception):
    """The text cannot become a strategy; the message says why."""

    def __init__(self, reason: str, hint: str | None = None) -> None:
        super().__init__(reason)
        self.hint = hint


@dataclass(frozen=True)
class Tok:
    kind: Literal["word", "num", "name", "punct", "other"]
    text: str
    unit: str | None = None


@dataclass
class Context:
    """What the rules have defined so far, shared by every clause of one text."""

    indicators: dict[str, dict[str, Any]] = field(default_factory=dict)
    explicit: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    clauses: list[list[dict[str, Any]]] = field(default_factory=list)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


def extract_names(text: str) -> tuple[str, list[str]]:
    """Replace each backtick name with a placeholder; return the text and the names."""
    names: list[str] = []

    def keep(m: re.Match[str]) -> str:
        names.append(m.group(1))
        return f" {_OPEN}{len(names) - 1}{_CLOSE}"

    return re.sub(r"`([^`]+)`", keep, text), names


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    for old, new in (("’", "'"), ("‘", "'"), ("“", '"'), ("”", '"'), ("–", "-"), ("—", "-")):
        text = text.replace(old, new)
    text = text.replace("−", "-").replace("≥", ">=").replace("≤", "<=").lower()
    text = re.sub(r"(^|\n)\s*(?:[-*•]|\d+[.)])\s+", r"\1 ", text)  # list bullets
    for short, full in (("it's", "it is"), ("n't", " not"), ("'re", " are"), ("let's", "let us")):
        text = text.replace(short, full)
    text = re.sub(r"'s\b", " its", text)  # "the macd's signal line" → "the macd its signal line"
    text = re.sub(r"(?<=[a-z0-9])-(?=[a-z0-9])", " ", text)  # "10-day", "stop-loss"
    text = re.sub(
        r"(?<![\d,(.])(\d{1,3}(?:,\d{3})+)(?![\d,])", lambda m: m[1].replace(",", ""), text
    )
    return re.sub(r"\s+", " ", text).strip()


_TOKEN = re.compile(
    rf"(?P<name>{_OPEN}(?P<idx>\d+){_CLOSE}(?:\.(?P<out>[a-z]+))?)"
    r"|(?P<num>-?\d+(?:\.\d+)?)(?:\s*(?P<unit>%|percent\b|pct\b|bps\b))?"
    r"|(?P<word>[a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)?)"
    r"|(?P<punct>>=|<=|[(),.;:<>=&/!])"
    r"|(?P<space>\s+)"
    r"|(?P<other>.)"
)


def tokenize(text: str, names: list[str]) -> list[Tok]:
    toks: list[Tok] = []
    for m in _TOKEN.finditer(re.sub(r"\$(?=\d)", "", text)):
        if m.group("name"):
            out = f".{m.group('out')}" if m.group("out") else ""
            toks.append(Tok("name", names[int(m.group("idx"))] + out))
        elif m.group("num"):
            toks.append(Tok("num", m.group("num"), m.group("unit")))
        elif m.group("word"):
            toks.extend(_word(m.group("word")))
        elif m.group("punct"):
            toks.append(Tok("punct", m.group("punct")))
        elif m.group("other"):
            toks.append(Tok("other", m.group("other")))
    return toks


def _word(word: str) -> list[Tok]:
    """``macd.signal`` stays one token; ``slow.sell`` (a missing space) becomes three."""
    head, dot, tail = word.partition(".")
    if not dot or tail in OUTPUT_WORDS:
        return [Tok("word", word)]
    return [Tok("word", head), Tok("punct", "."), Tok("word", tail)]


class Reader:
    """A cursor over tokens with the small look-ahead helpers the grammar needs."""

    def __init__(self, toks: list[Tok], ctx: Context) -> None:
        self.toks = toks
        self.i = 0
        self.ctx = ctx

    def peek(self, k: int = 0) -> Tok | None:
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else None

    def word(self, k: int = 0) -> str | None:
        tok = self.peek(k)
        return tok.text if tok is not None and tok.kind in ("word", "punct") else None

    def seq_at(self, j: int, words: Iterable[str | frozenset[str]]) -> int:
        """Length of ``words`` if the tokens at ``j`` spell it, else 0."""
        n = 0
        for want in words:
            tok = self.toks[j + n] if j + n < len(self.toks) else None
            if tok is None or tok.kind not in ("word", "punct"):
                return 0
            if tok.text != want if isinstance(want, str) else tok.text not in want:
                return 0
            n += 1
        return n

    def take(self, *words: str | frozenset[str]) -> bool:
        n = self.seq_at(self.i, words)
        self.i += n
        return n > 0

    def take_any(self, options: Iterable[str]) -> str | None:
        w = self.word()
        if w is not None and w in options:
            self.i += 1
            return w
        return None

    def lead_at(self, j: int) -> tuple[str, int, bool] | None:
        """(role, tokens, followed by a trigger word) for a lead verb at ``j``."""
        for words, role in LEADS:
            n = self.seq_at(j, words)
            if not n:
                continue
            k = j + n
            while self.seq_at(k, (_OBJECTS,)) and not self.trigger_at(k):
                k += 1
            trig = self.trigger_at(k)
            return role, k - j + trig, trig > 0
        return None

    def trigger_at(self, j: int) -> int:
        for words in TRIGGERS:
            n = self.seq_at(j, words)
            if n:
                return n
        return 0

    def text_from(self, start: int, end: int | None = None) -> str:
        return " ".join(t.text for t in self.toks[start:end])
