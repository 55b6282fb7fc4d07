"""Markdown (front matter, heading paths, filings in markdown) and plain-text files."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.errors import DataError
from knowledge_base import Document, load_file, load_path

PRIMER = """---
title: "What a 10-K contains"
kind: primer
tickers: [aapl, MSFT]
published_at: 2025-01-15
url: https://example.com/primer
unknown_key: ignored
---

# Annual reports

A 10-K is filed once a year.

## Risk factors

Item 1A lists the risks.

### Supply chain

Suppliers\u200b matter.

## MD&A

Management explains the numbers.
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_load_when_front_matter_then_metadata_read_and_front_matter_not_in_text(
    tmp_path: Path,
) -> None:
    [document] = load_file(write(tmp_path, "ten-k.md", PRIMER))

    assert document.kind == "primer"
    assert document.title == "What a 10-K contains"
    assert document.tickers == ("AAPL", "MSFT")
    assert document.published_at == datetime(2025, 1, 15, tzinfo=UTC)
    assert document.url == "https://example.com/primer"
    assert document.missing == ()
    assert document.text.startswith("# Annual reports")
    assert "kind: primer" not in document.text


def test_load_when_markdown_headings_then_section_paths_nest_by_level(tmp_path: Path) -> None:
    [document] = load_file(write(tmp_path, "ten-k.md", PRIMER))

    assert [s.path for s in document.sections] == [
        ("Annual reports",),
        ("Annual reports", "Risk factors"),
        ("Annual reports", "Risk factors", "Supply chain"),
        ("Annual reports", "MD&A"),
    ]
    supply = document.section_text(document.sections[2])
    assert supply == "### Supply chain\n\nSuppliers matter.\n\n"


def test_load_when_front_matter_has_block_list_then_tickers_read(tmp_path: Path) -> None:
    text = "---\ntickers:\n  - ko\n  - PEP\nkind: document\n---\nCola notes.\n"

    [document] = load_file(write(tmp_path, "cola.md", text))

    assert document.tickers == ("KO", "PEP")
    assert document.text == "Cola notes."


def test_load_when_text_opens_with_thematic_break_then_not_front_matter(tmp_path: Path) -> None:
    [document] = load_file(write(tmp_path, "rule.md", "---\n\n# Title\n\nBody.\n"))

    assert document.text == "---\n\n# Title\n\nBody."
    assert [s.path for s in document.sections] == [(), ("Title",)]


def test_load_when_heading_inside_code_fence_then_not_a_section(tmp_path: Path) -> None:
    text = "# Real\n\n```\n# not a heading\n```\n\nText.\n"

    [document] = load_file(write(tmp_path, "fence.md", text))

    assert [s.path for s in document.sections] == [("Real",)]
    assert "# not a heading" in document.text


def test_load_when_markdown_filing_without_headings_then_items_become_sections(
    tmp_path: Path,
) -> None:
    text = (
        "<div align='center'>FORM 10-K</div>\n\nAcme Widgets, Inc.\n\n"
        "(Exact name of Registrant as specified in its charter)\n\n"
        "| Part I | | |\n| Item 1. | Business | 1 |\n| Item 1A. | Risk Factors | 5 |\n\n"
        "PART I\n\nItem 1.    Business\n\nWe make widgets.\n\n"
        "Item 1A.    Risk Factors\n\n| | | 2024 | | |\n|:--|:--|--:|:--|:--|\n"
        "| Steel | | $ | 1,234 | |\n"
    )

    [document] = load_file(write(tmp_path, "acme-10-k-2025-02-14.md", text))

    assert [s.path for s in document.sections] == [
        (),
        ("Part I",),
        ("Part I", "Item 1. Business"),
        ("Part I", "Item 1A. Risk Factors"),
    ]
    assert document.company == "Acme Widgets, Inc."
    assert document.form == "10-K"
    assert document.tickers == ("ACME",)
    assert document.title == "Acme Widgets, Inc. 10-K"
    assert document.missing == ("fiscal_period",)
    assert "<div" not in document.text
    assert document.text.endswith("2024\nSteel | $1,234")


def test_load_when_plain_text_then_paragraphs_and_item_sections(tmp_path: Path) -> None:
    text = "Intro line.\n\nItem 7. MD&A\nSales rose\nby 5%.\n"

    [document] = load_file(write(tmp_path, "notes.txt", text))

    assert document.text == "Intro line.\n\nItem 7. MD&A\nSales rose\nby 5%."
    assert [s.path for s in document.sections] == [(), ("Item 7. MD&A",)]
    assert document.kind == "document"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("---\ntitle: x\n\n# body\n", "never closed"),
        ("---\npublished_at: 2025-13-45\n---\nbody\n", "not an ISO 8601"),
        ("---\npublished_at: 2025-01-15T10:00:00\n---\nbody\n", "add 'Z'"),
        ("---\nkind: memo\n---\nbody\n", "kind 'memo' is unknown"),
        ("---\ntitle: x\njust words\n---\nbody\n", "not 'key: value'"),
        ("---\ntitle: x\n---\n\n", "no text"),
    ],
)
def test_load_when_front_matter_malformed_then_load_error_says_how_to_fix(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = write(tmp_path, "bad.md", text)

    report = load_path(path)

    assert report.documents == []
    [error] = report.errors
    assert expected in error.error


def test_load_when_not_utf8_then_load_error(tmp_path: Path) -> None:
    path = tmp_path / "latin.md"
    path.write_bytes("caf\xe9".encode("latin-1"))

    with pytest.raises(DataError, match="UTF-8"):
        load_file(path)


def test_load_when_team_primers_then_each_is_a_primer_with_date(tmp_path: Path) -> None:
    primers = Path(__file__).resolve().parents[2] / "knowledge_base" / "primers"
    if not any(primers.glob("*.md")):
        pytest.skip("no primers written yet")

    report = load_path(primers)

    assert report.errors == []
    for document in report.documents:
        assert_primer(document)


def assert_primer(document: Document) -> None:
    assert document.kind == "primer", document.source
    assert document.published_at is not None, document.source
    assert document.title, document.source
