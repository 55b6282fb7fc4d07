"""The embedded store's source of truth: one SQLite file (WAL, synchronous=FULL).

Every write runs in one ``BEGIN IMMEDIATE`` transaction and bumps ``generation`` in the
``meta`` table, which is how the in-memory and on-disk search caches know they are stale.
Replacing a document deletes its old chunks and inserts the new ones in the same
transaction, so a crash leaves either the old document or the new one, never a mix.
Each chunk's BM25 terms are tokenised once, on write, and stored as int32 ids into the
``terms`` vocabulary (ids are never reused or renumbered), so rebuilding the lexical
index after a write is a scan of small blobs and one sparse-matrix build.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ConfigError, DataError
from rag_index._records import (
    document_from_metadata,
    document_metadata,
    from_micros,
    pages_from_json,
    pages_to_json,
    to_micros,
)
from rag_index._text import tokenize
from rag_index.types import Chunk, DocumentRecord

SCHEMA_VERSION = 2
DB_NAME = "kb.sqlite3"

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE documents (
    collection TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    n_chunks INTEGER NOT NULL,
    metadata TEXT NOT NULL,
    missing TEXT NOT NULL,
    PRIMARY KEY (collection, doc_id)
) WITHOUT ROWID;
CREATE TABLE chunks (
    rowid INTEGER PRIMARY KEY,
    chunk_id TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    collection TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    text TEXT NOT NULL,
    char_start INTEGER NOT NULL,
    char_end INTEGER NOT NULL,
    section TEXT NOT NULL,
    title TEXT,
    tickers TEXT NOT NULL,
    form TEXT,
    published_at INTEGER,
    source TEXT NOT NULL,
    kind TEXT NOT NULL,
    terms BLOB NOT NULL,
    vector BLOB NOT NULL,
    metadata_sources TEXT NOT NULL DEFAULT '{}',
    pages TEXT NOT NULL DEFAULT '[]',
    UNIQUE (collection, chunk_id)
);
CREATE INDEX chunks_by_document ON chunks (collection, doc_id);
CREATE TABLE terms (id INTEGER PRIMARY KEY, term TEXT NOT NULL UNIQUE);
"""
_CHUNK_COLUMNS = (
    "rowid, chunk_id, doc_id, collection, ordinal, text, char_start, char_end, section, "
    "title, tickers, form, published_at, source, kind, metadata_sources, pages"
)
# Columns added to a schema version after its stores were first written: an older store
# gets them (with their default) when it is opened, and older Tillers ignore them.
_ADDED_COLUMNS = {
    ("chunks", "metadata_sources"): "TEXT NOT NULL DEFAULT '{}'",
    ("chunks", "pages"): "TEXT NOT NULL DEFAULT '[]'",
}
Upsert = tuple[DocumentRecord, Sequence[Chunk], np.ndarray]


def connect(folder: Path, dim: int) -> tuple[sqlite3.Connection, str]:
    """Open (creating if needed) the store in ``folder``; return the connection and the
    store's random id (cache stamps include it, so a recreated file never reuses a cache)."""
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{folder} is a file; the knowledge base needs a folder there")
    folder.mkdir(parents=True, exist_ok=True)
    file = folder / DB_NAME
    conn = sqlite3.connect(file, isolation_level=None, check_same_thread=False, timeout=30.0)
    try:
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        conn.execute("PRAGMA synchronous=FULL")
        with transaction(conn, "IMMEDIATE"):
            store_id = _initialise(conn, folder, dim)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise DataError(
            f"{file} is not a readable knowledge-base database ({exc}); move it aside or "
            f"delete the folder {folder}, then ingest again"
        ) from exc
    except BaseException:
        conn.close()
        raise
    if mode.lower() != "wal":
        conn.close()
        raise ConfigError(f"{file}: SQLite refused WAL mode ({mode}); use a local disk")
    return conn, store_id


def _initialise(conn: sqlite3.Connection, folder: Path, dim: int) -> str:
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'"
    ).fetchone()
    if not exists:
        _create(conn)
        store_id = uuid.uuid4().hex
        conn.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?)",
            [
                ("schema_version", str(SCHEMA_VERSION)),
                ("dim", str(dim)),
                ("store_id", store_id),
                ("generation", "0"),
            ],
        )
        return store_id
    meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    version = int(meta.get("schema_version", "-1"))
    if version != SCHEMA_VERSION:
        raise DataError(
            f"the knowledge base at {folder} has schema version {version} but this Tiller "
            f"reads version {SCHEMA_VERSION}; ingest again into a new folder"
        )
    _add_columns(conn)
    stored = int(meta["dim"])
    if stored != dim:
        raise ConfigError(
            f"the knowledge base at {folder} holds {stored}-dimensional vectors but the "
            f"embedding model gives {dim}: it was built with another model. Use that model "
            f"again (TILLER_EMBEDDING_MODEL), or ingest into a new folder (TILLER_STATE_DIR) "
            f"or after deleting {folder}"
        )
    return meta["store_id"]


def _add_columns(conn: sqlite3.Connection) -> None:
    for (table, column), definition in _ADDED_COLUMNS.items():
        present = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        if column not in present:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")


def _create(conn: sqlite3.Connection) -> None:
    # executescript would COMMIT the surrounding transaction; run statement by statement.
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)


@contextmanager
def transaction(conn: sqlite3.Connection, mode: str = "DEFERRED") -> Iterator[None]:
    conn.execute(f"BEGIN {mode}")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def generation(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0])


def _bump(conn: sqlite3.Connection) -> None:
    conn.execute(
        "UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key='generation'"
    )


def write_documents(conn: sqlite3.Connection, items: Sequence[Upsert]) -> None:
    """Replace each document and its chunks; all of ``items`` commit or none does.
    Inputs must already be validated (``check_upsert``)."""
    if not items:
        return
    # Tokenise before taking the write lock: it is the slow part of a bulk load.
    terms = [[tokenize(lexical_text(chunk)) for chunk in chunks] for _, chunks, _ in items]
    with transaction(conn, "IMMEDIATE"):
        ids = _term_ids(conn, {t for doc in terms for chunk in doc for t in chunk})
        for (document, chunks, vectors), doc_terms in zip(items, terms, strict=True):
            _delete(conn, document.collection, document.doc_id)
            conn.execute("INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?)", _document_row(document))
            blobs = [
                np.array([ids[t] for t in t_list], dtype="<i4").tobytes() for t_list in doc_terms
            ]
            try:
                conn.executemany(
                    f"INSERT INTO chunks ({_CHUNK_COLUMNS}, terms, vector) "
                    "VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (_chunk_row(c, b, v) for c, b, v in zip(chunks, blobs, vectors, strict=True)),
                )
            except sqlite3.IntegrityError as exc:
                raise DataError(
                    f"document {document.doc_id!r}: a chunk id is already used by another "
                    f"document of collection {document.collection!r} ({exc}); chunk ids must "
                    "be unique within a collection"
                ) from exc
        _bump(conn)


def _term_ids(conn: sqlite3.Connection, terms: set[str]) -> dict[str, int]:
    """Ids of ``terms``, adding the new ones to the vocabulary (in the caller's
    transaction, so a rolled-back write adds nothing)."""
    ids: dict[str, int] = {}
    ordered = sorted(terms)
    for at in range(0, len(ordered), 500):
        batch = ordered[at : at + 500]
        marks = ",".join("?" * len(batch))
        ids.update(conn.execute(f"SELECT term, id FROM terms WHERE term IN ({marks})", batch))
    new = [t for t in ordered if t not in ids]
    if new:
        start = conn.execute("SELECT COALESCE(MAX(id), -1) + 1 FROM terms").fetchone()[0]
        ids.update({t: start + i for i, t in enumerate(new)})
        conn.executemany("INSERT INTO terms (term, id) VALUES (?, ?)", ((t, ids[t]) for t in new))
    return ids


def lookup_terms(conn: sqlite3.Connection, terms: Sequence[str]) -> list[int]:
    """Ids of the known ``terms`` (unknown ones cannot match anything)."""
    distinct = sorted(set(terms))[:500]
    if not distinct:
        return []
    marks = ",".join("?" * len(distinct))
    rows = conn.execute(f"SELECT id FROM terms WHERE term IN ({marks})", distinct)
    return [int(term_id) for (term_id,) in rows]


def delete_document(conn: sqlite3.Connection, collection: str, doc_id: str) -> bool:
    with transaction(conn, "IMMEDIATE"):
        existed = _delete(conn, collection, doc_id)
        if existed:
            _bump(conn)
    return existed


def _delete(conn: sqlite3.Connection, collection: str, doc_id: str) -> bool:
    conn.execute("DELETE FROM chunks WHERE collection=? AND doc_id=?", (collection, doc_id))
    cursor = conn.execute(
        "DELETE FROM documents WHERE collection=? AND doc_id=?", (collection, doc_id)
    )
    return cursor.rowcount > 0


def _document_row(document: DocumentRecord) -> tuple[Any, ...]:
    metadata = document_metadata(document)
    return (
        document.collection,
        document.doc_id,
        document.sha256,
        document.n_chunks,
        json.dumps(metadata, ensure_ascii=False),
        json.dumps(list(document.missing), ensure_ascii=False),
    )


def _chunk_row(chunk: Chunk, terms: bytes, vector: np.ndarray) -> tuple[Any, ...]:
    return (
        chunk.chunk_id,
        chunk.doc_id,
        chunk.collection,
        chunk.ordinal,
        chunk.text,
        chunk.start,
        chunk.end,
        json.dumps(list(chunk.section), ensure_ascii=False),
        chunk.title,
        json.dumps(list(chunk.tickers), ensure_ascii=False),
        chunk.form,
        to_micros(chunk.published_at),
        chunk.source,
        chunk.kind,
        json.dumps(chunk.metadata_sources, ensure_ascii=False),
        pages_to_json(chunk),
        terms,
        vector.tobytes(),
    )


def lexical_text(chunk: Chunk) -> str:
    """What BM25 indexes for a chunk: its title, section headings and text."""
    heading = " ".join(part for part in (chunk.title, *chunk.section) if part)
    return f"{heading}\n{chunk.text}" if heading else chunk.text


def _document(row: Sequence[Any]) -> DocumentRecord:
    collection, doc_id, sha256, n_chunks, metadata_json, missing_json = row
    meta = json.loads(metadata_json)
    return document_from_metadata(
        meta, doc_id=doc_id, collection=collection, sha256=sha256, n_chunks=n_chunks,
        missing=json.loads(missing_json),
    )  # fmt: skip


def get_document(conn: sqlite3.Connection, collection: str, doc_id: str) -> DocumentRecord | None:
    row = conn.execute(
        "SELECT * FROM documents WHERE collection=? AND doc_id=?", (collection, doc_id)
    ).fetchone()
    return _document(row) if row else None


def list_documents(conn: sqlite3.Connection, collection: str | None) -> list[DocumentRecord]:
    if collection is None:
        rows = conn.execute("SELECT * FROM documents ORDER BY collection, doc_id")
    else:
        rows = conn.execute(
            "SELECT * FROM documents WHERE collection=? ORDER BY doc_id", (collection,)
        )
    return [_document(row) for row in rows]


def count_chunks(conn: sqlite3.Connection, collection: str | None) -> int:
    if collection is None:
        return int(conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])
    row = conn.execute("SELECT COUNT(*) FROM chunks WHERE collection=?", (collection,))
    return int(row.fetchone()[0])


def _chunk(row: Sequence[Any]) -> Chunk:
    return Chunk(
        chunk_id=row[1],
        doc_id=row[2],
        collection=row[3],
        ordinal=row[4],
        text=row[5],
        start=row[6],
        end=row[7],
        section=tuple(json.loads(row[8])),
        title=row[9],
        tickers=tuple(json.loads(row[10])),
        form=row[11],
        published_at=from_micros(row[12]),
        source=row[13],
        kind=row[14],
        metadata_sources=json.loads(row[15]),
        **pages_from_json(row[16]),
    )


def document_chunks(conn: sqlite3.Connection, collection: str, doc_id: str) -> list[Chunk]:
    query = f"SELECT {_CHUNK_COLUMNS} FROM chunks WHERE collection=? AND doc_id=? ORDER BY ordinal"
    return [_chunk(row) for row in conn.execute(query, (collection, doc_id))]


def fetch_chunks(conn: sqlite3.Connection, rowids: Sequence[int]) -> dict[int, Chunk]:
    found: dict[int, Chunk] = {}
    for at in range(0, len(rowids), 500):
        batch = [int(r) for r in rowids[at : at + 500]]
        marks = ",".join("?" * len(batch))
        query = f"SELECT {_CHUNK_COLUMNS} FROM chunks WHERE rowid IN ({marks})"
        for row in conn.execute(query, batch):
            found[row[0]] = _chunk(row)
    return found


def scan_metadata(conn: sqlite3.Connection) -> list[tuple[int, str, str | None, int | None, str]]:
    """``(rowid, collection, form, published_at, tickers_json)`` of every chunk, by rowid."""
    query = "SELECT rowid, collection, form, published_at, tickers FROM chunks ORDER BY rowid"
    return conn.execute(query).fetchall()


def scan_vectors(conn: sqlite3.Connection, dim: int, n: int) -> np.ndarray:
    matrix = np.empty((n, dim), dtype=np.float32)
    row_bytes = dim * 4
    buffer = matrix.reshape(-1).view(np.uint8)
    i = 0
    for (blob,) in conn.execute("SELECT vector FROM chunks ORDER BY rowid"):
        if len(blob) != row_bytes:
            raise DataError(f"a stored vector has {len(blob)} bytes, expected {row_bytes}")
        buffer[i * row_bytes : (i + 1) * row_bytes] = np.frombuffer(blob, dtype=np.uint8)
        i += 1
    if i != n:
        raise DataError(f"expected {n} stored vectors, read {i}")
    return matrix


def scan_terms(conn: sqlite3.Connection) -> tuple[np.ndarray, np.ndarray, int]:
    """Every chunk's BM25 term ids, by rowid: ``(ids concatenated, count per chunk,
    vocabulary size)``."""
    blobs = [blob for (blob,) in conn.execute("SELECT terms FROM chunks ORDER BY rowid")]
    lengths = np.fromiter((len(b) // 4 for b in blobs), dtype=np.int64, count=len(blobs))
    ids = np.frombuffer(b"".join(blobs), dtype="<i4").astype(np.int32)
    n_terms = conn.execute("SELECT COALESCE(MAX(id), -1) + 1 FROM terms").fetchone()[0]
    return ids, lengths, int(n_terms)
