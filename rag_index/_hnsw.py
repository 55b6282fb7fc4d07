"""The approximate dense index: a FAISS HNSW graph keyed by SQLite rowid.

Building a graph takes minutes at 100k vectors, so a graph outlives the generation it
was built for. Its ids are chunk rowids, which SQLite never reuses while they are
alive, so after a write the previous generation's graph is still valid for every row it
holds: new rows are added to it (about 2 ms each) and deleted rows are hidden by the
bitmap selector that also carries the search filter. Once more than a quarter of the
graph is deleted rows it is rebuilt from scratch. A filter reaches FAISS as
``IDSelectorBitmap`` inside ``SearchParametersHNSW``, so it applies during the walk.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

MAX_DEAD_FRACTION = 0.25
# A search (as opposed to ``build_index``) adds at most this many new vectors to an
# older graph (a few seconds); beyond it, exact search answers until the next build.
SEARCH_TIME_ADDS = 2_000


class Hnsw:
    """``IndexIDMap(IndexHNSWFlat)``, inner product (= cosine on unit vectors)."""

    def __init__(self, index: Any) -> None:
        import faiss

        if not isinstance(index, faiss.IndexIDMap):
            raise ValueError(f"holds a {type(index).__name__}, not an IndexIDMap")
        self.index = index
        self.ids = faiss.vector_to_array(index.id_map).astype(np.int64)
        self.dead = 0  # graph entries that are not rows of the generation attached

    @classmethod
    def build(cls, matrix: np.ndarray, rowids: np.ndarray, m: int, ef_construction: int) -> Hnsw:
        import faiss

        graph = faiss.IndexHNSWFlat(matrix.shape[1], m, faiss.METRIC_INNER_PRODUCT)
        graph.hnsw.efConstruction = ef_construction
        index = faiss.IndexIDMap(graph)
        index.add_with_ids(np.ascontiguousarray(matrix, dtype=np.float32), rowids)
        return cls(index)

    @classmethod
    def load(cls, file: Path) -> Hnsw:
        import faiss

        loaded = cls(faiss.read_index(str(file)))
        if len(loaded.ids) != loaded.index.ntotal or len(np.unique(loaded.ids)) != len(loaded.ids):
            raise ValueError("its id map does not match its vectors")
        return loaded

    def save(self, file: Path) -> None:
        import faiss

        faiss.write_index(self.index, str(file))

    @property
    def size(self) -> int:
        return int(self.index.ntotal)

    def missing(self, rowids: np.ndarray) -> np.ndarray:
        """Positions in ``rowids`` (a generation's rows) that the graph lacks."""
        return np.flatnonzero(~np.isin(rowids, self.ids, assume_unique=True))

    def attach(self, rowids: np.ndarray) -> None:
        """Count the graph entries that are not rows of this generation (deleted)."""
        self.dead = self.size - int(np.count_nonzero(np.isin(self.ids, rowids)))

    @property
    def stale(self) -> bool:
        """Too many deleted entries: searches waste effort on them; rebuild instead."""
        return self.dead > MAX_DEAD_FRACTION * self.size

    def add(self, vectors: np.ndarray, rowids: np.ndarray) -> None:
        if len(rowids):
            self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), rowids)
            self.ids = np.concatenate([self.ids, rowids.astype(np.int64)])

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None, ef: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rowids and scores of the best ``k`` among ``allowed`` rowids (``None``: every
        entry of the graph, which the caller may pass only when none is dead)."""
        import faiss

        params = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]  # not in the stub
        params.efSearch = max(ef, k)
        if allowed is not None:
            members = np.zeros(int(self.ids.max(initial=0)) + 1, dtype=bool)
            members[allowed[allowed < len(members)]] = True
            # IDSelectorBitmap reads bit (id & 7) of byte (id >> 3): little-endian packing.
            # ``bits`` must outlive the search: the selector keeps a raw pointer into it.
            bits = np.packbits(members, bitorder="little")
            params.sel = faiss.IDSelectorBitmap(len(bits), faiss.swig_ptr(bits))
        scores, labels = self.index.search(query[None, :], k, params=params)
        found = labels[0] >= 0
        return labels[0][found].astype(np.int64), scores[0][found]
