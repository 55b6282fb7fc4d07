"""How Tiller's chunks and documents look inside Weaviate: collection definitions,
property mapping both ways, and ``Filters`` lowered to Weaviate filters.

Chunks keep searchable copies of what filters test: ``tickers_upper`` / ``form_upper``
(keyword tokenization, so matching is exact and case-insensitive), ``published_us``
(integer microseconds, range-indexed) and ``dated`` (Weaviate has no null, so "unknown
date" is an explicit flag). Everything else is stored unindexed to rebuild the ``Chunk``.
"""

from __future__ import annotations

import json
from typing import Any

from rag_index._records import (
    FilterSpec,
    document_from_metadata,
    document_metadata,
    from_micros,
    pages_from_json,
    pages_to_json,
    to_micros,
)
from rag_index.types import Chunk, DocumentRecord

SCHEMA = 1
VECTOR = "default"  # the one named vector of the chunk collection
SEARCHABLE = ["text", "headings"]  # what BM25 reads: the passage, its title and headings


def where_filter(spec: FilterSpec) -> Any:
    """``FilterSpec`` as a Weaviate filter (``None`` when nothing is restricted)."""
    from weaviate.classes.query import Filter

    parts = []
    if spec.collection is not None:
        parts.append(Filter.by_property("collection").equal(spec.collection))
    if spec.tickers:
        parts.append(Filter.by_property("tickers_upper").contains_any(list(spec.tickers)))
    if spec.forms:
        parts.append(Filter.by_property("form_upper").contains_any(list(spec.forms)))
    if spec.dated:
        parts.append(Filter.by_property("dated").equal(True))
    if spec.lower is not None:
        parts.append(Filter.by_property("published_us").greater_or_equal(spec.lower))
    if spec.upper is not None:
        parts.append(Filter.by_property("published_us").less_or_equal(spec.upper))
    return Filter.all_of(parts) if parts else None


def create_arguments(name: str, dim: int, *, chunks: bool) -> dict[str, Any]:
    """``collections.create`` keyword arguments of the chunk or the document collection.
    Vectors are self-provided (no server-side vectorizer); chunks get a cosine HNSW index.
    The description records the schema and dimension, checked on every open."""
    from weaviate.classes.config import Configure, VectorDistances

    index = Configure.VectorIndex.hnsw(distance_metric=VectorDistances.COSINE) if chunks else None
    return {
        "name": name,
        "description": f"Tiller knowledge base tiller-schema={SCHEMA} dim={dim}",
        "properties": _chunk_properties() if chunks else _document_properties(),
        "vector_config": Configure.Vectors.self_provided(name=VECTOR, vector_index_config=index),
    }


def _chunk_properties() -> list[Any]:
    from weaviate.classes.config import DataType, Property, Tokenization

    def keyword(name: str, data_type: DataType = DataType.TEXT) -> Property:
        return Property(
            name=name, data_type=data_type, tokenization=Tokenization.FIELD, index_searchable=False
        )

    def stored(name: str, data_type: DataType) -> Property:
        return Property(
            name=name, data_type=data_type, index_filterable=False, index_searchable=False
        )

    return [
        keyword("chunk_id"),
        keyword("doc_id"),
        keyword("collection"),
        keyword("write_id"),
        keyword("tickers_upper", DataType.TEXT_ARRAY),
        keyword("form_upper"),
        Property(name="dated", data_type=DataType.BOOL),
        Property(name="published_us", data_type=DataType.INT, index_range_filters=True),
        Property(name="text", data_type=DataType.TEXT, tokenization=Tokenization.WORD),
        Property(name="headings", data_type=DataType.TEXT, tokenization=Tokenization.WORD),
        stored("ordinal", DataType.INT),
        stored("char_start", DataType.INT),
        stored("char_end", DataType.INT),
        stored("section", DataType.TEXT_ARRAY),
        stored("title", DataType.TEXT),
        stored("tickers", DataType.TEXT_ARRAY),
        stored("form", DataType.TEXT),
        stored("source", DataType.TEXT),
        stored("kind", DataType.TEXT),
        stored("metadata_sources", DataType.TEXT),  # JSON, added after schema 1 shipped
        stored("pages", DataType.TEXT),  # JSON list of page numbers, added later still
    ]


def _document_properties() -> list[Any]:
    from weaviate.classes.config import DataType, Property, Tokenization

    return [
        Property(name="collection", data_type=DataType.TEXT, tokenization=Tokenization.FIELD),
        Property(
            name="record", data_type=DataType.TEXT, index_filterable=False, index_searchable=False
        ),
    ]


def chunk_to_properties(chunk: Chunk, write_id: str) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "chunk_id": chunk.chunk_id,
        "doc_id": chunk.doc_id,
        "collection": chunk.collection,
        "write_id": write_id,
        "tickers_upper": sorted({t.upper() for t in chunk.tickers}),
        "dated": chunk.published_at is not None,
        "text": chunk.text,
        "headings": " ".join(part for part in (chunk.title, *chunk.section) if part),
        "ordinal": chunk.ordinal,
        "char_start": chunk.start,
        "char_end": chunk.end,
        "section": list(chunk.section),
        "tickers": list(chunk.tickers),
        "source": chunk.source,
        "kind": chunk.kind,
        "metadata_sources": json.dumps(chunk.metadata_sources),
        "pages": pages_to_json(chunk),
    }
    # Weaviate has no null: an absent property is how "unknown" is stored.
    if chunk.form is not None:
        properties["form"] = chunk.form
        properties["form_upper"] = chunk.form.upper()
    if chunk.title is not None:
        properties["title"] = chunk.title
    if chunk.published_at is not None:
        properties["published_us"] = to_micros(chunk.published_at)
    return properties


def chunk_from_properties(p: dict[str, Any]) -> Chunk:
    micros = p.get("published_us")
    return Chunk(
        chunk_id=p["chunk_id"],
        doc_id=p["doc_id"],
        collection=p["collection"],
        ordinal=int(p["ordinal"]),
        text=p["text"],
        start=int(p["char_start"]),
        end=int(p["char_end"]),
        section=tuple(p.get("section") or ()),
        title=p.get("title"),
        tickers=tuple(p.get("tickers") or ()),
        form=p.get("form"),
        published_at=from_micros(int(micros)) if micros is not None else None,
        source=p["source"],
        kind=p["kind"],
        metadata_sources=json.loads(p.get("metadata_sources") or "{}"),
        **pages_from_json(p.get("pages") or "[]"),
    )


def document_to_properties(document: DocumentRecord) -> dict[str, Any]:
    record = {
        "doc_id": document.doc_id,
        "collection": document.collection,
        "sha256": document.sha256,
        "n_chunks": document.n_chunks,
        "missing": list(document.missing),
        **document_metadata(document),
    }
    return {"collection": document.collection, "record": json.dumps(record, ensure_ascii=False)}


def document_from_properties(p: dict[str, Any]) -> DocumentRecord:
    r = json.loads(p["record"])
    return document_from_metadata(
        r, doc_id=r["doc_id"], collection=r["collection"], sha256=r["sha256"],
        n_chunks=r["n_chunks"], missing=r["missing"],
    )  # fmt: skip
