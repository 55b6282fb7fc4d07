"""Ranking kernels of the embedded store: exact dense and BM25 (HNSW is in ``_hnsw``).

Each takes a row mask (``None`` = all rows) and returns ``(rows, scores)`` best first,
with only rows that pass the mask, so a filter never costs recall.

Exact dense scoring is a single-threaded ``einsum``, not ``matrix @ query``: OpenBLAS
spreads a matrix-vector product over both cores, and when anything else holds a core
(as on these 2-core machines, where a background job usually does) a 10k-row product
took 24 ms instead of 1.2 ms. The product is memory-bound: one thread loses little.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rag_index._bm25 import Bm25

# Below this fraction of matching rows, scoring only those rows (a gather) beats scoring
# every row and masking the rest.
GATHER_FRACTION = 0.25


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` highest scores, best first; ties broken by position (also
    at the cut, so equal scores never make the answer depend on partition order)."""
    if k < len(scores):
        cut = scores[np.argpartition(-scores, k - 1)[k - 1]]
        above = np.flatnonzero(scores > cut)
        tied = np.flatnonzero(scores == cut)[: k - len(above)]
        candidates = np.concatenate([above, tied])
    else:
        candidates = np.arange(len(scores))
    return candidates[np.lexsort((candidates, -scores[candidates]))]


def exact_dense(
    matrix: np.ndarray, query: np.ndarray, k: int, mask: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    if mask is None:
        scores = _dot(matrix, query)
        rows = top_k(scores, k)
        return rows, scores[rows]
    count = int(np.count_nonzero(mask))
    if count == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    if count < GATHER_FRACTION * len(mask):
        subset = np.flatnonzero(mask)
        scores = _dot(matrix[subset], query)
        best = top_k(scores, min(k, count))
        return subset[best], scores[best]
    scores = _dot(matrix, query)
    scores[~mask] = -np.inf
    rows = top_k(scores, min(k, count))
    return rows, scores[rows]


def _dot(matrix: np.ndarray, query: np.ndarray) -> np.ndarray:
    return np.einsum("ij,j->i", matrix, query)


class Lexical:
    """BM25 (Lucene variant, k1=1.5, b=0.75) over the chunks' title, headings and text."""

    def __init__(self, index: Bm25) -> None:
        self.index = index

    @classmethod
    def load(cls, file: Path, n: int) -> Lexical:
        index = Bm25.load(file)
        if index.n != n:
            raise ValueError(f"indexes {index.n} chunks, not {n}")
        return cls(index)

    def search(
        self, term_ids: list[int], k: int, mask: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        scores = self.index.scores(term_ids)
        if scores is None:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        # Only chunks holding a query term are hits; the mask drops the filtered-out ones.
        hit = scores > 0
        if mask is not None:
            hit &= mask
        rows = np.flatnonzero(hit)
        best = top_k(scores[rows], min(k, len(rows)))
        return rows[best], scores[rows[best]]
