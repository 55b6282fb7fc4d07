"""The embedded store's lexical side: which terms BM25 sees, and BM25 itself (checked
against bm25s, the reference implementation)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag_index._bm25 import Bm25
from rag_index._text import tokenize


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Annual report on Form 10-K", ["annual", "report", "form", "10-k", "10"]),
        ("Revenue was $1,250.5 million in 2024", ["revenue", "1250.5", "million", "2024"]),
        ("BRK.B and S&P 500", ["brk.b", "brk", "s&p", "500"]),
        ("Apple's margin", ["apple", "margin"]),
        ("Item 1A. Risk Factors", ["item", "1a", "risk", "factors"]),
    ],
)
def test_tokenize_keeps_forms_numbers_and_tickers_searchable(
    text: str, expected: list[str]
) -> None:
    assert tokenize(text) == expected


def test_tokenize_drops_stopwords_but_keeps_capitalised_tickers_spelled_like_them() -> None:
    assert tokenize("it is IT and ON, not it") == ["it", "on"]


def test_tokenize_when_text_has_only_stopwords_or_punctuation_then_no_terms() -> None:
    assert tokenize("the of and -- ...") == []
    assert tokenize("") == []


def _corpus(seed: int, n: int) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(300)]
    weights = 1.0 / np.arange(1, 301)
    return [
        rng.choice(words, int(rng.integers(0, 40)), p=weights / weights.sum()).tolist()
        for _ in range(n)
    ]


def _index(corpus: list[list[str]]) -> tuple[Bm25, dict[str, int]]:
    vocabulary: dict[str, int] = {}
    ids = [vocabulary.setdefault(t, len(vocabulary)) for terms in corpus for t in terms]
    lengths = np.array([len(terms) for terms in corpus], dtype=np.int64)
    return Bm25.build(np.array(ids, dtype=np.int32), lengths, len(vocabulary)), vocabulary


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bm25_scores_equal_the_bm25s_lucene_reference(seed: int) -> None:
    import bm25s

    corpus = _corpus(seed, 400)
    reference = bm25s.BM25(method="lucene")
    reference.index(corpus, show_progress=False)
    ours, vocabulary = _index(corpus)

    for query in (["w0"], ["w3", "w17", "w250"], ["w299", "w0"], ["w1", "unseen"]):
        expected = reference.get_scores(query)
        got = ours.scores([vocabulary[t] for t in query if t in vocabulary])
        assert got is not None
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_bm25_counts_a_repeated_query_term_once() -> None:
    index, _ = _index(_corpus(4, 100))

    np.testing.assert_array_equal(index.scores([2, 2, 9]), index.scores([9, 2]))


def test_bm25_when_no_query_term_is_indexed_then_no_scores() -> None:
    index, _ = _index([["alpha", "beta"], []])

    assert index.scores([]) is None
    assert index.scores([7]) is None


def test_bm25_survives_save_and_load(tmp_path: Path) -> None:
    index, _ = _index(_corpus(3, 50))
    index.save(tmp_path / "bm25.npz")

    loaded = Bm25.load(tmp_path / "bm25.npz")

    np.testing.assert_array_equal(loaded.scores([1, 5]), index.scores([1, 5]))


def test_bm25_of_an_empty_corpus_scores_nothing() -> None:
    assert _index([])[0].scores([0]) is None
    assert _index([[], []])[0].scores([0]) is None
