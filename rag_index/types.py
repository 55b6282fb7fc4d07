"""The retrieval layer's contracts: chunks, filters, hits, and the two protocols
(``Embedder``, ``VectorStore``) every backend implements.

A ``Chunk`` carries its document's metadata (denormalised) so a store can filter inside
its search and every hit can be cited without a second lookup. ``start``/``end`` index
into the cleaned ``Document.text``: ``document.text[chunk.start:chunk.end] == chunk.text``.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import numpy as np

from core.errors import ConfigError

DEFAULT_COLLECTION = "default"


@dataclass(frozen=True)
class DocumentRecord:
    """A document as a store knows it (no text): identity, version and metadata."""

    doc_id: str
    collection: str
    source: str
    kind: str
    sha256: str
    title: str | None
    tickers: tuple[str, ...]
    company: str | None
    form: str | None
    fiscal_period: str | None
    published_at: datetime | None
    url: str | None
    n_chunks: int
    missing: tuple[str, ...] = ()
    # field → "document", "cover page", "signature page", "filename" or "user"
    # (``knowledge_base.Document.metadata_sources``);
    # empty for documents ingested before Tiller recorded it.
    metadata_sources: dict[str, str] = field(default_factory=dict, hash=False)
    # The page count of a paginated source (a PDF); 0 otherwise or when ingested before.
    pages: int = 0
    # A paginated source's section outline: (heading path, page it starts on) per section.
    outline: tuple[tuple[tuple[str, ...], int], ...] = field(default=(), hash=False)


@dataclass(frozen=True)
class Chunk:
    """A passage: a span of one document's cleaned text within one section."""

    chunk_id: str
    doc_id: str
    collection: str
    ordinal: int
    text: str
    start: int
    end: int
    section: tuple[str, ...]
    title: str | None
    tickers: tuple[str, ...]
    form: str | None
    published_at: datetime | None
    source: str
    kind: str
    # Where the document's metadata came from, so a citation can say which of its
    # ticker, form and date only a file name states.
    metadata_sources: dict[str, str] = field(default_factory=dict, hash=False)
    # The 1-based pages of a paginated source (a PDF) the passage lies on, and the offset
    # (in the document's text, the first clipped to ``start``) at which each starts; empty
    # when the source has no pages or the passage was indexed before Tiller kept them.
    pages: tuple[int, ...] = ()
    page_starts: tuple[int, ...] = ()

    def pages_at(self, start: int, end: int) -> tuple[int, ...]:
        """The pages of the span ``[start, end)`` of the document's text inside this
        passage (a quoted sentence): what its citation shows."""
        if not self.pages:
            return ()
        first = max(bisect.bisect_right(self.page_starts, start) - 1, 0)
        last = max(bisect.bisect_right(self.page_starts, max(start, end - 1)) - 1, first)
        return self.pages[first : last + 1]


@dataclass(frozen=True)
class Filters:
    """Restrictions applied *inside* a search (never to its results afterwards).

    ``as_of`` keeps only documents published at or before it; a document whose
    publication date is unknown is excluded whenever ``as_of`` is set. ``start``/``end``
    bound ``published_at`` (inclusive) and likewise exclude unknown dates. Tickers and
    forms match case-insensitively; a chunk matches if it shares any listed ticker.
    """

    collection: str | None = DEFAULT_COLLECTION
    tickers: tuple[str, ...] = ()
    forms: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    as_of: datetime | None = None

    def __post_init__(self) -> None:
        for name in ("start", "end", "as_of"):
            value = getattr(self, name)
            if value is not None and (value.tzinfo is None or value.utcoffset() is None):
                raise ConfigError(
                    f"{name} {value.isoformat()} has no timezone: give an aware UTC time "
                    "(e.g. 2024-06-30T00:00:00Z)"
                )

    def matches(self, chunk: Chunk) -> bool:
        """The reference semantics every backend must reproduce (used by tests)."""
        if self.collection is not None and chunk.collection != self.collection:
            return False
        if self.tickers:
            wanted = {t.upper() for t in self.tickers}
            if not wanted & {t.upper() for t in chunk.tickers}:
                return False
        forms = {f.upper() for f in self.forms}
        if forms and (chunk.form is None or chunk.form.upper() not in forms):
            return False
        bounded = self.as_of is not None or self.start is not None or self.end is not None
        if bounded and chunk.published_at is None:
            return False
        published = chunk.published_at
        if self.as_of is not None and published is not None and published > self.as_of:
            return False
        if self.start is not None and published is not None and published < self.start:
            return False
        return not (self.end is not None and published is not None and published > self.end)


@dataclass(frozen=True)
class ScoredChunk:
    chunk: Chunk
    score: float


@runtime_checkable
class Embedder(Protocol):
    """Turns text into L2-normalised float32 vectors of ``dim`` dimensions."""

    name: str

    @property
    def dim(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


@runtime_checkable
class VectorStore(Protocol):
    """Chunks, their vectors and their metadata, searchable densely and lexically.

    Scores: higher is better. ``dense_search`` ranks by cosine similarity (vectors are
    normalised); ``lexical_search`` by BM25. Both apply ``filters`` inside the search, so
    ``k`` results are returned whenever ``k`` chunks match.
    """

    dim: int

    def upsert_document(
        self, document: DocumentRecord, chunks: Sequence[Chunk], vectors: np.ndarray
    ) -> None:
        """Replace everything stored for ``document.doc_id`` atomically."""
        ...

    def delete_document(self, doc_id: str, collection: str = DEFAULT_COLLECTION) -> bool: ...

    def get_document(
        self, doc_id: str, collection: str = DEFAULT_COLLECTION
    ) -> DocumentRecord | None: ...

    def documents(self, collection: str | None = None) -> list[DocumentRecord]: ...

    def count_chunks(self, collection: str | None = None) -> int: ...

    def dense_search(
        self, vector: np.ndarray, k: int, filters: Filters | None = None
    ) -> list[ScoredChunk]: ...

    def lexical_search(
        self, query: str, k: int, filters: Filters | None = None
    ) -> list[ScoredChunk]: ...

    def close(self) -> None: ...


def chunk_to_json(hit: ScoredChunk) -> dict[str, Any]:
    """The JSON shape of one search hit (the CLI's ``--json``)."""
    chunk = hit.chunk
    return {
        "text": chunk.text,
        "score": hit.score,
        "chunk_id": chunk.chunk_id,
        "doc_id": chunk.doc_id,
        "title": chunk.title,
        "ticker": chunk.tickers[0] if chunk.tickers else None,
        "tickers": list(chunk.tickers),
        "form": chunk.form,
        "date": chunk.published_at.isoformat() if chunk.published_at else None,
        "section": " > ".join(chunk.section) if chunk.section else None,
        "section_path": list(chunk.section),
        "pages": list(chunk.pages),
        "page": page_label(chunk.pages),
        "start": chunk.start,
        "end": chunk.end,
        "source": chunk.source,
        "collection": chunk.collection,
        "metadata_sources": dict(chunk.metadata_sources),
        "from_filename": from_filename(chunk),
    }


def page_label(pages: Sequence[int]) -> str | None:
    """ "p. 47" for one page, "pp. 47–48" for a span over several, None without pages."""
    if not pages:
        return None
    return f"p. {pages[0]}" if len(pages) == 1 else f"pp. {pages[0]}–{pages[-1]}"


def from_filename(chunk: Chunk) -> list[str]:
    """The metadata fields of the chunk's document that only its file name states."""
    return [name for name, source in chunk.metadata_sources.items() if source == "filename"]
