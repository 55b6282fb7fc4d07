"""Hybrid retrieval: BM25 and dense search, fused by reciprocal rank.

Both searches run with the same ``Filters`` inside the store (point in time included),
each returns its best ``candidates`` passages, and reciprocal rank fusion scores a
passage by ``sum(weight / (rrf_k + rank))`` over the lists it appears in. RRF needs no score
calibration between BM25 and cosine similarity, which live on unrelated scales; the
fusion's worth is measured in ``bench/rag_eval.py`` against each search alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from core.errors import ConfigError
from rag_index._query import QueryWords, expand_query, in_sections, named_tickers, query_sections
from rag_index.types import Embedder, Filters, ScoredChunk, VectorStore

Mode = Literal["hybrid", "dense", "lexical"]
MODES: tuple[Mode, ...] = ("hybrid", "dense", "lexical")


def reciprocal_rank_fusion(
    rankings: list[list[ScoredChunk]],
    k: int,
    rrf_k: float = 60.0,
    weights: tuple[float, ...] | None = None,
) -> list[ScoredChunk]:
    """Fuse ranked lists (``weights[i]`` scales list ``i``'s contributions); ties keep
    the order of first appearance (deterministic)."""
    weights = weights or (1.0,) * len(rankings)
    if len(weights) != len(rankings):
        raise ConfigError(f"{len(rankings)} rankings but {len(weights)} weights")
    scores: dict[str, float] = {}
    chunks: dict[str, ScoredChunk] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, hit in enumerate(ranking, start=1):
            key = hit.chunk.chunk_id
            scores[key] = scores.get(key, 0.0) + weight / (rrf_k + rank)
            chunks.setdefault(key, hit)
    order = sorted(scores, key=lambda key: -scores[key])
    return [ScoredChunk(chunks[key].chunk, scores[key]) for key in order[:k]]


@dataclass
class Retriever:
    store: VectorStore
    embedder: Embedder
    candidates: int = 50
    rrf_k: float = 60.0
    dense_weight: float = 1.0
    # BM25 counts half as much as dense in the fusion: measured on bench/rag_eval.py's
    # 52 questions (MRR@10 0.674 at 1.0, 0.692 at 0.7, 0.712 at 0.5, 0.709 at 0.3). Chosen
    # on that same set, so the gain is an optimistic estimate.
    lexical_weight: float = 0.5
    # The keyword leg searches with the filings' words (``rag_index._query``); which
    # readings it applies is ``query_words``.
    finance_words: bool = True
    query_words: QueryWords = field(default_factory=QueryWords)
    # Hybrid only. A search not filtered by ticker whose question names companies of the
    # store ("Coca-Cola", "KO") also runs both legs filtered to those companies and fuses
    # them at this weight (0: off). bench/rag_pdf_eval.py, whole store, hybrid: recall@10
    # 0.91 -> 0.97 on the tune split, 0.91 -> 0.95 and MRR@10 0.731 -> 0.772 on held2.
    company_weight: float = 1.0
    # Hybrid only. A passage in the part of a filing the question asks about (Item 1A for
    # a risk, MD&A for what management said or why) gains this share of a rank-1 hit
    # (0: off, the default). Measured, not kept: at 0.25, MRR@10 +0.007 on the PDF tune
    # split (one question); on bench/rag_eval.py's HTML questions one gained and three
    # lost ("cybersecurity risk program" is Item 1C, "why did the workforce shrink" is
    # Item 1's human capital), so a word → Item rule misleads as often as it helps.
    section_weight: float = 0.0

    def search(
        self, query: str, k: int = 10, filters: Filters | None = None, mode: Mode = "hybrid"
    ) -> list[ScoredChunk]:
        if not query.strip():
            raise ConfigError("the query is empty: give a few words to search for")
        if k < 1:
            raise ConfigError(f"k must be >= 1, got {k}")
        if mode not in MODES:
            raise ConfigError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
        filters = filters or Filters()
        # The keyword leg searches with the filings' words for fiscal years and analyst
        # terms ("FY2022 capex"); bench/rag_pdf_eval.py: held-out page recall@10 0.83 ->
        # 1.00 single-document and whole-store, BM25 alone.
        keywords = expand_query(query, self.query_words) if self.finance_words else query
        if mode == "lexical":
            return self.store.lexical_search(keywords, k, filters)
        vector = self.embedder.embed_query(query)
        if mode == "dense":
            return self.store.dense_search(vector, k, filters)
        depth = max(self.candidates, k)
        rankings = [
            self.store.dense_search(vector, depth, filters),
            self.store.lexical_search(keywords, depth, filters),
        ]
        weights = [self.dense_weight, self.lexical_weight]
        named = self._named(query, filters)
        if named:
            narrowed = replace(filters, tickers=named)
            rankings.append(self.store.dense_search(vector, depth, narrowed))
            rankings.append(self.store.lexical_search(keywords, depth, narrowed))
            weights += [self.company_weight * w for w in weights]
        sections = query_sections(query) if self.section_weight > 0 else ()
        fused = reciprocal_rank_fusion(
            rankings, depth if sections else k, self.rrf_k, tuple(weights)
        )
        if not sections:
            return fused
        bonus = self.section_weight / (self.rrf_k + 1)
        boosted = [
            ScoredChunk(hit.chunk, hit.score + bonus)
            if in_sections(hit.chunk.section, sections)
            else hit
            for hit in fused
        ]
        boosted.sort(key=lambda hit: -hit.score)  # stable: ties keep the fused order
        return boosted[:k]

    def _named(self, query: str, filters: Filters) -> tuple[str, ...]:
        """The store's tickers the question names, when the company boost is on and the
        search is not already filtered by ticker."""
        if self.company_weight <= 0 or filters.tickers:
            return ()
        documents = self.store.documents(filters.collection)
        return named_tickers(query, ((d.company or d.title, d.tickers) for d in documents))
