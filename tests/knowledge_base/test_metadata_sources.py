"""Where each metadata field came from: the document's own statements, or only the
file-name convention (``<ticker>-<form>-<YYYY-MM-DD>.<ext>``). What only a file name says
is marked so, and a primer is never a form, whatever its name or text mention."""

from __future__ import annotations

from pathlib import Path

import pytest
from fpdf import FPDF

from core.errors import DataError
from knowledge_base import load_file, load_path

PRIMERS = Path(__file__).resolve().parents[2] / "knowledge_base" / "primers"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_markdown_named_like_a_filing_when_its_text_states_nothing_then_ticker_form_and_date_are_marked_from_the_filename(  # noqa: E501
    tmp_path: Path,
) -> None:
    path = write(tmp_path, "msft-10-k-2020-01-01.md", "# Shopping list\n\nEggs, milk and bread.\n")

    [document] = load_file(path)

    assert (document.tickers, document.form) == (("MSFT",), "10-K")
    assert document.metadata_sources == {
        "title": "document",
        "tickers": "filename",
        "form": "filename",
        "published_at": "filename",
    }


def test_markdown_filing_when_its_cover_page_states_the_form_then_only_ticker_and_date_are_from_the_filename(  # noqa: E501
    tmp_path: Path,
) -> None:
    text = (
        "FORM 10-K\n\nAcme Widgets, Inc.\n\n"
        "(Exact name of registrant as specified in its charter)\n\nAcme makes widgets.\n"
    )
    [document] = load_file(write(tmp_path, "acme-10-k-2025-02-14.md", text))

    assert document.form == "10-K" and document.company == "Acme Widgets, Inc."
    assert document.metadata_sources["form"] == "document"
    assert document.metadata_sources["title"] == "document"
    assert document.metadata_sources["tickers"] == "filename"
    assert document.metadata_sources["published_at"] == "filename"


def test_front_matter_when_it_states_ticker_form_and_date_then_the_filename_is_not_used(
    tmp_path: Path,
) -> None:
    text = (
        "---\nkind: filing\ntickers: [IBM]\nform: 10-Q\npublished_at: 2024-05-01\n---\n\n"
        "# Quarterly report\n\nSales rose.\n"
    )
    [document] = load_file(write(tmp_path, "msft-10-k-2020-01-01.md", text))

    assert (document.tickers, document.form) == (("IBM",), "10-Q")
    assert document.published_at is not None and document.published_at.year == 2024
    assert set(document.metadata_sources.values()) == {"document"}


def test_bundled_primer_about_reading_a_10k_then_it_is_no_form() -> None:
    [document] = load_file(PRIMERS / "reading-a-10-k.md")

    assert document.kind == "primer"
    assert document.form is None
    assert "form" not in document.metadata_sources


def test_primer_when_named_like_a_filing_and_mentioning_forms_then_neither_name_nor_text_gives_it_a_form(  # noqa: E501
    tmp_path: Path,
) -> None:
    text = (
        "---\ntitle: Reading filings\nkind: primer\npublished_at: 2025-01-15\n---\n\n"
        "FORM 10-K\n\nThe Form 10-K is the annual report a company files.\n"
    )
    [document] = load_file(write(tmp_path, "aapl-10-k-2024-11-01.md", text))

    assert (document.kind, document.form, document.tickers) == ("primer", None, ())
    assert document.metadata_sources == {"title": "document", "published_at": "document"}


def test_primer_when_front_matter_gives_it_a_form_then_load_error_says_only_filings_have_one(
    tmp_path: Path,
) -> None:
    text = "---\ntitle: Notes\nkind: primer\nform: 10-K\n---\n\nSome notes on filings.\n"

    with pytest.raises(DataError, match="only a filing has a form"):
        load_file(write(tmp_path, "notes.md", text))


def test_notes_when_a_sentence_mentions_a_form_then_it_is_not_taken_for_a_cover_page(
    tmp_path: Path,
) -> None:
    text = "# My notes\n\nThe Form 10-K is the annual report US companies file with the SEC.\n"

    [document] = load_file(write(tmp_path, "notes.md", text))

    assert (document.kind, document.form) == ("document", None)


def test_html_page_when_only_its_name_follows_the_convention_then_form_and_title_are_marked_from_the_filename(  # noqa: E501
    tmp_path: Path,
) -> None:
    html = (
        "<html><head><title>Widgets</title></head><body>"
        "<div>Acme Widgets, Inc.</div>"
        "<div>(Exact name of registrant as specified in its charter)</div>"
        "<p>Acme makes widgets in three plants.</p></body></html>"
    )
    [document] = load_file(write(tmp_path, "acme-10-k-2025-02-14.html", html))

    assert document.title == "Acme Widgets, Inc. 10-K"
    assert document.metadata_sources == {
        "title": "filename",
        "tickers": "filename",
        "company": "cover page",
        "form": "filename",
        "published_at": "filename",
    }


def test_pdf_filing_then_its_form_is_from_the_cover_page_and_ticker_and_date_the_filenames(
    tmp_path: Path,
) -> None:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    pdf.add_page()
    for line in ("FORM 10-K", "Acme Widgets, Inc.", "(Exact name of registrant)", "Widgets."):
        pdf.multi_cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    path = tmp_path / "acme-10-k-2025-02-14.pdf"
    pdf.output(str(path))

    [document] = load_file(path)

    assert document.metadata_sources["form"] == "cover page"
    assert document.metadata_sources["tickers"] == "filename"
    assert document.metadata_sources["published_at"] == "filename"


def test_news_item_then_every_field_comes_from_the_item(tmp_path: Path) -> None:
    line = (
        '{"id": "n1", "published_at": "2024-11-01T20:31:00Z", "tickers": ["AAPL"], '
        '"title": "Apple beats", "text": "Apple beat estimates.", "url": "https://x.test/1"}\n'
    )
    [document] = load_path(write(tmp_path, "aapl-10-k-2024-11-01.jsonl", line)).documents

    assert document.metadata_sources == {
        "title": "document",
        "tickers": "document",
        "published_at": "document",
        "url": "document",
    }


PLAIN_10K = (
    "<html><body><div>UNITED STATES SECURITIES AND EXCHANGE COMMISSION</div>"
    "<div>FORM 10-K</div>"
    "<div>For the fiscal year ended December 31, 2022</div>"
    "<div>Northwind Traders, Inc.</div>"
    "<div>(Exact name of registrant as specified in its charter)</div>"
    "<div>Securities registered pursuant to Section 12(b) of the Act:</div><table>"
    "<tr><td>Title of each class</td><td>Trading Symbol(s)</td><td>Name of exchange</td></tr>"
    "<tr><td>Common Stock, $0.01 par value</td><td>NWT</td><td>The Nasdaq Stock Market LLC</td>"
    "</tr><tr><td>4.5% Notes due 2030</td><td>NWT30</td><td>New York Stock Exchange</td></tr>"
    "</table><div>Indicate by check mark if the registrant is a well-known seasoned issuer.</div>"
    "<div>Item 1. Business</div><p>Northwind sells groceries.</p>"
    "<div>SIGNATURES</div><p>Pursuant to the requirements of the Securities Exchange Act.</p>"
    "<div>Date: February 24, 2023</div></body></html>"
)


def test_plain_html_10k_then_cover_page_gives_tickers_and_period_and_signature_page_the_date(
    tmp_path: Path,
) -> None:
    # No iXBRL facts: what the PDF loader reads from the same pages, the HTML loader reads.
    [document] = load_file(write(tmp_path, "northwind-annual.html", PLAIN_10K))

    assert (document.tickers, document.fiscal_period) == (("NWT",), "FY2022")
    assert document.published_at is not None
    assert document.published_at.date().isoformat() == "2023-02-24"
    assert document.metadata_sources == {
        "title": "document",
        "tickers": "cover page",
        "company": "cover page",
        "form": "cover page",
        "fiscal_period": "cover page",
        "published_at": "signature page",
    }


def test_html_filing_when_edgar_date_in_name_is_after_the_signature_then_the_edgar_date(
    tmp_path: Path,
) -> None:
    [document] = load_file(write(tmp_path, "nwt-10-k-2023-02-27.html", PLAIN_10K))

    assert document.published_at is not None
    assert document.published_at.date().isoformat() == "2023-02-27"
    assert document.metadata_sources["published_at"] == "filename"
