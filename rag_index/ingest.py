"""Ingestion: load → chunk → embed → store, idempotently and one document at a time.

A document whose source bytes are unchanged (same ``sha256``) and whose metadata the
loaders establish as before is skipped without embedding; a changed one has all its
chunks replaced in one store transaction; a file that cannot be loaded is reported and
the rest still go in.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import DataError, NotFoundError
from knowledge_base.document import Document, LoadError, SuppliedMeta
from rag_index._records import document_metadata
from rag_index.chunking import ChunkConfig, chunk_document, embedding_text
from rag_index.types import DEFAULT_COLLECTION, DocumentRecord, Embedder, VectorStore

# progress(documents done, documents in all, what was just done)
Progress = Callable[[int, int, str], None]


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[LoadError] = field(default_factory=list)
    chunks: int = 0
    seconds: float = 0.0
    # The metadata of each document added or replaced, and where each field came from.
    written: list[DocumentRecord] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "added": self.added,
            "replaced": self.replaced,
            "unchanged": self.unchanged,
            "errors": [{"source": e.source, "error": e.error} for e in self.errors],
            "chunks_written": self.chunks,
            "seconds": round(self.seconds, 3),
            "metadata": [found_metadata(record) for record in self.written],
        }


def found_metadata(record: DocumentRecord) -> dict[str, object]:
    """What ingestion established about a document and where (``metadata_sources``)."""
    return {
        "source": record.source,
        "company": record.company,
        "tickers": list(record.tickers),
        "form": record.form,
        "fiscal_period": record.fiscal_period,
        "published_at": record.published_at.isoformat() if record.published_at else None,
        "pages": record.pages or None,
        "missing": list(record.missing),
        "metadata_sources": dict(record.metadata_sources),
    }


def document_record(document: Document, collection: str, n_chunks: int) -> DocumentRecord:
    return DocumentRecord(
        doc_id=document.doc_id,
        collection=collection,
        source=document.source,
        kind=document.kind,
        sha256=document.sha256,
        title=document.title,
        tickers=document.tickers,
        company=document.company,
        form=document.form,
        fiscal_period=document.fiscal_period,
        published_at=document.published_at,
        url=document.url,
        n_chunks=n_chunks,
        missing=document.missing,
        metadata_sources=dict(document.metadata_sources),
        pages=len(document.page_starts),
        outline=tuple(
            (section.path, document.pages_of(section.start, section.start + 1)[0])
            for section in document.sections
            if section.path and document.page_starts
        ),
    )


def _unchanged(stored: DocumentRecord, document: Document, collection: str) -> bool:
    """The same source bytes *and* the same metadata: a Tiller whose loaders establish
    metadata differently (a primer that is no longer a form, provenance now recorded)
    re-ingests the document rather than keep what the old loader said."""
    if stored.sha256 != document.sha256 or stored.missing != document.missing:
        return False
    fresh = document_record(document, collection, stored.n_chunks)
    return document_metadata(stored) == document_metadata(fresh)


def ingest_documents(
    documents: list[Document],
    store: VectorStore,
    embedder: Embedder,
    collection: str = DEFAULT_COLLECTION,
    *,
    config: ChunkConfig = ChunkConfig(),
    progress: Progress | None = None,
    report: IngestReport | None = None,
) -> IngestReport:
    report = report or IngestReport()
    started = time.perf_counter()
    for done, document in enumerate(documents, start=1):
        label = document.title or document.source
        stored = store.get_document(document.doc_id, collection)
        if stored is not None and _unchanged(stored, document, collection):
            report.unchanged.append(document.source)
        else:
            try:
                chunks = chunk_document(document, collection, config)
            except DataError as exc:
                report.errors.append(LoadError(document.source, str(exc)))
                continue
            vectors = embedder.embed([embedding_text(c) for c in chunks])
            record = document_record(document, collection, len(chunks))
            store.upsert_document(record, chunks, vectors)
            report.written.append(record)
            report.chunks += len(chunks)
            (report.replaced if stored is not None else report.added).append(document.source)
        if progress is not None:
            progress(done, len(documents), label)
    report.seconds += time.perf_counter() - started
    return report


def ingest_path(
    path: Path,
    store: VectorStore,
    embedder: Embedder,
    collection: str = DEFAULT_COLLECTION,
    *,
    config: ChunkConfig = ChunkConfig(),
    progress: Progress | None = None,
    supplied: SuppliedMeta | None = None,
) -> IngestReport:
    """Ingest a file or a folder. Files that fail to load are in ``report.errors``.
    ``supplied``: metadata a person gives for what the documents do not state."""
    from knowledge_base import load_path, with_supplied

    if not path.exists():
        raise NotFoundError(f"{path}: no such file or folder")
    started = time.perf_counter()
    loaded = load_path(path)
    report = IngestReport(errors=list(loaded.errors))
    documents = loaded.documents
    if supplied is not None:
        documents = [with_supplied(document, supplied) for document in documents]
    ingest_documents(
        documents,
        store,
        embedder,
        collection,
        config=config,
        progress=progress,
        report=report,
    )
    report.seconds = time.perf_counter() - started
    return report
