"""The PDF loader on PDFs written with fpdf2 at test time."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from fpdf import FPDF

from core.errors import DataError
from knowledge_base import load_file, load_path

COVER = [
    "UNITED STATES SECURITIES AND EXCHANGE COMMISSION",
    "FORM 10-K",
    "Acme Widgets, Inc.",
    "(Exact name of registrant as specified in its charter)",
]
TOC = ["TABLE OF CONTENTS", "Item 1. Business 3", "Item 1A. Risk Factors 5"]
BODY = [
    "PART I",
    "Item 1. Business",
    "Acme makes widgets in three plants.",
    "Item 1A. Risk Factors",
    "We depend on a few suppliers for steel.",
    "PART II",
    "Item 7. Management's Discussion and Analysis",
    "Sales rose 5% to $1,234 million.",
]


def write_pdf(path: Path, pages: list[list[str]], *, title: str | None = None) -> Path:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    if title:
        pdf.set_title(title)
    for number, lines in enumerate(pages, start=1):
        pdf.add_page()
        for line in lines:
            pdf.multi_cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
        pdf.multi_cell(0, 6, str(number), new_x="LMARGIN", new_y="NEXT")  # page number
    pdf.output(str(path))
    return path


def test_load_when_pdf_filing_then_items_become_sections(tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "acme-10-k-2025-02-14.pdf", [COVER, TOC, BODY])

    [document] = load_file(path)

    assert [s.path for s in document.sections] == [
        (),
        ("Part I",),
        ("Part I", "Item 1. Business"),
        ("Part I", "Item 1A. Risk Factors"),
        ("Part II",),
        ("Part II", "Item 7. Management's Discussion and Analysis"),
    ]
    risk = document.section_text(document.sections[3])
    assert "suppliers for steel" in risk
    assert "".join(document.section_text(s) for s in document.sections) == document.text


def test_load_when_pdf_filing_then_metadata_from_cover_page_and_file_name(
    tmp_path: Path,
) -> None:
    path = write_pdf(tmp_path / "acme-10-k-2025-02-14.pdf", [COVER, BODY])

    [document] = load_file(path)

    assert document.kind == "filing"
    assert document.company == "Acme Widgets, Inc."
    assert document.form == "10-K"
    assert document.tickers == ("ACME",)
    assert document.published_at == datetime(2025, 2, 14, 22, 30, tzinfo=UTC)
    assert document.title == "Acme Widgets, Inc. 10-K"
    assert document.missing == ("fiscal_period",)


def test_load_when_pdf_has_info_title_then_it_is_the_title(tmp_path: Path) -> None:
    path = write_pdf(
        tmp_path / "report.pdf",
        [["Widget market outlook", "Demand is up."]],
        title="Widget Outlook 2025",
    )

    [document] = load_file(path)

    assert document.title == "Widget Outlook 2025"
    assert document.kind == "document"
    assert document.missing == ("published_at",)


def test_load_when_pages_then_page_numbers_dropped_and_pages_split_by_blank_line(
    tmp_path: Path,
) -> None:
    path = write_pdf(tmp_path / "two.pdf", [["First page text."], ["Second page text."]])

    [document] = load_file(path)

    assert document.text == "First page text.\n\nSecond page text."


def test_load_when_pdf_truncated_then_load_error_says_download_again(tmp_path: Path) -> None:
    whole = write_pdf(tmp_path / "whole.pdf", [COVER, BODY]).read_bytes()
    path = tmp_path / "truncated.pdf"
    path.write_bytes(whole[: len(whole) // 2])

    report = load_path(path)

    assert report.documents == []
    [error] = report.errors
    assert "truncated" in error.error
    assert "download it again" in error.error


def test_load_when_pdf_body_corrupt_then_load_error_not_exception(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.pdf"
    path.write_bytes(b"%PDF-1.4\n" + b"garbage " * 200 + b"\n%%EOF\n")

    with pytest.raises(DataError, match="cannot read the PDF"):
        load_file(path)


def test_load_when_not_a_pdf_then_load_error(tmp_path: Path) -> None:
    path = tmp_path / "fake.pdf"
    path.write_text("<html>not a pdf</html>", encoding="utf-8")

    with pytest.raises(DataError, match="not a PDF"):
        load_file(path)


def test_load_when_pdf_has_no_text_layer_then_load_error_suggests_ocr(tmp_path: Path) -> None:
    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 60, style="F")  # a "scanned" page: drawing, no text
    path = tmp_path / "scan.pdf"
    pdf.output(str(path))

    with pytest.raises(DataError, match="OCR"):
        load_file(path)
