"""Passages keep their pages through every store, and stores written before pages were
kept still open (their passages simply have none)."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import numpy as np

from rag_index._sqlite import DB_NAME
from rag_index._weaviate_schema import chunk_from_properties, chunk_to_properties
from rag_index.stores import LocalStore
from rag_index.types import Chunk, DocumentRecord, ScoredChunk, chunk_to_json
from tests.rag_index.store_builders import document, unit_vectors

DIM = 8


def paged(doc_id: str) -> tuple[DocumentRecord, list[Chunk]]:
    record, chunks = document(doc_id, ["first passage text", "second passage text"])
    record = dataclasses.replace(record, pages=12)
    chunks = [
        dataclasses.replace(chunks[0], pages=(46, 47), page_starts=(chunks[0].start, 5)),
        dataclasses.replace(chunks[1], pages=(47,), page_starts=(chunks[1].start,)),
    ]
    return record, chunks


def test_embedded_store_when_passages_have_pages_then_they_come_back_with_them(
    tmp_path: Path,
) -> None:
    record, chunks = paged("a")
    with LocalStore(tmp_path / "kb", DIM) as store:
        store.upsert_document(record, chunks, unit_vectors(np.random.default_rng(0), 2, DIM))

        stored = store.chunks_of("a")

    assert [c.pages for c in stored] == [(46, 47), (47,)]
    assert stored[0].pages_at(6, 9) == (47,)
    assert chunk_to_json(store_hit(stored[1]))["page"] == "p. 47"


def store_hit(chunk: Chunk) -> ScoredChunk:
    return ScoredChunk(chunk, 1.0)


def test_embedded_store_written_before_pages_were_kept_then_opens_and_reads_no_pages(
    tmp_path: Path,
) -> None:
    record, chunks = document("a", ["an old passage"])
    with LocalStore(tmp_path / "kb", DIM) as store:
        store.upsert_document(record, chunks, unit_vectors(np.random.default_rng(0), 1, DIM))
    with sqlite3.connect(tmp_path / "kb" / DB_NAME) as conn:  # as an older Tiller wrote it
        conn.execute("ALTER TABLE chunks DROP COLUMN pages")

    with LocalStore(tmp_path / "kb", DIM) as reopened:
        [old] = reopened.chunks_of("a")

    assert old.text == "an old passage" and old.pages == ()
    assert chunk_to_json(store_hit(old))["page"] is None


def test_weaviate_properties_when_passage_has_pages_then_they_round_trip() -> None:
    _, chunks = paged("a")

    assert [chunk_from_properties(chunk_to_properties(c, "w")) for c in chunks] == chunks
