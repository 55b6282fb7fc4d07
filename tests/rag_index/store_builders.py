"""Synthetic documents, chunks and unit vectors for the store tests (no embedding model)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np

from rag_index.types import DEFAULT_COLLECTION, Chunk, DocumentRecord

T0 = datetime(2020, 1, 1, tzinfo=UTC)
TICKERS = ("AAPL", "msft", "NVDA", "BRK.B", "IT")
FORMS = ("10-K", "10-q", "8-K")
WORDS = (
    *("revenue", "margin", "guidance", "outlook", "supply", "chain", "inventory", "risk"),
    *("liquidity", "debt", "segment", "growth", "demand", "pricing", "competition"),
    *("regulation", "litigation", "dividend"),
)

Upsert = tuple[DocumentRecord, list[Chunk], np.ndarray]


def unit_vectors(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def clustered_vectors(
    rng: np.random.Generator, n: int, dim: int, clusters: int = 40, spread: float = 0.35
) -> np.ndarray:
    """Unit vectors around a few centres: the shape real passage embeddings have."""
    centres = unit_vectors(rng, clusters, dim)
    points = centres[rng.integers(0, clusters, n)] + spread * unit_vectors(rng, n, dim)
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)


def document(
    doc_id: str,
    texts: Sequence[str],
    *,
    collection: str = DEFAULT_COLLECTION,
    tickers: tuple[str, ...] = ("AAPL",),
    form: str | None = "10-K",
    published_at: datetime | None = T0,
    sha256: str = "0" * 64,
) -> tuple[DocumentRecord, list[Chunk]]:
    record = DocumentRecord(
        doc_id=doc_id,
        collection=collection,
        source=f"{doc_id}.htm",
        kind="filing",
        sha256=sha256,
        title=f"Filing {doc_id}",
        tickers=tickers,
        company="Example Corp",
        form=form,
        fiscal_period="FY2024",
        published_at=published_at,
        url=f"https://example.test/{doc_id}",
        n_chunks=len(texts),
        missing=("fiscal_period",) if form is None else (),
    )
    chunks = []
    position = 0
    for ordinal, text in enumerate(texts):
        chunks.append(
            Chunk(
                chunk_id=f"{doc_id}:{ordinal}",
                doc_id=doc_id,
                collection=collection,
                ordinal=ordinal,
                text=text,
                start=position,
                end=position + len(text),
                section=("Part I", f"Item {ordinal % 3 + 1}"),
                title=record.title,
                tickers=tickers,
                form=form,
                published_at=published_at,
                source=record.source,
                kind="filing",
            )
        )
        position += len(text) + 1
    return record, chunks


def with_vectors(
    rng: np.random.Generator, built: tuple[DocumentRecord, list[Chunk]], dim: int
) -> Upsert:
    record, chunks = built
    return record, chunks, unit_vectors(rng, len(chunks), dim)


def random_corpus(
    rng: np.random.Generator,
    *,
    n_docs: int,
    chunks_per_doc: int,
    dim: int,
    collections: Sequence[str] = (DEFAULT_COLLECTION, "other"),
) -> list[Upsert]:
    """Documents with varied tickers (mixed case), forms, dates (some unknown) and
    collections; chunk 0 of document ``i`` holds the rare term ``quokka{i}``."""
    corpus = []
    for i in range(n_docs):
        n_tickers = int(rng.integers(0, 3))
        tickers = tuple(rng.choice(TICKERS, n_tickers, replace=False).tolist())
        form = None if rng.random() < 0.15 else str(rng.choice(FORMS))
        published = (
            None if rng.random() < 0.2 else T0 + timedelta(days=int(rng.integers(0, 5 * 365)))
        )
        texts = []
        for j in range(chunks_per_doc):
            words = rng.choice(WORDS, 8).tolist()
            if j == 0:
                words.append(f"quokka{i}")
            texts.append(" ".join(words))
        built = document(
            f"doc{i:04d}",
            texts,
            collection=collections[i % len(collections)],
            tickers=tickers,
            form=form,
            published_at=published,
        )
        corpus.append(with_vectors(rng, built, dim))
    return corpus


def flatten(corpus: Sequence[Upsert]) -> tuple[list[Chunk], np.ndarray]:
    chunks = [c for _, cs, _ in corpus for c in cs]
    vectors = np.concatenate([v for _, _, v in corpus]) if corpus else np.zeros((0, 0))
    return chunks, vectors
