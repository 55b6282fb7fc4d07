"""``score`` and ``score_one``: the package's public entry points.

A text of up to ``DOCUMENT_WORDS`` words is scored as one unit. A longer text is a
document: it is split into sentences, each is scored, and the document's probabilities
are the mean of its sentences' (every sentence counts the same), because both scorers
were fitted on single sentences and the embedding model reads at most 256 word pieces.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from core.errors import ConfigError
from tools.sentiment._embedding import BundledMiniLM, EmbeddingScorer, TextEncoder, load_weights
from tools.sentiment._lexicon import LexiconScorer
from tools.sentiment._train import SHIPPED_WEIGHTS
from tools.sentiment._types import Scorer, SentimentResult

MODELS = ("hybrid", "lexicon", "embedding")
DEFAULT_MODEL = "hybrid"
DOCUMENT_WORDS = 60
BATCH_SIZE = 512
# A sentence ends at . ! or ? followed by a space and a capital, digit or quote, unless
# the dot closes a common abbreviation.
_ABBREVIATIONS = ("Inc", "Corp", "Co", "Ltd", "No", "Mr", "Ms", "Dr", "vs", "U.S", "St", "Jr")
_SENTENCE_BREAK = re.compile(
    "".join(rf"(?<!\b{re.escape(a)}\.)" for a in _ABBREVIATIONS)
    + r"(?<=[.!?])\s+(?=[\"'“(A-Z0-9$])"
)


def resolve_model(model: str) -> str:
    """The scorer name for ``model`` ("default" is ``DEFAULT_MODEL``)."""
    name = DEFAULT_MODEL if model == "default" else model
    if name not in MODELS:
        close = difflib.get_close_matches(name, [*MODELS, "default"], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"unknown sentiment model {model!r}{hint}; choose one of {MODELS}")
    return name


def load_scorer(model: str = "default", *, encoder: TextEncoder | None = None) -> Scorer:
    """A new scorer with the shipped weights; ``encoder`` replaces the bundled MiniLM
    (it must be the model the weights were trained on)."""
    name = resolve_model(model)
    if name == "lexicon":
        return LexiconScorer()
    return EmbeddingScorer(name, load_weights(SHIPPED_WEIGHTS[name]), encoder or BundledMiniLM())


@lru_cache(maxsize=len(MODELS))
def _cached_scorer(name: str) -> Scorer:
    # One loaded embedding model per process: loading it takes seconds.
    return load_scorer(name)


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text`` (stripped, non-empty)."""
    return [s.strip() for s in _SENTENCE_BREAK.split(" ".join(text.split())) if s.strip()]


def _units(text: str) -> list[str]:
    if len(text.split()) <= DOCUMENT_WORDS:
        return [text.strip()]
    return split_sentences(text) or [text.strip()]


def predict_proba(
    texts: Sequence[str], *, model: str = "default", scorer: Scorer | None = None
) -> np.ndarray:
    """Label probabilities, shape ``(len(texts), 3)``, documents averaged over sentences."""
    for i, text in enumerate(texts):
        if not text.strip():
            raise ConfigError(f"text {i} is empty: every text needs at least one word")
    active = scorer or _cached_scorer(resolve_model(model))
    units: list[str] = []
    owners: list[int] = []
    for i, text in enumerate(texts):
        pieces = _units(text)
        units.extend(pieces)
        owners.extend([i] * len(pieces))
    out = np.zeros((len(texts), 3))
    if not units:
        return out
    parts = [
        active.predict_proba(units[s : s + BATCH_SIZE]) for s in range(0, len(units), BATCH_SIZE)
    ]
    probabilities = np.vstack(parts)
    owner = np.asarray(owners)
    np.add.at(out, owner, probabilities)
    out /= np.bincount(owner, minlength=len(texts))[:, None]
    return out


def score(
    texts: Sequence[str], *, model: str = "default", scorer: Scorer | None = None
) -> list[SentimentResult]:
    """The financial tone of each text, in input order.

    ``model``: "default" (= ``DEFAULT_MODEL``), "hybrid", "lexicon" or "embedding".
    ``scorer`` overrides ``model`` with a scorer you built (``load_scorer``). Raises
    ``ConfigError`` for an unknown model or an empty text."""
    if isinstance(texts, str):
        raise ConfigError("score() takes a list of texts; use score_one() for a single text")
    active = scorer or _cached_scorer(resolve_model(model))
    probabilities = predict_proba(texts, scorer=active)
    return [SentimentResult.from_probabilities(row, active.name) for row in probabilities]


def score_one(
    text: str, *, model: str = "default", scorer: Scorer | None = None
) -> SentimentResult:
    """The financial tone of one sentence, headline or document."""
    if not text.strip():
        raise ConfigError("the text is empty: give a sentence, headline or document to score")
    return score([text], model=model, scorer=scorer)[0]
