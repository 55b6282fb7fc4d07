"""Ingestion: load → chunk → embed → store, idempotently and one document at a time.

A document whose source bytes are unchanged (same ``sha256``) and whose metadata the
loaders establish as before is skipped without embedding; a changed one has all its
chunks replaced in one store transaction; a file that cannot be loaded is reported and
the rest still go in.

Parsing and embedding overlap: for a folder of several megabytes, a second process loads
the next files (PDF text extraction is pure Python and takes a core) while this one
chunks, embeds and stores the current one. Files still go in in their sorted order.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from core.errors import DataError, NotFoundError
from knowledge_base.document import Document, LoadError, LoadReport, SuppliedMeta
from rag_index._records import document_metadata
from rag_index.chunking import ChunkConfig, chunk_document, embedding_text
from rag_index.types import DEFAULT_COLLECTION, DocumentRecord, Embedder, VectorStore

# progress(done, in all, what was just done): documents when they are loaded up front,
# files when a second process loads them while this one embeds.
Progress = Callable[[int, int, str], None]
# A folder this large is parsed in a second process (smaller ones: the primers on every
# start, a few news files) would wait longer for the process to start than they save).
PARALLEL_MIN_BYTES = 2_000_000
# Files the loading process may be ahead of the embedding one (bounds the memory held).
LOAD_AHEAD = 3
# Passages embedded between two progress reports.
EMBED_SLICE = 64


@runtime_checkable
class PassageProgress(Protocol):
    """A ``Progress`` that also follows passages: ``passages(written, seconds, share)``
    after every slice embedded, ``share`` being the estimated fraction of the whole
    ingest done (by source bytes), for a rate and an ETA."""

    def __call__(self, done: int, total: int, label: str) -> None: ...

    def passages(self, written: int, seconds: float, share: float) -> None: ...


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


class _Tracker:
    """Passages written and the share of the ingest done, for ``PassageProgress``."""

    def __init__(self, progress: Progress | None) -> None:
        self.sink = progress if isinstance(progress, PassageProgress) else None
        self.started = time.perf_counter()
        self.written = 0

    def report(self, share: float) -> None:
        if self.sink is not None:
            seconds = time.perf_counter() - self.started
            self.sink.passages(self.written, seconds, min(1.0, max(0.0, share)))


def _ingest_one(
    document: Document,
    store: VectorStore,
    embedder: Embedder,
    collection: str,
    config: ChunkConfig,
    report: IngestReport,
    tracker: _Tracker,
    shares: tuple[float, float],
) -> None:
    """Chunk, embed and store one document (or note it unchanged, or its error).
    ``shares``: the ingest's share done before and after this document."""
    stored = store.get_document(document.doc_id, collection)
    if stored is not None and _unchanged(stored, document, collection):
        report.unchanged.append(document.source)
        return
    try:
        chunks = chunk_document(document, collection, config)
    except DataError as exc:
        report.errors.append(LoadError(document.source, str(exc)))
        return
    texts = [embedding_text(c) for c in chunks]
    parts = []
    for at in range(0, len(texts), EMBED_SLICE):
        part = embedder.embed(texts[at : at + EMBED_SLICE])
        parts.append(part)
        tracker.written += len(part)
        tracker.report(shares[0] + (shares[1] - shares[0]) * (at + len(part)) / len(texts))
    vectors = np.concatenate(parts) if parts else embedder.embed([])
    record = document_record(document, collection, len(chunks))
    store.upsert_document(record, chunks, vectors)
    report.written.append(record)
    report.chunks += len(chunks)
    (report.replaced if stored is not None else report.added).append(document.source)


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
    tracker = _Tracker(progress)
    n = len(documents)
    # The share done is weighed by text length: one 10-K outweighs a dozen news items.
    total = max(1, sum(len(document.text) for document in documents))
    before = 0
    for done, document in enumerate(documents, start=1):
        label = document.title or document.source
        after = before + len(document.text)
        _ingest_one(
            document, store, embedder, collection, config, report, tracker,
            (before / total, after / total),
        )  # fmt: skip
        before = after
        tracker.report(before / total)
        if progress is not None:
            progress(done, n, label)
    report.seconds += time.perf_counter() - started
    return report


def _loaded_alongside(files: list[Path]) -> Iterator[tuple[Path, LoadReport]]:
    """Each file's load report, in order, loaded by a second process a few files ahead.
    A process that cannot start or dies leaves the remaining files to this one."""
    import multiprocessing

    pending = deque(files)
    flying: deque[tuple[Path, Future[LoadReport]]] = deque()
    # "spawn": a fork of a process running ONNX Runtime's or torch's threads can hang.
    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    broken = False
    try:
        while pending or flying:
            while pending and len(flying) < LOAD_AHEAD and not broken:
                file = pending.popleft()
                flying.append((file, pool.submit(_load, file)))
            if not flying:  # the process is gone: load the rest here
                file = pending.popleft()
                yield file, _load(file)
                continue
            file, future = flying.popleft()
            try:
                loaded = future.result()
            except BrokenProcessPool:
                broken = True
                loaded = _load(file)
            except Exception:  # a document that did not pickle: loaded here instead
                loaded = _load(file)
            yield file, loaded
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _ingest_files(
    files: list[Path],
    store: VectorStore,
    embedder: Embedder,
    collection: str,
    config: ChunkConfig,
    progress: Progress | None,
    supplied: SuppliedMeta | None,
    report: IngestReport,
) -> None:
    from knowledge_base import with_supplied

    sizes = [_size(file) for file in files]
    total = max(1, sum(sizes))
    tracker = _Tracker(progress)
    before = 0
    for done, ((file, loaded), size) in enumerate(
        zip(_loaded_alongside(files), sizes, strict=True), start=1
    ):
        report.errors.extend(loaded.errors)
        documents = loaded.documents
        if supplied is not None:
            documents = [with_supplied(document, supplied) for document in documents]
        n = len(documents)
        for i, document in enumerate(documents):
            _ingest_one(
                document, store, embedder, collection, config, report, tracker,
                ((before + size * i / n) / total, (before + size * (i + 1) / n) / total),
            )  # fmt: skip
        before += size
        tracker.report(before / total)
        if progress is not None:
            label = documents[-1].title or documents[-1].source if documents else str(file)
            progress(done, len(files), label)


def _load(file: Path) -> LoadReport:
    """One file's documents and errors (run in the loading process too): a file that
    vanished since the folder was listed is that file's error, not the ingest's."""
    from knowledge_base import load_path

    try:
        return load_path(file)
    except NotFoundError as exc:
        return LoadReport(errors=[LoadError(str(file), str(exc))])


def _size(file: Path) -> int:
    try:
        return file.stat().st_size
    except OSError:
        return 0


def ingest_path(
    path: Path,
    store: VectorStore,
    embedder: Embedder,
    collection: str = DEFAULT_COLLECTION,
    *,
    config: ChunkConfig = ChunkConfig(),
    progress: Progress | None = None,
    supplied: SuppliedMeta | None = None,
    parallel: bool | None = None,
) -> IngestReport:
    """Ingest a file or a folder. Files that fail to load are in ``report.errors``.
    ``supplied``: metadata a person gives for what the documents do not state.
    ``parallel``: load files in a second process while embedding (None: for a folder of
    at least ``PARALLEL_MIN_BYTES``)."""
    from knowledge_base import load_path, loadable_files, with_supplied

    if not path.exists():
        raise NotFoundError(f"{path}: no such file or folder")
    started = time.perf_counter()
    files = loadable_files(path) if path.is_dir() else [path]
    if parallel is None:
        parallel = len(files) > 1 and sum(_size(f) for f in files) >= PARALLEL_MIN_BYTES
    if parallel and path.is_dir():
        report = IngestReport()
        _ingest_files(files, store, embedder, collection, config, progress, supplied, report)
        report.seconds = time.perf_counter() - started
        return report
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
