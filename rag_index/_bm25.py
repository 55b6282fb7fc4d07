"""BM25 (Lucene variant) as a term-major sparse matrix, built from stored term ids.

Same scores as ``bm25s.BM25(method="lucene")`` with k1=1.5, b=0.75 (the tests compare
the two), but built from integer term ids with one sparse-matrix construction instead
of tokenising and counting document by document in Python: bm25s took ~50 s for 100k
chunks on this (busy) machine, and the store rebuilds the index after every write.
Row ``r``'s term ids are assigned when the chunk is written (see ``_sqlite``); a term's
postings are ``indices[indptr[t]:indptr[t+1]]`` with precomputed weights in ``data``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

K1 = 1.5
B = 0.75


@dataclass(frozen=True)
class Bm25:
    indptr: np.ndarray  # int64, one more than the number of term ids
    indices: np.ndarray  # int32 rows, ascending within each term
    data: np.ndarray  # float32 weights
    n: int

    @classmethod
    def build(cls, term_ids: np.ndarray, lengths: np.ndarray, n_terms: int) -> Bm25:
        """Index ``n = len(lengths)`` rows whose term ids, concatenated in row order, are
        ``term_ids`` (row ``r`` has ``lengths[r]`` of them; ids are below ``n_terms``)."""
        from scipy.sparse import csr_matrix

        n = len(lengths)
        if n == 0 or len(term_ids) == 0:
            empty = np.zeros(0, dtype=np.int32)
            return cls(np.zeros(n_terms + 1, np.int64), empty, empty.astype(np.float32), n)
        rows = np.repeat(np.arange(n, dtype=np.int32), lengths)
        ones = np.ones(len(term_ids), dtype=np.float32)
        # Term-major counts: duplicates (a term repeated in a row) are summed into tf.
        counts = csr_matrix((ones, (term_ids, rows)), shape=(n_terms, n))
        counts.sum_duplicates()
        tf = counts.data.astype(np.float64)
        df = np.diff(counts.indptr)
        idf = np.log1p((n - df + 0.5) / (df + 0.5))
        norm = K1 * ((1 - B) + B * lengths / max(float(lengths.mean()), 1e-9))
        term_of = np.repeat(np.arange(n_terms), df)
        data = idf[term_of] * tf / (norm[counts.indices] + tf)
        return cls(
            counts.indptr.astype(np.int64),
            counts.indices.astype(np.int32),
            data.astype(np.float32),
            n,
        )

    def scores(self, term_ids: list[int]) -> np.ndarray | None:
        """BM25 of every row for the distinct ``term_ids``; ``None`` if none is indexed."""
        known = sorted({t for t in term_ids if 0 <= t < len(self.indptr) - 1})
        if not known:
            return None
        scores = np.zeros(self.n, dtype=np.float32)
        for term in known:
            start, end = self.indptr[term], self.indptr[term + 1]
            # A term's rows are distinct, so plain fancy-index addition is exact.
            scores[self.indices[start:end]] += self.data[start:end]
        return scores

    def save(self, file: Path) -> None:
        with file.open("wb") as handle:
            np.savez(handle, indptr=self.indptr, indices=self.indices, data=self.data, n=self.n)

    @classmethod
    def load(cls, file: Path) -> Bm25:
        with np.load(file, allow_pickle=False) as arrays:
            index = cls(arrays["indptr"], arrays["indices"], arrays["data"], int(arrays["n"]))
        if len(index.indices) != len(index.data) or index.indptr[-1] != len(index.indices):
            raise ValueError(f"BM25 index {file} is inconsistent")
        return index
