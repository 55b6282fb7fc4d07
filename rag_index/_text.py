"""The lexical tokenizer of the embedded store: what BM25 counts as a term.

Lowercased words and numbers, English stopwords dropped, and the forms finance text
relies on kept whole: ``10-K`` is the term ``10-k`` (and ``10``), ``BRK.B`` is ``brk.b``
(and ``brk``), ``1,250`` is ``1250``, ``S&P`` is ``s&p``. A stopword written in capitals
(``IT``, ``ON``) is probably a ticker and is kept. No stemming: a filing's
exact wording ("impairment", "impairments") is what a keyword search is for, and the
dense search covers paraphrase.
"""

from __future__ import annotations

import re

# Lucene's English stopword list: small on purpose, so short queries keep their meaning.
STOPWORDS = frozenset(
    (
        *("a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into"),
        *("is", "it", "no", "not", "of", "on", "or", "such", "that", "the", "their", "then"),
        *("there", "these", "they", "this", "to", "was", "will", "with"),
    )
)
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_POSSESSIVE = re.compile(r"['’]s\b", re.IGNORECASE)
_TOKEN = re.compile(r"[^\W_]+(?:[-.&/'][^\W_]+)*")
_SEPARATORS = re.compile(r"[-.&/']")
_DECIMAL = re.compile(r"\d+(?:\.\d+)+")


def _keep(raw: str, low: str) -> bool:
    if low in STOPWORDS:
        return len(raw) >= 2 and raw.isupper()
    return len(low) >= 2 or low.isdigit()


def tokenize(text: str) -> list[str]:
    """The terms of ``text``, in order (repeats kept: BM25 counts them)."""
    if "," in text:
        text = _THOUSANDS.sub("", text)
    if "'" in text or "’" in text:
        text = _POSSESSIVE.sub("", text)
    terms: list[str] = []
    for raw in _TOKEN.findall(text):
        low = raw.lower()
        if _keep(raw, low):
            terms.append(low)
        if not raw.isalnum() and not _DECIMAL.fullmatch(raw):
            for raw_part in _SEPARATORS.split(raw):
                part = raw_part.lower()
                if part != low and _keep(raw_part, part):
                    terms.append(part)
    return terms
