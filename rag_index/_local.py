"""The embedded store: SQLite for truth, numpy/FAISS/BM25 for search, all on local disk.

Writes go to SQLite in one transaction each and bump the store's generation. Searches
read the generation inside a read transaction and use the search structures of exactly
that generation (built on first use, cached on disk), so a reader sees the old state or
the new one, never a mix, even while another process writes. One writer at a time: a
second writer waits for the first (SQLite's lock) and gives up after 30 s.

Dense search is exact (one matrix-vector product over the rows the filter keeps) unless
the store holds more than ``ann_threshold`` vectors, the filter keeps at least
``ann_min_fraction`` of them, and an HNSW graph is available; then FAISS walks the
graph with the filter as a bitmap. ``build_index()`` builds the graph (minutes at 100k
vectors); after later writes the last graph is brought up to date incrementally (new
rows added, deleted ones masked), by the next ``build_index()`` or, for small changes,
by the next search. A selective filter leaves few rows, which exact search scores
quickly and without approximation, as production vector databases do. ``strategy``
forces either path.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import numpy as np

from core.errors import ConfigError, UnavailableError
from rag_index import _sqlite
from rag_index._cache import Snapshot
from rag_index._columns import Columns
from rag_index._records import FilterSpec, check_k, check_query, check_upsert
from rag_index._search import exact_dense
from rag_index._text import tokenize
from rag_index.types import DEFAULT_COLLECTION, Chunk, DocumentRecord, Filters, ScoredChunk

Strategy = Literal["auto", "exact", "ann"]


class LocalStore:
    """A ``VectorStore`` in a folder: ``kb.sqlite3`` plus a ``cache/`` of search indexes.

    ``ef_search`` is the HNSW candidate list size (higher: better recall, slower);
    ``hnsw_m`` and ``ef_construction`` shape the graph when it is built.
    """

    def __init__(
        self,
        path: Path,
        dim: int,
        *,
        ann_threshold: int = 50_000,
        ann_min_fraction: float = 0.2,
        ef_search: int = 128,
        hnsw_m: int = 32,
        ef_construction: int = 128,
    ) -> None:
        if dim < 1:
            raise ConfigError(f"dim must be >= 1, got {dim}")
        if not 0.0 <= ann_min_fraction <= 1.0:
            raise ConfigError(f"ann_min_fraction must be in [0, 1], got {ann_min_fraction}")
        self.path = Path(path)
        self.dim = dim
        self.ann_threshold = ann_threshold
        self.ann_min_fraction = ann_min_fraction
        self.ef_search = ef_search
        self.hnsw_m = hnsw_m
        self.ef_construction = ef_construction
        self._conn: sqlite3.Connection | None
        self._conn, self._store_id = _sqlite.connect(self.path, dim)
        self._lock = threading.RLock()
        self._snapshot: Snapshot | None = None

    def __repr__(self) -> str:
        return f"LocalStore({str(self.path)!r}, dim={self.dim})"

    def __enter__(self) -> LocalStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Writes -------------------------------------------------------------------------

    def upsert_document(
        self, document: DocumentRecord, chunks: Sequence[Chunk], vectors: np.ndarray
    ) -> None:
        """Replace everything stored for ``document`` (same doc_id and collection) in one
        transaction; validation errors raise before anything is written."""
        self.upsert_documents([(document, chunks, vectors)])

    def upsert_documents(
        self, items: Iterable[tuple[DocumentRecord, Sequence[Chunk], np.ndarray]]
    ) -> int:
        """Upsert many documents in ONE transaction (one fsync): the fast bulk load.
        All are validated first; either all are stored or none is. Returns the count."""
        checked = [(d, list(c), check_upsert(d, c, v, self.dim)) for d, c, v in items]
        with self._writing() as conn:
            _sqlite.write_documents(conn, checked)
        return len(checked)

    def delete_document(self, doc_id: str, collection: str = DEFAULT_COLLECTION) -> bool:
        with self._writing() as conn:
            return _sqlite.delete_document(conn, collection, doc_id)

    # Reads --------------------------------------------------------------------------

    def get_document(
        self, doc_id: str, collection: str = DEFAULT_COLLECTION
    ) -> DocumentRecord | None:
        with self._lock:
            return _sqlite.get_document(self._connection(), collection, doc_id)

    def chunks_of(self, doc_id: str, collection: str = DEFAULT_COLLECTION) -> list[Chunk]:
        """A document's chunks in order (empty if it is not stored)."""
        with self._lock:
            return _sqlite.document_chunks(self._connection(), collection, doc_id)

    def documents(self, collection: str | None = None) -> list[DocumentRecord]:
        with self._lock:
            return _sqlite.list_documents(self._connection(), collection)

    def count_chunks(self, collection: str | None = None) -> int:
        with self._lock:
            return _sqlite.count_chunks(self._connection(), collection)

    def dense_search(
        self,
        vector: np.ndarray,
        k: int,
        filters: Filters | None = None,
        *,
        strategy: Strategy = "auto",
    ) -> list[ScoredChunk]:
        """The ``k`` chunks most cosine-similar to ``vector`` among those ``filters`` keep.

        ``strategy="exact"`` never uses the HNSW graph; ``"ann"`` always does (building
        it now if this generation has none; slow); ``"auto"`` is described in the module
        docstring. A graph walk that finds fewer than ``k`` of the matching rows (a
        filter the graph navigates badly) falls back to exact search.
        """
        check_k(k)
        if strategy not in ("auto", "exact", "ann"):
            raise ConfigError(f"strategy must be 'auto', 'exact' or 'ann', got {strategy!r}")
        query, norm = check_query(vector, self.dim)
        spec = FilterSpec.of(filters)
        with self._reading() as (conn, snapshot):
            columns = snapshot.columns(conn)
            mask = columns.mask(spec)
            count = columns.n if mask is None else int(np.count_nonzero(mask))
            if count == 0:
                return []
            k = min(k, count)
            found = None
            if strategy == "ann" or (strategy == "auto" and self._ann_worth_it(columns, count)):
                found = self._approximate(conn, snapshot, columns, query, k, mask, strategy)
            if found is None:
                found = exact_dense(snapshot.matrix(conn), query, k, mask)
            rows, scores = found
            return self._hits(conn, columns, rows, scores / norm)

    def _approximate(
        self,
        conn: sqlite3.Connection,
        snapshot: Snapshot,
        columns: Columns,
        query: np.ndarray,
        k: int,
        mask: np.ndarray | None,
        strategy: Strategy,
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """The HNSW answer, or ``None`` when there is no usable graph (and ``strategy``
        is not "ann") or the walk found fewer than ``k`` matching rows."""
        count = columns.n if mask is None else int(np.count_nonzero(mask))
        index = snapshot.hnsw(
            conn, build=strategy == "ann", m=self.hnsw_m, ef_construction=self.ef_construction
        )
        if index is None:
            return None
        # Deeper lists need a longer candidate list, and a filter (or deleted rows still
        # in the graph) hides paths: on 100k vectors ef=128 gave recall@10 0.96
        # unfiltered but 0.946 with half the rows filtered out, so ef grows as the
        # allowed share of the graph shrinks.
        ef = int(max(self.ef_search, 4 * k) / np.sqrt(count / index.size))
        if mask is None and index.dead == 0:
            allowed = None
        else:
            allowed = columns.rowids if mask is None else columns.rowids[mask]
        rowids, scores = index.search(query, k, allowed, ef)
        rows = np.searchsorted(columns.rowids, rowids)
        if len(rows) < k or not np.array_equal(columns.rowids[rows % columns.n], rowids):
            return None  # too few found (or, impossibly, a row of another generation)
        return rows, scores

    def search_exact(
        self, vector: np.ndarray, k: int, filters: Filters | None = None
    ) -> list[ScoredChunk]:
        """Exact dense search (the reference an ANN answer is measured against)."""
        return self.dense_search(vector, k, filters, strategy="exact")

    def lexical_search(
        self, query: str, k: int, filters: Filters | None = None
    ) -> list[ScoredChunk]:
        """BM25 over title, section headings and text; only chunks holding at least one
        query term are returned, and a query with no indexable term returns []."""
        check_k(k)
        spec = FilterSpec.of(filters)
        with self._reading() as (conn, snapshot):
            columns = snapshot.columns(conn)
            mask = columns.mask(spec)
            if mask is not None and not mask.any():
                return []
            term_ids = _sqlite.lookup_terms(conn, tokenize(query))
            if not term_ids:
                return []
            rows, scores = snapshot.lexical(conn).search(term_ids, k, mask)
            return self._hits(conn, columns, rows, scores)

    def build_index(self, *, ann: bool | None = None) -> None:
        """Build (or load) every search structure of the current state now, so the next
        query does not pay for it: filter columns, vector matrix, BM25 and, when the store
        holds more than ``ann_threshold`` vectors (or ``ann=True``), the HNSW graph
        (updated from the previous one when it can be). Call it after an ingest."""
        with self._reading() as (conn, snapshot):
            columns = snapshot.columns(conn)
            snapshot.matrix(conn)
            snapshot.lexical(conn)
            wanted = ann if ann is not None else columns.n > self.ann_threshold
            if wanted and columns.n > 0:
                snapshot.hnsw(conn, build=True, m=self.hnsw_m, ef_construction=self.ef_construction)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            self._snapshot = None

    # Internals ----------------------------------------------------------------------

    def _ann_worth_it(self, columns: Columns, count: int) -> bool:
        return columns.n > self.ann_threshold and count >= self.ann_min_fraction * columns.n

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise ConfigError(f"the knowledge base at {self.path} is closed; open it again")
        return self._conn

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._connection()
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    raise UnavailableError(
                        f"the knowledge base at {self.path} is locked by another writer "
                        "(an ingest still running?); retry when it has finished"
                    ) from exc
                raise

    @contextmanager
    def _reading(self) -> Iterator[tuple[sqlite3.Connection, Snapshot]]:
        """A read transaction and the search structures of the generation it sees."""
        with self._lock:
            conn = self._connection()
            with _sqlite.transaction(conn):
                stamp = f"{self._store_id}.{_sqlite.generation(conn)}"
                if self._snapshot is None or self._snapshot.stamp != stamp:
                    self._snapshot = Snapshot(self.path / "cache", stamp, self.dim)
                yield conn, self._snapshot

    @staticmethod
    def _hits(
        conn: sqlite3.Connection, columns: Columns, rows: np.ndarray, scores: np.ndarray
    ) -> list[ScoredChunk]:
        rowids = columns.rowids[rows].tolist()
        chunks = _sqlite.fetch_chunks(conn, rowids)
        return [
            ScoredChunk(chunks[rowid], float(score))
            for rowid, score in zip(rowids, scores.tolist(), strict=True)
        ]
