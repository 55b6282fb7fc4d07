"""``score`` / ``score_one``: valid distributions, documents, errors."""

from __future__ import annotations

import math

import pytest

from core.errors import ConfigError
from tools.sentiment import (
    DOCUMENT_WORDS,
    LABELS,
    BundledMiniLM,
    load_scorer,
    predict_proba,
    score,
    score_one,
    split_sentences,
)
from tools.sentiment._types import Scorer

TEXTS = [
    "Acme Corp beat estimates and raised its full-year outlook.",
    "Regulators fined the bank $250 million.",
    "The company will report results on Tuesday.",
    "x",
    "Revenue ↑ 12% 🚀 — guidance $5.1bn (prior $4.9bn)",
    "revenue " * 300,  # a long "document" of one repeated word
]


@pytest.mark.parametrize("name", ["lexicon", "embedding", "hybrid"])
def test_every_result_is_a_probability_distribution_whose_top_label_is_the_label(
    name: str, scorers: dict[str, Scorer]
) -> None:
    results = score(TEXTS, scorer=scorers[name])
    assert len(results) == len(TEXTS)
    for result in results:
        assert set(result.scores) == set(LABELS)
        assert all(0.0 <= p <= 1.0 for p in result.scores.values())
        assert math.isclose(sum(result.scores.values()), 1.0, abs_tol=2e-4)
        assert result.confidence == max(result.scores.values())
        assert result.scores[result.label] == result.confidence
        assert result.model == name
        assert set(result.to_json()) == {"label", "confidence", "scores", "model"}


def test_results_do_not_depend_on_batching(minilm: BundledMiniLM) -> None:
    # The uncached model: padding a short text to a batch's longest must not matter.
    hybrid = load_scorer("hybrid", encoder=minilm)
    together = score(TEXTS[:3], scorer=hybrid)
    alone = [score([t], scorer=hybrid)[0] for t in TEXTS[:3]]
    for a, b in zip(together, alone, strict=True):
        assert a.label == b.label
        assert a.scores == pytest.approx(b.scores, abs=1e-3)


def test_a_long_document_is_the_mean_of_its_sentences() -> None:
    good = "Revenue rose 20% and margins hit a record. "
    bad = "The company cut its dividend and warned on profits. "
    document = good * 20 + bad * 10
    assert len(document.split()) > DOCUMENT_WORDS
    assert len(split_sentences(document)) == 30
    expected = (
        20 * predict_proba([good.strip()], model="lexicon")
        + 10 * predict_proba([bad.strip()], model="lexicon")
    ) / 30
    assert predict_proba([document], model="lexicon") == pytest.approx(expected)
    assert score_one(document, model="lexicon").label == "positive"


def test_sentences_split_at_full_stops_but_not_abbreviations() -> None:
    text = "Acme Inc. beat estimates. Shares of U.S. Steel fell 3.5%! Why? No comment."
    assert split_sentences(text) == [
        "Acme Inc. beat estimates.",
        "Shares of U.S. Steel fell 3.5%!",
        "Why?",
        "No comment.",
    ]


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_an_empty_text_is_a_config_error(text: str) -> None:
    with pytest.raises(ConfigError, match="empty"):
        score_one(text, model="lexicon")
    with pytest.raises(ConfigError, match="text 1 is empty"):
        score(["fine", text], model="lexicon")


def test_an_unknown_model_suggests_the_closest_name() -> None:
    with pytest.raises(ConfigError, match="did you mean 'lexicon'"):
        score_one("Revenue rose", model="lexicom")


def test_score_refuses_a_bare_string_instead_of_scoring_each_character() -> None:
    with pytest.raises(ConfigError, match="score_one"):
        score("Revenue rose", model="lexicon")
