"""What a reader of an answer sees: each cited passage once, no page headers or footers
quoted as if they were sentences, and which metadata rests on a file name alone (kept in
the store, including stores written before Tiller recorded it)."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from rag_index.answer import Answer, Citation, cite_text, sentence_spans
from rag_index.ingest import ingest_path
from rag_index.service import PRIMERS_DIR
from rag_index.stores import LocalStore
from rag_index.types import Chunk, Filters, ScoredChunk, chunk_to_json
from tests.rag_index.store_builders import document, with_vectors

DIM = 16


def _chunk(text: str, n: int = 0, sources: dict[str, str] | None = None) -> Chunk:
    return Chunk(
        chunk_id=f"doc:{n}", doc_id="doc", collection="default", ordinal=n, text=text,
        start=0, end=len(text), section=("Item 7. Results",), title="Acme 10-K",
        tickers=("ACME",), form="10-K", published_at=datetime(2024, 11, 1, tzinfo=UTC),
        source="acme-10-k-2024-11-01.md", kind="filing", metadata_sources=sources or {},
    )  # fmt: skip


def _quotes(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]


def test_sentence_spans_when_a_filing_page_footer_or_header_row_then_it_is_not_quotable() -> None:
    text = (
        "Net sales rose by two percent during the year.\n"
        "Apple Inc. | 2024 Form 10-K | 57\n"
        "Table of Contents | Alphabet Inc.\n"
        "Apple Inc. | Q3 2025 Form 10-Q | 12\n"
        "iPhone net sales | $201,183 | $200,583 | 0.3 %\n"
    )

    quotes = _quotes(text)

    assert quotes == [
        "Net sales rose by two percent during the year.",
        "iPhone net sales | $201,183 | $200,583 | 0.3 %",
    ]


def test_answer_sources_when_two_quotes_come_from_one_passage_then_each_number_is_listed_once() -> (
    None
):
    one, two = _chunk("First. Second.", 0), _chunk("Third.", 1)
    answer = Answer(
        "q",
        "First. [1] Second. [1] Third. [2]",
        "extractive",
        [Citation(1, one, 0, 6, "First."), Citation(1, one, 7, 14, "Second."),
         Citation(2, two, 0, 6, "Third.")],
    )  # fmt: skip

    assert [(c.n, c.chunk.chunk_id) for c in answer.sources()] == [(1, "doc:0"), (2, "doc:1")]


def test_ask_when_its_answer_quotes_two_sentences_of_one_passage_then_that_citation_is_listed_once(
    embedder: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from app.cli import app
    from app.cli._common import out

    primers = tmp_path / "primers"
    primers.mkdir()
    (primers / "stops.md").write_text(STOPS_PRIMER, encoding="utf-8")
    monkeypatch.setattr("rag_index.service.PRIMERS_DIR", primers)
    monkeypatch.setattr("rag_index.service.default_embedder", lambda settings: embedder)
    monkeypatch.setenv("TILLER_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setattr(out, "width", 1_000)  # one line per paragraph

    result = CliRunner().invoke(app, ["ask", "How does a trailing stop work in a backtest?"])

    assert result.exit_code == 0, result.output
    lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
    listed = [line.split("]")[0] + "]" for line in lines if line.startswith("[")]
    assert lines[0].count("[1]") == 2, lines  # two quotes from one passage
    assert listed == ["[1]"], lines


STOPS_PRIMER = """---
title: Protective exits
kind: primer
published_at: 2025-01-15
---

# Trailing stops

A trailing stop in a backtest closes a long position when the price falls a set fraction
below the best price since entry. The best price since entry starts at the entry fill and
moves up with each bar's high, so the trailing stop follows a rising price in the backtest.
"""


def test_cite_text_when_ticker_form_and_date_come_from_the_file_name_then_citation_says_so() -> (
    None
):
    chunk = _chunk(
        "Some text.",
        sources={"title": "document", "tickers": "filename", "form": "filename",
                 "published_at": "filename"},
    )  # fmt: skip

    assert cite_text(chunk).endswith("ticker, form, date from the file name only")
    assert chunk_to_json(ScoredChunk(chunk, 1.0))["from_filename"] == [
        "tickers",
        "form",
        "published_at",
    ]
    assert "file name" not in cite_text(_chunk("Some text.", sources={"form": "document"}))


def test_ingest_when_markdown_named_like_a_filing_then_search_hits_carry_the_file_name_provenance(
    embedder: object, tmp_path: Path
) -> None:
    path = tmp_path / "msft-10-k-2020-01-01.md"
    path.write_text("# Shopping list\n\nEggs, milk and bread for the week.\n", encoding="utf-8")
    store = LocalStore(tmp_path / "kb", embedder.dim)  # type: ignore[attr-defined]

    ingest_path(path, store, embedder)  # type: ignore[arg-type]
    [hit] = store.lexical_search("milk", 5, Filters(forms=("10-K",)))
    [record] = store.documents()
    store.close()

    assert hit.chunk.metadata_sources["form"] == "filename"
    assert "form, date" in cite_text(hit.chunk)
    assert record.metadata_sources["published_at"] == "filename"


def test_form_filter_when_the_bundled_primer_on_reading_10ks_is_ingested_then_it_is_no_10k(
    embedder: object, tmp_path: Path
) -> None:
    store = LocalStore(tmp_path / "kb", embedder.dim)  # type: ignore[attr-defined]
    ingest_path(PRIMERS_DIR / "reading-a-10-k.md", store, embedder, "primers")  # type: ignore[arg-type]

    unfiltered = store.lexical_search("Form 10-K annual report", 5, Filters(None))
    filtered = store.lexical_search("Form 10-K annual report", 5, Filters(None, forms=("10-K",)))
    store.close()

    assert unfiltered and filtered == []


def test_store_when_written_before_provenance_was_kept_then_it_opens_and_reads_it_as_unknown(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(0)
    store = LocalStore(tmp_path / "kb", DIM)
    record, chunks, vectors = with_vectors(rng, document("d1", ["revenue grew"]), DIM)
    store.upsert_document(record, chunks, vectors)
    store.close()
    _make_it_an_old_store(tmp_path / "kb")

    reopened = LocalStore(tmp_path / "kb", DIM)
    [hit] = reopened.lexical_search("revenue", 5)
    [stored] = reopened.documents()
    reopened.upsert_document(record, chunks, vectors)  # and it can still be written
    reopened.close()

    assert hit.chunk.text == "revenue grew" and hit.chunk.metadata_sources == {}
    assert stored.metadata_sources == {}


def test_ingest_when_the_stored_record_predates_provenance_then_the_document_is_ingested_again(
    embedder: object, tmp_path: Path
) -> None:
    path = tmp_path / "acme-10-k-2024-11-01.md"
    path.write_text("# Notes\n\nRevenue grew in every segment this year.\n", encoding="utf-8")
    store = LocalStore(tmp_path / "kb", embedder.dim)  # type: ignore[attr-defined]
    ingest_path(path, store, embedder)  # type: ignore[arg-type]
    store.close()
    _make_it_an_old_store(tmp_path / "kb")
    store = LocalStore(tmp_path / "kb", embedder.dim)  # type: ignore[attr-defined]

    report = ingest_path(path, store, embedder)  # type: ignore[arg-type]
    again = ingest_path(path, store, embedder)  # type: ignore[arg-type]
    [record] = store.documents()
    store.close()

    assert report.replaced == [str(path)] and again.unchanged == [str(path)]
    assert record.metadata_sources["form"] == "filename"


def _make_it_an_old_store(folder: Path) -> None:
    """What a store written before ``metadata_sources`` existed looks like."""
    conn = sqlite3.connect(folder / "kb.sqlite3")
    with conn:
        conn.execute("ALTER TABLE chunks DROP COLUMN metadata_sources")
        for key, metadata in conn.execute("SELECT doc_id, metadata FROM documents").fetchall():
            meta = json.loads(metadata)
            meta.pop("metadata_sources", None)
            conn.execute("UPDATE documents SET metadata=? WHERE doc_id=?", (json.dumps(meta), key))
    conn.close()
