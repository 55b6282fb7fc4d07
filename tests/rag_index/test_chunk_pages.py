"""Passages keep their pages through every store, and stores written before pages were
kept still open (their passages simply have none)."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import numpy as np
from fpdf import FPDF
from typer.testing import CliRunner

from app.cli import app
from knowledge_base import supplied_meta
from rag_index._sqlite import DB_NAME
from rag_index._weaviate_schema import chunk_from_properties, chunk_to_properties
from rag_index.ingest import ingest_path
from rag_index.stores import LocalStore
from rag_index.types import Chunk, DocumentRecord, Embedder, ScoredChunk, chunk_to_json
from tests.rag_index.store_builders import document, unit_vectors

DIM = 8


def paged(doc_id: str) -> tuple[DocumentRecord, list[Chunk]]:
    record, chunks = document(doc_id, ["first passage text", "second passage text"])
    outline = ((("Part I",), 3), (("Part I", "Item 1. Business"), 3), (("Part II",), 46))
    record = dataclasses.replace(record, pages=12, outline=outline)
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
        stored_record = store.get_document("a")

    assert stored_record is not None and stored_record.outline == record.outline
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


def test_ingest_of_a_pdf_with_supplied_ticker_then_report_shows_what_was_found_and_where(
    tmp_path: Path, embedder: Embedder
) -> None:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    for text in ("Widget demand rose in Europe.", "Gadget demand fell in Asia."):
        pdf.add_page()
        pdf.multi_cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
    path = tmp_path / "notes.pdf"
    pdf.output(str(path))
    supplied = supplied_meta(["acme"], None, "2024-11-01")

    with LocalStore(tmp_path / "kb", embedder.dim) as store:
        report = ingest_path(path, store, embedder, supplied=supplied)
        [chunk] = [c for c in store.chunks_of(report.written[0].doc_id) if "Gadget" in c.text]

    [found] = report.to_json()["metadata"]  # type: ignore[misc]
    assert found["tickers"] == ["ACME"] and found["pages"] == 2
    assert found["metadata_sources"]["tickers"] == "user"
    assert found["metadata_sources"]["published_at"] == "user"
    assert report.written[0].outline == ()  # no headings in these notes
    assert chunk.pages == (1, 2)  # one short passage over both pages
    gadget = chunk.start + chunk.text.index("Gadget")
    assert chunk.pages_at(gadget, gadget + 6) == (2,)


def test_kb_ingest_when_published_at_is_unreadable_then_exit_2_with_the_fix(
    tmp_path: Path,
) -> None:
    (tmp_path / "notes.md").write_text("# Notes\n\nSome text.\n")

    result = CliRunner().invoke(
        app, ["kb", "ingest", str(tmp_path), "--published-at", "1 Nov 2024"]
    )

    assert result.exit_code == 2
    assert "--published-at" in result.stderr and "2024-11-01T14:30:00Z" in result.stderr
