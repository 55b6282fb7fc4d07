"""What every store backend shares: input validation, time encoding, filter lowering.

Times are stored as integer microseconds since the Unix epoch (UTC), so comparisons in
SQL, numpy and Weaviate agree exactly with ``Filters.matches`` on aware datetimes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from core.errors import ConfigError, DataError
from rag_index.types import Chunk, DocumentRecord, Filters

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)
# Stored vectors must be unit length (the embedder normalises); this much drift is float
# noise or a half-precision model, more is a caller that forgot to normalise.
NORM_TOLERANCE = 1e-2


def to_micros(value: datetime | None, *, what: str = "published_at") -> int | None:
    if value is None:
        return None
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise DataError(
            f"{what} {value.isoformat()} has no timezone; pass an aware UTC datetime "
            "(e.g. datetime(..., tzinfo=UTC))"
        )
    return (value - _EPOCH) // _MICRO


def from_micros(value: int | None) -> datetime | None:
    return None if value is None else _EPOCH + timedelta(microseconds=int(value))


def check_upsert(
    document: DocumentRecord, chunks: Sequence[Chunk], vectors: np.ndarray, dim: int
) -> np.ndarray:
    """Refuse an inconsistent upsert before anything is written; return the vectors as a
    C-contiguous float32 ``(len(chunks), dim)`` array."""
    where = f"document {document.doc_id!r} (collection {document.collection!r})"
    if document.n_chunks != len(chunks):
        raise DataError(
            f"{where} says n_chunks={document.n_chunks} but {len(chunks)} chunks were given; "
            "build the DocumentRecord from the chunk list you upsert"
        )
    to_micros(document.published_at, what=f"{where} published_at")
    seen: set[str] = set()
    for chunk in chunks:
        if chunk.doc_id != document.doc_id or chunk.collection != document.collection:
            raise DataError(
                f"chunk {chunk.chunk_id!r} belongs to document {chunk.doc_id!r} in collection "
                f"{chunk.collection!r}, not to {where}; upsert each document's own chunks"
            )
        if chunk.chunk_id in seen:
            raise DataError(f"{where} lists chunk {chunk.chunk_id!r} twice; chunk ids are unique")
        seen.add(chunk.chunk_id)
        to_micros(chunk.published_at, what=f"chunk {chunk.chunk_id!r} published_at")
    return check_vectors(vectors, len(chunks), dim, where=where)


def check_vectors(vectors: np.ndarray, n: int, dim: int, *, where: str) -> np.ndarray:
    try:
        array = np.asarray(vectors, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{where}: vectors are not a float32-castable array ({exc})") from exc
    if n == 0 and array.size == 0:
        return np.zeros((0, dim), dtype=np.float32)
    if array.shape != (n, dim):
        raise DataError(
            f"{where}: vectors have shape {array.shape} but {n} chunks of a {dim}-dimensional "
            f"store need ({n}, {dim}); embed exactly the chunks you upsert, with the store's model"
        )
    if not np.isfinite(array).all():
        raise DataError(f"{where}: vectors contain NaN or infinity; re-embed the document")
    norms = np.linalg.norm(array, axis=1)
    if n and np.abs(norms - 1.0).max() > NORM_TOLERANCE:
        worst = float(norms[np.argmax(np.abs(norms - 1.0))])
        raise DataError(
            f"{where}: vectors must be L2-normalised (cosine similarity is a dot product "
            f"here) but one has norm {worst:.4g}; normalise them, as the Embedder does"
        )
    return np.ascontiguousarray(array)


def check_query(vector: np.ndarray, dim: int) -> tuple[np.ndarray, float]:
    """The query as a float32 ``(dim,)`` vector and its norm (scores divide by it, so they
    are cosines whatever the query's length)."""
    array = np.asarray(vector, dtype=np.float32)
    if array.ndim == 2 and array.shape[0] == 1:
        array = array[0]
    if array.shape != (dim,):
        raise ConfigError(
            f"query vector has shape {np.shape(vector)}, expected ({dim},): embed the query "
            "with the same model the store was built with"
        )
    if not np.isfinite(array).all():
        raise ConfigError("query vector contains NaN or infinity")
    norm = float(np.linalg.norm(array))
    if norm == 0.0:
        raise ConfigError(
            "query vector is all zeros, so it has no direction to rank by; embed a non-empty query"
        )
    return np.ascontiguousarray(array), norm


def check_k(k: int) -> None:
    if k < 1:
        raise ConfigError(f"k must be >= 1, got {k}")


@dataclass(frozen=True)
class FilterSpec:
    """``Filters`` lowered to what an index can test: upper-cased ticker and form sets,
    and one inclusive microsecond range (``as_of`` and ``end`` are both upper bounds)."""

    collection: str | None
    tickers: tuple[str, ...]
    forms: tuple[str, ...]
    lower: int | None
    upper: int | None
    dated: bool

    @classmethod
    def of(cls, filters: Filters | None) -> FilterSpec:
        filters = filters or Filters()
        uppers = [
            v
            for v in (
                _filter_micros(filters.as_of, "as_of"),
                _filter_micros(filters.end, "end"),
            )
            if v is not None
        ]
        lower = _filter_micros(filters.start, "start")
        return cls(
            collection=filters.collection,
            tickers=tuple(sorted({t.upper() for t in filters.tickers})),
            forms=tuple(sorted({f.upper() for f in filters.forms})),
            lower=lower,
            upper=min(uppers) if uppers else None,
            dated=bool(uppers) or lower is not None,
        )


def _filter_micros(value: datetime | None, name: str) -> int | None:
    try:
        return to_micros(value, what=f"filter {name}")
    except DataError as exc:
        raise ConfigError(str(exc)) from None


def document_metadata(document: DocumentRecord) -> dict[str, Any]:
    """A document's descriptive fields as JSON-ready values (times in microseconds):
    what every backend stores beside its identity, version and chunk count."""
    meta: dict[str, Any] = {
        "source": document.source,
        "kind": document.kind,
        "title": document.title,
        "tickers": list(document.tickers),
        "company": document.company,
        "form": document.form,
        "fiscal_period": document.fiscal_period,
        "published_at": to_micros(document.published_at),
        "url": document.url,
        "metadata_sources": dict(document.metadata_sources),
    }
    # Only paginated documents carry it, so records written before it stay equal.
    if document.pages:
        meta["pages"] = document.pages
        meta["outline"] = [[list(path), page] for path, page in document.outline]
    return meta


def document_from_metadata(
    meta: dict[str, Any],
    *,
    doc_id: str,
    collection: str,
    sha256: str,
    n_chunks: int,
    missing: Sequence[str],
) -> DocumentRecord:
    """The inverse of ``document_metadata``, given the identity fields."""
    return DocumentRecord(
        doc_id=doc_id,
        collection=collection,
        source=meta["source"],
        kind=meta["kind"],
        sha256=sha256,
        title=meta["title"],
        tickers=tuple(meta["tickers"]),
        company=meta["company"],
        form=meta["form"],
        fiscal_period=meta["fiscal_period"],
        published_at=from_micros(meta["published_at"]),
        url=meta["url"],
        n_chunks=int(n_chunks),
        missing=tuple(missing),
        # Absent from records written before provenance was kept: nothing is known of it.
        metadata_sources=dict(meta.get("metadata_sources") or {}),
        pages=int(meta.get("pages") or 0),
        outline=tuple((tuple(path), int(page)) for path, page in meta.get("outline") or ()),
    )


def pages_to_json(chunk: Chunk) -> str:
    """A chunk's pages as stored: ``[[page, start], ...]`` (``[]`` without pages)."""
    return json.dumps([[p, s] for p, s in zip(chunk.pages, chunk.page_starts, strict=True)])


def pages_from_json(value: str) -> dict[str, tuple[int, ...]]:
    """The ``Chunk`` fields ``pages_to_json`` wrote (empty for passages stored before)."""
    pairs = json.loads(value)
    return {
        "pages": tuple(int(p) for p, _ in pairs),
        "page_starts": tuple(int(s) for _, s in pairs),
    }
