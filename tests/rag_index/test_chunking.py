"""Chunking keeps sections apart and every chunk's span points at its exact text."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import ConfigError
from knowledge_base.document import Document, Section, make_doc_id
from rag_index.chunking import ChunkConfig, chunk_document, count_tokens, embedding_text


def _document(sections: list[tuple[tuple[str, ...], str]]) -> Document:
    text = ""
    spans = []
    for path, body in sections:
        spans.append(Section(path, len(text), len(text) + len(body)))
        text += body
    return Document(
        doc_id=make_doc_id("test"),
        source="test.md",
        kind="filing",
        text=text,
        sections=tuple(spans),
        sha256="0" * 64,
        title="Example Corp 10-K FY2024",
        tickers=("EXM",),
        form="10-K",
        published_at=datetime(2024, 11, 1, tzinfo=UTC),
    )


def _sentences(n: int, word: str) -> str:
    return " ".join(f"The {word} number {i} matters for the business outlook." for i in range(n))


def test_chunk_when_sections_are_long_then_chunks_never_cross_a_section_boundary() -> None:
    document = _document(
        [
            (("Part I", "Item 1A. Risk Factors"), _sentences(80, "risk") + "\n\n"),
            (("Part II", "Item 7. MD&A"), _sentences(80, "revenue")),
        ]
    )

    chunks = chunk_document(document, config=ChunkConfig(chunk_size=64, chunk_overlap=8))

    assert len(chunks) > 4
    boundary = document.sections[1].start
    for chunk in chunks:
        assert chunk.end <= boundary or chunk.start >= boundary
        expected = "risk" if chunk.start < boundary else "revenue"
        assert expected in chunk.text
        assert chunk.section == (
            ("Part I", "Item 1A. Risk Factors")
            if chunk.start < boundary
            else ("Part II", "Item 7. MD&A")
        )


def test_chunk_when_split_then_each_span_is_the_exact_text_and_chunks_are_bounded() -> None:
    document = _document([((), "Intro line.\n\n" + _sentences(120, "margin"))])
    config = ChunkConfig(chunk_size=64, chunk_overlap=8)

    chunks = chunk_document(document, config=config)

    for ordinal, chunk in enumerate(chunks):
        assert document.text[chunk.start : chunk.end] == chunk.text
        assert chunk.ordinal == ordinal
        assert chunk.chunk_id == f"{document.doc_id}:{ordinal}"
        assert len(count_tokens(chunk.text)) <= config.chunk_size
        assert chunk.published_at == document.published_at
        assert chunk.tickers == ("EXM",)
    # Every sentence is in some chunk.
    covered = set()
    for chunk in chunks:
        covered.update(range(chunk.start, chunk.end))
    for i in range(120):
        at = document.text.index(f"number {i} matters")
        assert at in covered


def test_chunk_when_section_is_empty_then_it_yields_no_chunk() -> None:
    document = _document([(("Item 1",), "   \n\n"), (("Item 2",), "Short but real text here.")])

    chunks = chunk_document(document)

    assert [c.section for c in chunks] == [("Item 2",)]
    assert chunks[0].text == "Short but real text here."


def test_embedding_text_when_chunk_has_section_then_title_and_path_prefix_it() -> None:
    document = _document(
        [(("Part I", "Item 1A. Risk Factors"), "Suppliers may fail to deliver parts.")]
    )

    chunk = chunk_document(document)[0]

    assert embedding_text(chunk).startswith(
        "Example Corp 10-K FY2024 > Part I > Item 1A. Risk Factors\n"
    )
    assert embedding_text(chunk).endswith(chunk.text)


def test_chunk_config_when_overlap_too_large_then_config_error() -> None:
    with pytest.raises(ConfigError, match="chunk_overlap"):
        ChunkConfig(chunk_size=64, chunk_overlap=40)


_WORDS = st.sampled_from(
    [
        "Revenue",
        "rose",
        "3.2%",
        "in",
        "Q3;",
        "costs",
        "fell.",
        "|",
        "$",
        "1,024",
        "\n",
        "\n\n",
        "Item",
    ]
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(_WORDS, min_size=0, max_size=300), min_size=1, max_size=4))
def test_chunk_when_text_is_arbitrary_then_spans_are_exact_and_ordered(
    bodies: list[list[str]],
) -> None:
    document = _document([((f"S{i}",), " ".join(words)) for i, words in enumerate(bodies)])

    chunks = chunk_document(document, config=ChunkConfig(chunk_size=32, chunk_overlap=4))

    previous_start = -1
    for chunk in chunks:
        assert document.text[chunk.start : chunk.end] == chunk.text
        assert chunk.text.strip() == chunk.text and chunk.text
        assert chunk.start > previous_start
        previous_start = chunk.start
        section = next(s for s in document.sections if s.path == chunk.section)
        assert section.start <= chunk.start and chunk.end <= section.end


def test_filters_when_time_is_naive_then_config_error_says_add_timezone() -> None:
    from rag_index.types import Filters

    with pytest.raises(ConfigError, match="no timezone"):
        Filters(as_of=datetime(2024, 6, 30))


def test_chunk_when_a_section_holds_one_500000_character_token_then_passages_are_capped() -> None:
    blob = "a" * 500_000
    document = _document([(("Exhibit",), f"Some text before. {blob} and after.")])

    chunks = chunk_document(document)

    assert len(chunks) > 200
    assert max(len(c.text) for c in chunks) <= ChunkConfig().max_chars
    assert "".join(c.text for c in chunks).replace(" ", "") == document.text.replace(" ", "")
    for chunk in chunks:
        assert document.text[chunk.start : chunk.end] == chunk.text


def test_chunk_when_a_long_run_has_spaces_then_the_cap_cuts_at_whitespace() -> None:
    words = " ".join(["x" * 90] * 100)  # 100 "words" of 90 characters: 18 tokens per 1,800
    document = _document([(("Data",), words)])

    chunks = chunk_document(document, config=ChunkConfig(max_chars=1_000))

    assert all(len(c.text) <= 1_000 for c in chunks)
    assert all(c.text.split(" ") == ["x" * 90] * len(c.text.split(" ")) for c in chunks)


def test_chunk_when_a_statement_table_is_longer_than_a_passage_then_no_row_is_cut() -> None:
    labels = (
        "Purchases of marketable securities",
        "Proceeds from maturities of marketable securities",
        "Proceeds from sales of marketable securities",
        "Payments for acquisition of property, plant and equipment",
        "Proceeds from non-marketable securities, net of purchases, and other",
        "Other investing activities, including business acquisitions, net",
    )
    rows = [
        f"{label} (in millions) | 2024: ({i},447) | 2023: ({i + 1},959) | 2022: ({i + 2},708)"
        for i in range(1, 7)
        for label in labels
    ]
    table = "Investing activities:\n" + "\n".join(rows) + "\n"
    document = _document([(("Part II", "Item 8. Financial Statements"), table)])

    chunks = chunk_document(document, config=ChunkConfig(chunk_size=64, chunk_overlap=8))

    assert len(chunks) > 4
    for row in rows:
        start = document.text.index(row)
        holders = [c for c in chunks if c.start <= start and start + len(row) <= c.end]
        assert holders, f"row cut between passages: {row!r}"
    for chunk in chunks:
        assert document.text[chunk.start : chunk.end] == chunk.text
